"""What the mapping engine reads: one source unit (an HL7 v2 message, a CSV row, a vendor
FHIR resource), addressed by source paths, remembering which parts were read.

Each source kind (``hl7v2``, ``csv``, ``fhir``) implements ``SourceRecord`` so one engine maps
all three; the engine never sees the wire format. Paths are the source's own notation:

- HL7 v2: ``PID-3``, ``PID-3.1``, ``PID-5.2.1`` (field, component, subcomponent), absolute.
  ``each("PR1")`` yields one scope per PR1 segment, ``each("PID-3")`` one per repetition; a
  path inside a scope resolves in that segment or repetition.
- CSV: the column name, exactly as the centre spells it in its header.
- FHIR: a FHIRPath expression relative to the input resource (``identifier.where(system =
  'x').value``).

``unread()`` is the "nothing silently dropped" report: every non-empty part of the input that
no rule read, in the same notation (``ZKC-2``, ``Clinic_Notes``, ``ServiceRequest.note``),
so the engine can compare it with the parts the mapping declares ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class Scope:
    """Where relative reads resolve: which occurrence of which repeating part.

    ``bindings`` maps a repeating part (``"PR1"``, ``"PID-3"``, a FHIRPath) to the chosen
    occurrence, as the record understands it (an index, or a sub-resource for FHIR)."""

    bindings: tuple[tuple[str, Any], ...] = ()

    def bind(self, part: str, occurrence: Any) -> Scope:
        # Scope(...) without the frozen dataclass __init__: a feed binds thousands of scopes.
        scope = object.__new__(Scope)
        object.__setattr__(scope, "bindings", (*self.bindings, (part, occurrence)))
        return scope

    def get(self, part: str) -> Any:
        for key, value in reversed(self.bindings):
            if key == part:
                return value
        return None


ROOT = Scope()


class SourceError(Exception):
    """The input cannot be read at all (not mapping: parsing). ``location`` is the source
    path or position (``MSH-12``, ``line 3``), ``code`` an OperationOutcome issue code."""

    def __init__(self, message: str, location: str = "", code: str = "structure") -> None:
        super().__init__(message)
        self.message = message
        self.location = location
        self.code = code


class SourceRecord(Protocol):
    kind: str
    """``hl7v2``, ``csv`` or ``fhir``."""
    rule_key: str
    """Which block of the mapping applies: the HL7 v2 trigger (``REF^I12``), the CSV file
    kind (``referrals``), the FHIR resource type (``ServiceRequest``)."""
    position: str
    """Where this unit sits in its input, for error messages (``message MSG00112``,
    ``line 14``, ``Bundle.entry[3]``)."""

    def values(self, path: str, scope: Scope = ROOT) -> list[str]:
        """Every non-empty value at ``path`` (all repetitions unless the scope pins one),
        as text, in source order; [] when absent. Marks ``path`` as read. The list may be
        the one a later call returns (reads are cached per record): do not change it."""
        ...

    def items(self, path: str, scope: Scope = ROOT) -> list[Any]:
        """Like ``values`` but as the source holds them: JSON values (objects included) for
        FHIR, the same strings as ``values`` for HL7 v2 and CSV. Marks ``path`` as read."""
        ...

    def each(self, path: str, scope: Scope = ROOT) -> Sequence[Scope]:
        """One scope per occurrence of the repeating part at ``path``."""
        ...

    def unread(self, ignored: Callable[[str], bool] | None = None) -> list[str]:
        """The non-empty parts no ``values`` call read (see module docstring). A part
        ``ignored`` says is ignored may be left out, and so may every part inside it (an
        ignore pattern that matches ``PV1-3`` matches ``PV1-3.2`` too): it saves looking."""
        ...
