"""Each stored resource read once into a ``Fact``: what it says about the pathway, when, where.

Kept apart from grouping so the rules about *what a resource means* (which centre, which
stage, does it still count) live in one place and grouping only sees dates and kinds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from app.pathway import codes
from app.pathway.model import STAGE_SYSTEM

LONDON = ZoneInfo("Europe/London")

# Sort order of kinds on the same instant: a referral opens the episode its same-minute
# events join; bookings sort before what they book.
KIND_ORDER = {
    "referral": 0,
    "clinic": 1,
    "echo": 2,
    "mdt": 3,
    "intervention-request": 4,
    "admission": 5,
    "procedure": 6,
    "follow-up": 7,
    "discharge": 8,
}

_DEAD = ("cancelled", "entered-in-error", "revoked", "not-done", "noshow")


@dataclass(slots=True)
class Fact:
    """Not frozen, though never changed: a frozen dataclass sets each field through
    ``object.__setattr__`` (5x the cost of a plain one), and a rebuild makes one Fact per
    stored resource. It holds a dict, so it was never hashable anyway."""

    kind: str
    """referral | clinic | echo | mdt | intervention-request | admission | procedure |
    follow-up | discharge (clinic and echo become follow-up activities after treatment)."""
    ref: str
    at: dt.datetime
    """The instant, for ordering (a date-only value is midnight in London)."""
    day: str
    stage: str
    status: str
    """CarePlan.activity.detail.status the resource stands for."""
    live: bool
    """False when cancelled, revoked, not done or entered in error: it is listed, not counted."""
    centre: str | None
    resource: dict[str, Any]

    @property
    def key(self) -> tuple[dt.datetime, int, str]:
        return (self.at, KIND_ORDER.get(self.kind, 9), self.ref)


def instant(value: Any) -> dt.datetime | None:
    """A FHIR date or dateTime as an aware instant; partial dates take their first day."""
    if not isinstance(value, str) or len(value) < 4:
        return None
    try:
        if "T" not in value:
            parts = [int(p) for p in value.split("-")] + [1, 1]
            return dt.datetime(parts[0], parts[1], parts[2], tzinfo=LONDON)
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=LONDON)


def london_day(at: dt.datetime) -> str:
    return at.astimezone(LONDON).date().isoformat()


def codings(concepts: Any) -> list[dict[str, Any]]:
    """Every Coding of a CodeableConcept or a list of them."""
    items = concepts if isinstance(concepts, list) else [concepts]
    return [c for cc in items if isinstance(cc, dict) for c in cc.get("coding", []) or []]


def code_in(concepts: Any, system: str) -> str | None:
    return next((c.get("code") for c in codings(concepts) if c.get("system") == system), None)


def extension_code(resource: dict[str, Any], url: str) -> str | None:
    for ext in resource.get("extension", []) or []:
        if ext.get("url") == url:
            return next((c.get("code") for c in codings(ext.get("valueCodeableConcept"))), None)
    return None


def centre_of(resource: dict[str, Any]) -> str | None:
    """The centre that recorded a resource. Its own identifier system names the centre
    exactly (three centres share trust RJ1, so Organization references alone cannot); a
    resource without one (King's procedures) falls back to the Organizations it names."""
    for ident in resource.get("identifier", []) or []:
        host = str(ident.get("system", "")).removeprefix("https://").split("/", 1)[0]
        if host in codes.BY_DOMAIN:
            return codes.BY_DOMAIN[host].ods
    refs: list[Any] = [resource.get("serviceProvider")]
    for performer in resource.get("performer", []) or []:
        refs += [performer.get("actor"), performer.get("onBehalfOf"), performer]
    found = [codes.ORGANIZATION_CENTRE.get(r.get("reference", "")) for r in refs if r]
    site = next((c for c in found if c and c in codes.BY_ODS), None)
    return site or next((c for c in found if c), None)


def procedure_modality(resource: dict[str, Any]) -> tuple[str | None, bool | None]:
    """(modality, repair?) from a Procedure's or intervention request's codes and approach."""
    found: tuple[str, bool] | None = None
    opcs = [c.get("code") for c in codings(resource.get("code")) if c.get("system") == codes.OPCS4]
    for c in codings(resource.get("code")):
        if c.get("system") == codes.SNOMED and c.get("code") in codes.SNOMED_PROCEDURE:
            found = codes.SNOMED_PROCEDURE[c["code"]]
            break
    if found is None:
        found = next((codes.OPCS_PROCEDURE[o] for o in opcs if o in codes.OPCS_PROCEDURE), None)
    if found is None:
        return None, None
    modality, repair = found
    approach = extension_code(resource, codes.EXT_APPROACH)
    minimal = any(o in codes.MINIMAL_ACCESS_OPCS for o in opcs)
    if modality == "surgery" and (minimal or approach in codes.MINIMAL_ACCESS_APPROACH):
        modality = "minimal-access-surgery"
    return modality, repair


_ACTIVITY_STATUS = {
    "finished": "completed",
    "fulfilled": "completed",
    "completed": "completed",
    "active": "in-progress",
    "in-progress": "in-progress",
    "arrived": "in-progress",
    "checked-in": "in-progress",
    "planned": "scheduled",
    "booked": "scheduled",
    "pending": "scheduled",
    "proposed": "scheduled",
    "preparation": "scheduled",
    "draft": "not-started",
    "on-hold": "on-hold",
    "stopped": "stopped",
    "revoked": "cancelled",
    "cancelled": "cancelled",
    "noshow": "cancelled",
    "not-done": "cancelled",
    "entered-in-error": "entered-in-error",
}


def _activity_status(status: str | None) -> str:
    return _ACTIVITY_STATUS.get(status or "", "unknown")


def _classify(resource: dict[str, Any]) -> tuple[str, str, Any] | None:
    """(kind, stage, date) of a resource, or None when it says nothing about the pathway."""
    rtype = resource.get("resourceType")
    profiles = (resource.get("meta") or {}).get("profile") or []
    if rtype == "ServiceRequest":
        stages = {
            c.get("code")
            for c in codings(resource.get("category"))
            if c.get("system") == STAGE_SYSTEM
        }
        when = resource.get("authoredOn") or resource.get("occurrenceDateTime")
        if codes.PROFILE_REFERRAL in profiles or "referred" in stages:
            return "referral", "referred", when
        if codes.PROFILE_INTERVENTION in profiles or "decision" in stages:
            return "intervention-request", "treatment-scheduled", when
        return None
    if rtype == "Procedure":
        period = resource.get("performedPeriod") or {}
        when = resource.get("performedDateTime") or period.get("start")
        if resource.get("status") in ("preparation", "on-hold"):
            return "procedure", "treatment-scheduled", when
        return "procedure", "treated", when
    if rtype == "Observation":
        loinc = code_in(resource.get("code"), codes.LOINC)
        imaging = any(c.get("code") == "imaging" for c in codings(resource.get("category")))
        if loinc is None and not imaging:
            return None
        period = resource.get("effectivePeriod") or {}
        return "echo", "work-up", resource.get("effectiveDateTime") or period.get("start")
    if rtype in ("Encounter", "Appointment"):
        return _visit(resource)
    return None


_KIND_OF_STAGE = {
    "heart-team-review": "mdt",
    "treatment-scheduled": "procedure",
    "treated": "procedure",
    "follow-up": "follow-up",
    "discharged": "discharge",
}


def _visit(resource: dict[str, Any]) -> tuple[str, str, Any] | None:
    if resource["resourceType"] == "Encounter":
        types = resource.get("type")
        when = (resource.get("period") or {}).get("start")
        stage = code_in(types, STAGE_SYSTEM)
        if stage is None and (resource.get("class") or {}).get("code") in ("IMP", "ACUTE", "EMER"):
            return "admission", "treated", when
    else:
        types = [*(resource.get("serviceType") or []), resource.get("appointmentType")]
        when = resource.get("start")
        stage = code_in(types, STAGE_SYSTEM)
        if not stage:
            known = codes.LOCAL_APPOINTMENT_STAGE
            local = [(c.get("system"), c.get("code")) for c in codings(types)]
            stage = next((known[k] for k in local if k in known), None)
    stage = stage or "work-up"
    return _KIND_OF_STAGE.get(stage, "clinic"), stage, when


def fact(resource: dict[str, Any]) -> Fact | None:
    classified = _classify(resource)
    if classified is None:
        return None
    kind, stage, when = classified
    at = instant(when) or instant((resource.get("meta") or {}).get("lastUpdated"))
    if at is None:
        return None
    status = resource.get("status")
    return Fact(
        kind=kind,
        ref=f"{resource['resourceType']}/{resource.get('id')}",
        at=at,
        day=london_day(at),
        stage=stage,
        status=_activity_status(status),
        live=status not in _DEAD,
        centre=centre_of(resource),
        resource=resource,
    )
