"""The one interface validation, mapping and the HTTP operations use to ask terminology questions.

Async because one implementation talks to a remote server over HTTP; the local one answers
without suspending, so the await costs well under a microsecond. Results are plain data
classes: the HTTP layer renders them as FHIR ``Parameters``, validation turns them into
OperationOutcome issues, mapping reads the matches. Errors are ``app.errors`` exceptions:
an unknown system, ValueSet or ConceptMap is ``ResourceNotFound`` (404), a request the
operation cannot run (missing or contradictory inputs) is ``InvalidRequest`` (400), content
that cannot be evaluated (e.g. a ValueSet including a system we do not hold) is
``Unprocessable`` (422).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, get_args

from app.errors import Issue


@dataclass(frozen=True, slots=True)
class Coding:
    system: str
    code: str
    display: str | None = None
    version: str | None = None


@dataclass(frozen=True, slots=True)
class Designation:
    value: str
    language: str | None = None
    use: Coding | None = None


PropertyType = Literal["code", "Coding", "string", "integer", "boolean", "dateTime", "decimal"]


@dataclass(frozen=True, slots=True)
class Property:
    """One concept property, typed as FHIR types it (``value[x]``); parents and children are
    properties ``parent`` / ``child`` of type ``code``."""

    code: str
    type: PropertyType
    value: str | int | bool | float | Coding


@dataclass(frozen=True, slots=True)
class LookupResult:
    name: str
    """The code system's name (CodeSystem.name)."""
    display: str
    version: str | None = None
    abstract: bool = False
    designations: tuple[Designation, ...] = ()
    properties: tuple[Property, ...] = ()


@dataclass(frozen=True, slots=True)
class ValidateCodeResult:
    """``result`` is true only if the code is in the system / value set and any display given
    matches one the concept has. ``issues`` say what was wrong, with a FHIRPath expression
    relative to the input (``Coding.code``, ``CodeableConcept.coding[1].display``)."""

    result: bool
    message: str | None = None
    display: str | None = None
    """The concept's preferred display, when the code was found."""
    system: str | None = None
    code: str | None = None
    version: str | None = None
    issues: tuple[Issue, ...] = ()


Equivalence = Literal[
    "relatedto",
    "equivalent",
    "equal",
    "wider",
    "subsumes",
    "narrower",
    "specializes",
    "inexact",
    "unmatched",
    "disjoint",
]
EQUIVALENCES: frozenset[str] = frozenset(get_args(Equivalence))
"""The R4 ConceptMap equivalence codes, for checking content and remote answers."""


@dataclass(frozen=True, slots=True)
class TranslateMatch:
    equivalence: Equivalence
    concept: Coding | None
    """None for an ``unmatched`` match (the map says explicitly that nothing corresponds)."""
    source: str
    """The ConceptMap's canonical url."""
    comment: str | None = None


@dataclass(frozen=True, slots=True)
class TranslateResult:
    """``result`` is true only if at least one match has a concept and an equivalence other
    than ``unmatched`` / ``disjoint``; otherwise ``message`` says why. Never a pass-through."""

    result: bool
    message: str | None = None
    matches: tuple[TranslateMatch, ...] = ()


SubsumesOutcome = Literal["equivalent", "subsumes", "subsumed-by", "not-subsumed"]


@dataclass(frozen=True, slots=True)
class ExpandRequest:
    url: str | None = None
    """Canonical url of a known ValueSet (optionally ``url|version``)."""
    value_set: dict[str, Any] | None = None
    """Or a ValueSet resource given inline / read from the store (its compose is used)."""
    version: str | None = None
    filter: str | None = None
    """Case-insensitive: every word must start a word of the display (or match the code)."""
    count: int | None = None
    offset: int = 0
    active_only: bool = False
    include_designations: bool = False


@dataclass(frozen=True, slots=True)
class ValidateCodeRequest:
    """Exactly one of ``code`` (with ``system``), ``coding`` or ``codeable_concept``; and for
    ValueSet/$validate-code one of ``url`` / ``value_set``, for CodeSystem/$validate-code one
    of ``system`` (the CodeSystem url) / ``code_system``."""

    url: str | None = None
    value_set: dict[str, Any] | None = None
    code_system: dict[str, Any] | None = None
    code: str | None = None
    system: str | None = None
    system_version: str | None = None
    display: str | None = None
    coding: Coding | None = None
    codeable_concept: tuple[Coding, ...] | None = None
    lenient_display: bool = False
    """A wrong display is then a warning with ``result`` true (default: an error, false)."""


@dataclass(frozen=True, slots=True)
class TranslateRequest:
    code: str | None = None
    system: str | None = None
    version: str | None = None
    coding: Coding | None = None
    codeable_concept: tuple[Coding, ...] | None = None
    url: str | None = None
    """A ConceptMap canonical url; without it every map from ``system`` (and ``source``
    ValueSet) to ``target`` / ``target_system`` is used."""
    concept_map: dict[str, Any] | None = None
    source: str | None = None
    target: str | None = None
    target_system: str | None = None
    reverse: bool = False


@dataclass(frozen=True, slots=True)
class LookupRequest:
    code: str | None = None
    system: str | None = None
    version: str | None = None
    coding: Coding | None = None
    code_system: dict[str, Any] | None = None
    properties: tuple[str, ...] = field(default=())
    """Property codes wanted (``display``, ``designation``, ``parent``, ``child`` or a
    CodeSystem property code); empty means all."""


@dataclass(frozen=True, slots=True)
class SubsumesRequest:
    system: str | None = None
    code_a: str | None = None
    code_b: str | None = None
    coding_a: Coding | None = None
    coding_b: Coding | None = None
    version: str | None = None
    code_system: dict[str, Any] | None = None


class TerminologyService(Protocol):
    async def lookup(self, request: LookupRequest) -> LookupResult: ...

    async def validate_code_in_value_set(self, request: ValidateCodeRequest) -> ValidateCodeResult:
        """ValueSet/$validate-code."""
        ...

    async def validate_code_in_code_system(
        self, request: ValidateCodeRequest
    ) -> ValidateCodeResult:
        """CodeSystem/$validate-code."""
        ...

    async def expand(self, request: ExpandRequest) -> dict[str, Any]:
        """ValueSet/$expand: a ValueSet resource (FHIR JSON) with ``expansion`` filled in
        (identifier, timestamp, total, offset, parameter, contains)."""
        ...

    async def translate(self, request: TranslateRequest) -> TranslateResult: ...

    async def subsumes(self, request: SubsumesRequest) -> SubsumesOutcome: ...

    def knows_value_set(self, url: str) -> bool:
        """Whether ``url`` (optionally ``url|version``) names a ValueSet this service holds."""
        ...

    def knows_code_system(self, url: str) -> bool: ...
