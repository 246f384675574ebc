"""What a token may do: the scope decision for one resource type and interaction, and the
patient compartment a ``patient/`` scope confines it to. Pure apart from the Principal.

A decision is made from the token and the request alone, before any query runs, so a refusal
says nothing about what is stored (no existence oracle). Inside the compartment rules:
- ``patient/`` scopes see the Patient in context (and Patients that ``link`` to it) and the
  resources in its compartment (R4 CompartmentDefinition/patient);
- shared, non-patient types (Organization, Practitioner, terminology, ...) are visible whole;
- every other type outside the compartment looks empty (Bundle, Binary, ...: they may hold
  anybody's data and cannot be attributed to one patient).
``user/`` and ``system/`` scopes are not confined; where both kinds cover a request the
broader one applies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.auth import context
from app.auth.access import Principal
from app.auth.scopes import Grants
from app.errors import Forbidden
from app.search.compartments import compartment_params
from app.search.parameters import parameters_for

LETTER_NAMES = {"c": "create", "r": "read", "u": "update", "d": "delete", "s": "search"}

SHARED_TYPES = frozenset(
    {
        "Organization",
        "Practitioner",
        "PractitionerRole",
        "Location",
        "HealthcareService",
        "Endpoint",
        "Medication",
        "Substance",
        "CodeSystem",
        "ValueSet",
        "ConceptMap",
        "NamingSystem",
        "StructureDefinition",
        "SearchParameter",
        "OperationDefinition",
        "CapabilityStatement",
        "CompartmentDefinition",
        "ImplementationGuide",
        "Measure",
        "Library",
        "PlanDefinition",
        "ActivityDefinition",
        "Questionnaire",
    }
)
"""Types outside the Patient compartment that hold no one patient's data."""

Filters = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Decision:
    patient: str | None
    """The compartment the access is confined to (None: not confined)."""
    filters: tuple[Filters, ...]
    """Granular scope filters: a resource must match one set (empty: no filter)."""
    res_type: str = ""
    letter: str = ""
    """What was decided (empty for ``OPEN``): lets ``require`` reuse the route's decision."""
    open: bool = field(init=False, compare=False)
    """Neither confined nor filtered (a field, not a property: read on every request)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "open", self.patient is None and not self.filters)


OPEN = Decision(None, ())


def forbidden(res_type: str, letter: str) -> Forbidden:
    return Forbidden(
        f"The access token's scopes do not allow {LETTER_NAMES[letter]} on {res_type}",
        expression=(res_type,),
    )


def _filters(rules: list[Any]) -> tuple[Filters, ...]:
    if any(not r.filters for r in rules):
        return ()
    return tuple(r.filters for r in rules)


def decide(principal: Principal, res_type: str, letter: str) -> Decision:
    """The decision for ``letter`` (one of ``cruds``) on ``res_type``; Forbidden if none."""
    if principal.unrestricted:
        return OPEN
    grants = principal.grants
    key = (grants.key or grants.text, principal.patient, res_type, letter)
    found = _DECISIONS.get(key)
    if found is None:
        if len(_DECISIONS) >= _DECISIONS_LIMIT:
            _DECISIONS.clear()
        found = _DECISIONS[key] = _decide(grants, principal.patient, res_type, letter)
    if isinstance(found, Forbidden):
        raise Forbidden(found.diagnostics, expression=found.expression)
    return found


_DECISIONS: dict[tuple[str, str | None, str, str], Decision | Forbidden] = {}
"""Decisions (and refusals) per (scopes, patient, type, letter): a request asks the same
question two or three times (the route, then what it reads), a client's next request again."""
_DECISIONS_LIMIT = 16_384


def _decide(
    grants: Grants, patient: str | None, res_type: str, letter: str
) -> Decision | Forbidden:
    rules = list(grants.rules_for(res_type, letter))
    if not rules:
        return forbidden(res_type, letter)
    broad = [r for r in rules if r.level != "patient"]
    if broad:
        return Decision(None, _filters(broad), res_type, letter)
    if patient is None:
        return Forbidden(
            f"patient/ scopes need a patient in context (the token has none) to "
            f"{LETTER_NAMES[letter]} {res_type}",
            expression=(res_type,),
        )
    return Decision(patient, _filters(rules), res_type, letter)


def require(res_type: str, letter: str) -> Decision:
    """The decision for the request being served (OPEN outside a request).

    The decision its route was admitted with (``app.fhir.door``) is reused for the same type
    and letter: made for the same Principal, it is the one ``decide`` would return."""
    admission = context.admission()
    if admission is None:
        return OPEN
    decided = admission.decision
    if decided is not None and decided.letter == letter and decided.res_type == res_type:
        return decided
    principal = admission.principal
    return OPEN if principal.unrestricted else decide(principal, res_type, letter)


def allowed(res_type: str, letter: str) -> Decision | None:
    """Like ``require``, but None instead of Forbidden (filtering, not refusing)."""
    try:
        return require(res_type, letter)
    except Forbidden:
        return None


def kind(res_type: str) -> str:
    """``self`` (Patient), ``member`` (in the compartment), ``shared`` or ``hidden``."""
    if res_type == "Patient":
        return "self"
    if compartment_params("Patient", res_type):
        return "member"
    return "shared" if res_type in SHARED_TYPES else "hidden"


def in_compartment(res_type: str, resource: dict[str, Any], patient: str) -> bool:
    """Whether ``resource`` (as JSON) is visible to a token confined to ``patient``."""
    found = kind(res_type)
    if found == "shared":
        return True
    if found == "hidden":
        return False
    if found == "self" and resource.get("id") == patient:
        return True
    supported = parameters_for(res_type)
    for code in compartment_params("Patient", res_type):  # only these parameters' paths
        rows = supported[code].extract(resource).get("search_reference", ())
        if any(r[2] == "Patient" and r[3] == patient for r in rows):
            return True
    return False
