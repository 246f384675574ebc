"""The compiled R4 element table, loaded once and linked into objects the walker can chase.

The vendored JSON (built by `scripts/vendor_structure_definitions.py` from the official
snapshots) is turned into `TypeDef`/`ElementDef` objects whose complex children point
straight at their `TypeDef`, so validating an element costs a dict lookup and attribute
reads, never a name resolution. Loading takes about 30 ms and happens on first use (call
`load_definitions()` at start-up to keep it off the first request).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any, Final

import orjson

from app.validation.primitives import Checker, Primitive, make_checker
from app.validation.type_rules import TYPE_RULES, TypeRule

DEFINITIONS_FILE: Final = Path(__file__).parent / "definitions" / "r4-elements.json"
RESOURCE: Final = "Resource"


@dataclass(slots=True, eq=False)
class ElementDef:
    """One JSON property of a type; a choice variant (`valueQuantity`) is its own property."""

    name: str
    min: int
    max: int  # -1 = unbounded
    type_name: str
    choice: str | None
    is_array: bool
    primitive: Primitive | None = None
    # The value check of a primitive element, shared by every element of that type.
    check: Checker | None = None
    complex: TypeDef | None = None
    is_resource: bool = False
    # The FHIRPath step for this property, in the Java validator's style for choices.
    step: str = ""


@dataclass(slots=True, eq=False)
class TypeDef:
    """A complex type, resource or backbone element, keyed by JSON property name."""

    name: str
    elements: dict[str, ElementDef] = field(default_factory=dict)
    # Elements the type forbids (max 0, e.g. SimpleQuantity.comparator), kept out of
    # `elements` so the hot loop never tests for them.
    prohibited: dict[str, ElementDef] = field(default_factory=dict)
    # (FHIRPath step, JSON names any of which satisfies min >= 1, `_name` forms included)
    required: tuple[tuple[str, tuple[str, ...]], ...] = ()
    is_extension: bool = False
    # Extension.extension items (sub-extensions) may use relative urls; others may not.
    is_sub_extension: bool = False
    rule: TypeRule | None = None
    # Whether any whole-object rule applies, so most objects skip that step entirely.
    has_rules: bool = False


@dataclass(frozen=True, slots=True)
class Definitions:
    """The whole R4 table, built once and shared read-only by every validation."""

    about: dict[str, Any]
    primitives: dict[str, Primitive]
    types: dict[str, TypeDef]
    resources: frozenset[str]
    # Per resource type, the top-level JSON properties `_summary=true` keeps.
    summary: dict[str, frozenset[str]] = field(default_factory=dict)

    def resource(self, resource_type: str) -> TypeDef | None:
        """The definition of a concrete R4 resource type, or None (abstract or unknown)."""
        if resource_type in self.resources:
            return self.types[resource_type]
        return None


def _primitive(name: str, raw: dict[str, Any]) -> Primitive:
    regex = raw.get("regex")
    return Primitive(
        name=name,
        json=raw["json"],
        # ASCII: \s and \S as the Java validator and XML Schema read them.
        regex=re.compile(regex, re.ASCII) if regex is not None else None,
        max_length=raw.get("maxLength"),
    )


def _element(prop: str, raw: list[Any], resources: frozenset[str]) -> ElementDef:
    min_, max_, type_name = raw[0], raw[1], raw[2]
    choice = raw[3] if len(raw) > 3 else None
    step = prop
    if choice:
        # Primitives keep their lower-case name (ofType(dateTime)); a profiled type is shown
        # as its base type, which is what the JSON name says (doseQuantity -> Quantity).
        type_code = type_name if type_name[0].islower() else prop[len(choice) :]
        step = f"{choice}.ofType({type_code})"
    return ElementDef(
        name=prop,
        min=min_,
        max=max_,
        type_name=type_name,
        choice=choice,
        is_array=max_ == -1 or max_ > 1,
        # `Resource` (contained, Bundle.entry.resource) or one named resource type
        # (Bundle.entry.response.outcome is an OperationOutcome).
        is_resource=type_name == RESOURCE or type_name in resources,
        step=step,
    )


def _link(types: dict[str, TypeDef], primitives: dict[str, Primitive]) -> None:
    checkers = {name: make_checker(prim) for name, prim in primitives.items()}
    for typedef in types.values():
        required: dict[str, list[str]] = {}
        for el in typedef.elements.values():
            if el.type_name in primitives:
                el.primitive = primitives[el.type_name]
                el.check = checkers[el.type_name]
            elif not el.is_resource:
                el.complex = types[el.type_name]
            if el.min >= 1:
                step = f"{el.choice}[x]" if el.choice else el.name
                required.setdefault(step, []).extend((el.name, f"_{el.name}"))
        typedef.prohibited = {k: v for k, v in typedef.elements.items() if v.max == 0}
        for name in typedef.prohibited:
            del typedef.elements[name]
        typedef.required = tuple((k, tuple(v)) for k, v in required.items())
        typedef.is_extension = typedef.name == "Extension"
        typedef.rule = TYPE_RULES.get(typedef.name)
    for typedef in types.values():
        typedef.has_rules = bool(typedef.required or typedef.is_extension or typedef.rule)
    extension = types["Extension"]
    sub_extension = replace(extension, is_sub_extension=True)  # shares the element dict
    extension.elements["extension"].complex = sub_extension


def parse_definitions(raw: dict[str, Any]) -> Definitions:
    primitives = {name: _primitive(name, spec) for name, spec in raw["primitives"].items()}
    resources = frozenset(raw["resources"])
    types = {
        name: TypeDef(
            name, {prop: _element(prop, spec, resources) for prop, spec in elements.items()}
        )
        for name, elements in raw["types"].items()
    }
    _link(types, primitives)
    summary = {name: frozenset(props) for name, props in raw.get("summary", {}).items()}
    return Definitions(
        about=raw["about"],
        primitives=primitives,
        types=types,
        resources=resources,
        summary=summary,
    )


@cache
def load_definitions() -> Definitions:
    """The shipped R4 table; parsed on first use so importing the package stays cheap."""
    return parse_definitions(orjson.loads(DEFINITIONS_FILE.read_bytes()))
