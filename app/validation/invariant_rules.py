"""Hand-compiled FHIRPath for the hot invariants: those every resource meets (dom-2..dom-6),
every Reference and Period (ref-1, per-1), every Observation with a value (obs-7), every
Condition (con-3..con-5: each ingested diagnosis) and Appointment (app-2, app-4: each booked
MDT or procedure slot); ~1 ms each through fhirpathpy.

Every DomainResource runs the dom rules and every Reference runs ref-1, so they are plain
Python rather than fhirpathpy calls (~0.1 ms each). Each is keyed by its constraint key and
the exact R4 expression (whitespace-normalised), so a profile that redefines a key with a
different expression is evaluated by fhirpathpy instead. `tests/validation/test_invariants.py`
proves each equal to fhirpathpy on examples; the one deliberate difference is ref-1's
``#`` (a contained resource referring to its container), which R4's expression rejects by
accident and R5's (and the HL7 Java validator) allow.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from typing import Any, Final

import orjson

from app.validation.walk import Node

__all__ = ["HAND_COMPILED", "Check"]

Check = Callable[[Any, Node], bool]
"""``check(value, node)``: False only when the constraint is violated at ``value``."""


def _contained(resource: Any) -> list[dict[str, Any]]:
    contained = resource.get("contained") if type(resource) is dict else None
    if type(contained) is not list:
        return []
    return [c for c in contained if type(c) is dict]


def _strings(value: Any) -> Iterator[str]:
    """Every string anywhere below ``value`` (FHIRPath ``descendants()`` of string types)."""
    if type(value) is str:
        yield value
    elif type(value) is dict:
        for item in value.values():
            yield from _strings(item)
    elif type(value) is list:
        for item in value:
            yield from _strings(item)


def dom_2(resource: Any, _node: Node) -> bool:
    """contained.contained.empty()"""
    return not any(c.get("contained") for c in _contained(resource))


def dom_3(resource: Any, _node: Node) -> bool:
    """Each contained resource with an id is referenced (``#id``) from somewhere in the
    resource, or itself refers to its container (``#``). As in the expression, references
    are any reference/canonical/uri/url string, read here as any string."""
    contained = _contained(resource)
    if not contained:
        return True
    wanted = {f"#{c['id']}" for c in contained if type(c.get("id")) is str}
    if not wanted:
        return True
    seen = {s for s in _strings(resource) if s[:1] == "#"}
    for item in contained:
        rid = item.get("id")
        if type(rid) is str and f"#{rid}" not in seen and "#" not in set(_strings(item)):
            return False
    return True


_VERSION_KEYS: Final = ("versionId", "_versionId", "lastUpdated", "_lastUpdated")


def dom_4(resource: Any, _node: Node) -> bool:
    """contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()"""
    for item in _contained(resource):
        meta = item.get("meta")
        if type(meta) is dict and any(meta.get(k) is not None for k in _VERSION_KEYS):
            return False
    return True


def dom_5(resource: Any, _node: Node) -> bool:
    """contained.meta.security.empty()"""
    for item in _contained(resource):
        meta = item.get("meta")
        if type(meta) is dict and meta.get("security"):
            return False
    return True


def dom_6(resource: Any, _node: Node) -> bool:
    """text.`div`.exists()"""
    text = resource.get("text") if type(resource) is dict else None
    return type(text) is dict and (text.get("div") is not None or text.get("_div") is not None)


def ref_1(reference: Any, node: Node) -> bool:
    """reference.startsWith('#').not() or (reference.substring(1) in %rootResource.contained.id)
    plus R5's fix: a contained resource may refer to its container as ``#``."""
    ref = reference.get("reference") if type(reference) is dict else None
    if type(ref) is not str or ref[:1] != "#":
        return True
    if ref == "#" and node.resource is not node.root:
        return True
    return any(c.get("id") == ref[1:] for c in _contained(node.root))


_DATE_TIME: Final = re.compile(
    r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}(?:\.\d+)?))?"
    r"(Z|[+-]\d{2}:\d{2})?)?)?)?"
)


def _instant_parts(value: str) -> tuple[float, ...] | None:
    """A date/dateTime as comparable parts at its own precision (UTC when it has a time)."""
    match = _DATE_TIME.fullmatch(value)
    if match is None:
        return None
    year, month, day, hour, minute, second, zone = match.groups()
    if hour is None:
        return tuple(float(p) for p in (year, month, day) if p is not None)
    moment = dt.datetime(int(year), int(month), int(day), int(hour), int(minute))
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        moment -= sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
    parts = (moment.year, moment.month, moment.day, moment.hour, moment.minute)
    return tuple(float(p) for p in parts) + ((float(second),) if second else ())


def per_1(period: Any, _node: Node) -> bool:
    """start.hasValue().not() or end.hasValue().not() or (start <= end), with FHIRPath's
    date comparison: values of different precision that agree as far as both go compare as
    empty, which fails the invariant (as in the HL7 Java validator; fhirpathpy 2.2.4 compares
    them as strings instead)."""
    start = period.get("start") if type(period) is dict else None
    end = period.get("end") if type(period) is dict else None
    if type(start) is not str or type(end) is not str:
        return True
    first, last = _instant_parts(start), _instant_parts(end)
    if first is None or last is None:
        return True  # malformed: the structural layer reports it
    for a, b in zip(first, last, strict=False):
        if a != b:
            return a < b
    return len(first) == len(last)


def _frozen(coding: Any) -> bytes:
    return orjson.dumps(coding, option=orjson.OPT_SORT_KEYS)


def _codings(concept: Any) -> list[Any]:
    codings = concept.get("coding") if type(concept) is dict else None
    return codings if type(codings) is list else []


