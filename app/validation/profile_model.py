"""The compiled form of a profile: the element tree `profile_compile.py` builds from a
snapshot and `profile_check.py` walks. Plain data, no behaviour, so both sides share it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from app.validation.profile_invariants import CompiledInvariant

__all__ = [
    "HL7_SD",
    "Binding",
    "CompiledProfile",
    "Discriminator",
    "Node",
    "ProfileLoadError",
    "Slice",
]

HL7_SD: Final = "http://hl7.org/fhir/StructureDefinition/"


class ProfileLoadError(Exception):
    """A StructureDefinition under the profiles directory cannot be compiled."""

    def __init__(self, file: str, element: str | None, message: str) -> None:
        where = f"{file}: {element}" if element else file
        super().__init__(f"{where}: {message}")
        self.file = file
        self.element = element


@dataclass(frozen=True, slots=True)
class Binding:
    strength: str
    value_set: str


@dataclass(frozen=True, slots=True)
class Discriminator:
    """One slicing discriminator resolved for one slice: where to look and what to expect."""

    kind: str  # value | pattern | exists | type
    steps: tuple[str, ...]  # () = $this
    expected: Any


@dataclass(slots=True, eq=False)
class Node:
    """One element of a profile; `children` are keyed by JSON property name (choices by
    their `[x]` name, `value[x]`)."""

    id: str
    name: str
    min: int
    max: int  # -1 = unbounded
    types: tuple[str, ...] = ()
    # JSON property name -> type code, for a choice element (`valueQuantity` -> Quantity).
    choice_keys: dict[str, str] | None = None
    choice_prefix: str = ""
    fixed: Any = None
    pattern: Any = None
    binding: Binding | None = None
    # Allowed reference target resource types; None = not a constrained Reference.
    targets: frozenset[str] | None = None
    target_profiles: tuple[str, ...] = ()
    ext_profile: str | None = None
    ext_root: Node | None = None
    slicing_rules: str | None = None
    slicing_ordered: bool = False
    slicing_paths: tuple[tuple[str, str], ...] = ()
    slices: list[Slice] = field(default_factory=list)
    children: dict[str, Node] = field(default_factory=dict)
    invariants: tuple[CompiledInvariant, ...] = ()
    must_support: bool = False
    # min or max tighter than the base element's: worth visiting for cardinality alone.
    card_rule: bool = False
    # Whether this node or anything under it has a rule; pruned away otherwise.
    active: bool = True
    # Nothing is said of this element when it is absent (no minimum, not must-support, no
    # slices, not a choice), so the walk need not visit it then; set last, by the compiler.
    quiet_absent: bool = False
    # No rule on its values or under them (no slices, fixed or pattern value, binding,
    # target, invariant, extension definition or child): present, only its count matters.
    quiet_present: bool = False


@dataclass(slots=True, eq=False)
class Slice:
    name: str
    node: Node
    discriminators: tuple[Discriminator, ...] = ()


@dataclass(slots=True, eq=False)
class CompiledProfile:
    url: str
    version: str | None
    name: str
    type: str
    kind: str
    file: str
    root: Node
    definition: dict[str, Any]