def obs_7(observation: Any, node: Node) -> bool:
    """value.empty() or component.code.where(coding.intersect(%resource.code.coding)
    .exists()).empty(): a component does not repeat the observation's own code when the
    observation has a value. Codings compare as FHIRPath does, every property equal."""
    if type(observation) is not dict or not any(
        k.startswith(("value", "_value")) for k in observation
    ):
        return True
    components = observation.get("component")
    if type(components) is not list:
        return True
    own = {_frozen(c) for c in _codings(node.resource.get("code"))}
    for component in components:
        code = component.get("code") if type(component) is dict else None
        if any(_frozen(c) in own for c in _codings(code)):
            return False
    return True


_VER_STATUS = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"


def _has_coding(concept: Any, system: str, codes: tuple[str, ...]) -> bool:
    return any(
        type(c) is dict and c.get("system") == system and c.get("code") in codes
        for c in _codings(concept)
    )


def _concepts(value: Any) -> list[Any]:
    return value if type(value) is list else [value] if value is not None else []


def con_3(condition: Any, _node: Node) -> bool:
    """A problem-list Condition not entered in error has a clinicalStatus (every centre's
    diagnosis goes through this on ingest, so it is plain Python, not fhirpathpy)."""
    if type(condition) is not dict:
        return True
    verification = condition.get("verificationStatus")
    if verification is None or _has_coding(verification, _VER_STATUS, ("entered-in-error",)):
        return True
    categories = _concepts(condition.get("category"))
    if not any(_has_coding(c, _CATEGORY, ("problem-list-item",)) for c in categories):
        return True
    return condition.get("clinicalStatus") is not None


def con_4(condition: Any, _node: Node) -> bool:
    """An abated Condition is inactive, resolved or in remission."""
    if type(condition) is not dict:
        return True
    if not any(k.startswith(("abatement", "_abatement")) for k in condition):
        return True
    status = condition.get("clinicalStatus")
    return _has_coding(status, _CLINICAL, ("resolved", "remission", "inactive"))


def con_5(condition: Any, _node: Node) -> bool:
    """A Condition entered in error has no clinicalStatus."""
    if type(condition) is not dict:
        return True
    verification = condition.get("verificationStatus")
    if not _has_coding(verification, _VER_STATUS, ("entered-in-error",)):
        return True
    return condition.get("clinicalStatus") is None


def _present(value: Any, name: str) -> bool:
    """FHIRPath ``name.exists()`` on a JSON object: a value, or a primitive's extension."""
    return value.get(name) not in (None, []) or value.get("_" + name) not in (None, [])


def app_2(appointment: Any, _node: Node) -> bool:
    """start and end are both given or both absent (every booked MDT and procedure slot)."""
    if type(appointment) is not dict:
        return True
    return _present(appointment, "start") == _present(appointment, "end")


def app_4(appointment: Any, _node: Node) -> bool:
    """A cancellation reason only on a cancelled or no-show appointment."""
    if type(appointment) is not dict or not _present(appointment, "cancelationReason"):
        return True
    return appointment.get("status") in ("noshow", "cancelled")


def _key(expression: str) -> str:
    return " ".join(expression.split())


DOM_3: Final = (
    "contained.where((('#'+id in (%resource.descendants().reference | "
    "%resource.descendants().as(canonical) | %resource.descendants().as(uri) | "
    "%resource.descendants().as(url))) or descendants().where(reference = '#').exists() or "
    "descendants().where(as(canonical) = '#').exists() or "
    "descendants().where(as(canonical) = '#').exists()).not()).trace('unmatched', id).empty()"
)
REF_1: Final = (
    "reference.startsWith('#').not() or "
    "(reference.substring(1).trace('url') in %rootResource.contained.id.trace('ids'))"
)

CON_3: Final = (
    "verificationStatus.empty().not() and verificationStatus.coding.where(system='"
    + _VER_STATUS
    + "' and code='entered-in-error').exists().not() and category.coding.where(system='"
    + _CATEGORY
    + "' and code='problem-list-item').exists() implies clinicalStatus.empty().not()"
)
CON_4: Final = (
    "abatement.empty() or clinicalStatus.coding.where(system='"
    + _CLINICAL
    + "' and (code='resolved' or code='remission' or code='inactive')).exists()"
)
CON_5: Final = (
    "verificationStatus.coding.where(system='"
    + _VER_STATUS
    + "' and code='entered-in-error').empty() or clinicalStatus.empty()"
)

APP_4: Final = (
    "Appointment.cancelationReason.exists() implies "
    "(Appointment.status='noshow' or Appointment.status='cancelled')"
)

HAND_COMPILED: Final[dict[tuple[str, str], Check]] = {
    ("app-2", "start.exists() = end.exists()"): app_2,
    ("app-4", _key(APP_4)): app_4,
    ("con-3", _key(CON_3)): con_3,
    ("con-4", _key(CON_4)): con_4,
    ("con-5", _key(CON_5)): con_5,
    ("dom-2", "contained.contained.empty()"): dom_2,
    ("dom-3", _key(DOM_3)): dom_3,
    (
        "dom-4",
        "contained.meta.versionId.empty() and contained.meta.lastUpdated.empty()",
    ): dom_4,
    ("dom-5", "contained.meta.security.empty()"): dom_5,
    ("dom-6", "text.`div`.exists()"): dom_6,
    ("ref-1", _key(REF_1)): ref_1,
    ("per-1", "start.hasValue().not() or end.hasValue().not() or (start <= end)"): per_1,
    (
        "obs-7",
        "value.empty() or component.code.where(coding.intersect(%resource.code.coding)"
        ".exists()).empty()",
    ): obs_7,
}
