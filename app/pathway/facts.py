"""Each stored resource read once into a ``Fact``: what it says about the pathway, when, where.

Kept apart from grouping so the rules about *what a resource means* (which centre, which
stage, does it still count) live in one place and grouping only sees dates and kinds.

Every stored resource of a patient goes through ``fact`` at each derivation (after each
message about them), so the hot paths walk codings with plain loops (no intermediate lists)
and remember what depends only on a string: a date's reading (``moments``), the centre of an
identifier system.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from app.pathway import codes, moments
from app.pathway.model import STAGE_SYSTEM
from app.pathway.moments import moment

LONDON = moments.LONDON

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
    """The instant (a date-only value is midnight in London); ordered by ``t``."""
    day: str
    stage: str
    status: str
    """CarePlan.activity.detail.status the resource stands for."""
    live: bool
    """False when cancelled, revoked, not done or entered in error: it is listed, not counted."""
    centre: str | None
    resource: dict[str, Any]
    t: Any
    """``at`` for comparing: the timedelta since the epoch (comparing aware datetimes of
    different offsets was most of the sorting), or ``at`` itself when some fact of the
    patient has a London wall time in a DST gap or fold (see ``regular``)."""
    key: tuple[Any, int, str]
    """(t, kind order, reference): the order facts are read in, made once."""

    def as_datetimes(self) -> None:
        """Compare by ``at`` itself, as datetime comparison does (see ``t``)."""
        self.t = self.at
        self.key = (self.at, self.key[1], self.ref)


def codings(concepts: Any) -> list[dict[str, Any]]:
    """Every Coding of a CodeableConcept or a list of them."""
    items = concepts if isinstance(concepts, list) else [concepts]
    return [c for cc in items if isinstance(cc, dict) for c in cc.get("coding", []) or []]


def code_in(concepts: Any, system: str) -> str | None:
    """The code of the first Coding of ``system`` (``codings`` walked without a list)."""
    for cc in concepts if isinstance(concepts, list) else (concepts,):
        if isinstance(cc, dict):
            for c in cc.get("coding", []) or ():
                if c.get("system") == system:
                    return c.get("code")  # type: ignore[no-any-return]
    return None


def _has_code(concepts: Any, system: str | None, code: str) -> bool:
    """Whether a Coding has ``code`` (in ``system``; in any system for None)."""
    for cc in concepts if isinstance(concepts, list) else (concepts,):
        if isinstance(cc, dict):
            for c in cc.get("coding", []) or ():
                if c.get("code") == code and (system is None or c.get("system") == system):
                    return True
    return False


def extension_code(resource: dict[str, Any], url: str) -> str | None:
    """The first code of the first extension of ``url``."""
    for ext in resource.get("extension", []) or ():
        if ext.get("url") == url:
            concept = ext.get("valueCodeableConcept")
            for cc in concept if isinstance(concept, list) else (concept,):
                if isinstance(cc, dict):
                    for c in cc.get("coding", []) or ():
                        return c.get("code")  # type: ignore[no-any-return]
            return None
    return None


_SYSTEM_CENTRE: dict[str, str | None] = {}
"""Identifier system -> the centre whose host it is (or None): few systems, read per resource."""


def _centre_of_system(system: Any) -> str | None:
    cacheable = isinstance(system, str)
    if cacheable and system in _SYSTEM_CENTRE:
        return _SYSTEM_CENTRE[system]
    host = str(system).removeprefix("https://").split("/", 1)[0]
    centre = codes.BY_DOMAIN[host].ods if host in codes.BY_DOMAIN else None
    if cacheable and len(_SYSTEM_CENTRE) < 4096:
        _SYSTEM_CENTRE[system] = centre
    return centre


def centre_of(resource: dict[str, Any]) -> str | None:
    """The centre that recorded a resource. Its own identifier system names the centre
    exactly (three centres share trust RJ1, so Organization references alone cannot); a
    resource without one (King's procedures) falls back to the Organizations it names."""
    for ident in resource.get("identifier", []) or ():
        centre = _centre_of_system(ident.get("system", ""))
        if centre is not None:
            return centre
    refs: list[Any] = [resource.get("serviceProvider")]
    for performer in resource.get("performer", []) or ():
        refs += [performer.get("actor"), performer.get("onBehalfOf"), performer]
    known = codes.ORGANIZATION_CENTRE
    site = first = None
    for r in refs:
        if r:
            c = known.get(r.get("reference", ""))
            if c:
                first = first or c
                if site is None and c in codes.BY_ODS:
                    site = c
    return site or first


def procedure_modality(resource: dict[str, Any]) -> tuple[str | None, bool | None]:
    """(modality, repair?) from a Procedure's or intervention request's codes and approach."""
    found: tuple[str, bool] | None = None
    opcs: list[Any] = []
    for c in codings(resource.get("code")):
        system = c.get("system")
        if system == codes.OPCS4:
            opcs.append(c.get("code"))
        elif found is None and system == codes.SNOMED and c.get("code") in codes.SNOMED_PROCEDURE:
            found = codes.SNOMED_PROCEDURE[c["code"]]
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


def _classify(resource: dict[str, Any]) -> tuple[str, str, Any] | None:
    """(kind, stage, date) of a resource, or None when it says nothing about the pathway."""
    rtype = resource.get("resourceType")
    if rtype in ("Encounter", "Appointment"):
        return _visit(resource)
    if rtype == "ServiceRequest":
        profiles = (resource.get("meta") or {}).get("profile") or []
        when = resource.get("authoredOn") or resource.get("occurrenceDateTime")
        category = resource.get("category")
        if codes.PROFILE_REFERRAL in profiles or _has_code(category, STAGE_SYSTEM, "referred"):
            return "referral", "referred", when
        if codes.PROFILE_INTERVENTION in profiles or _has_code(category, STAGE_SYSTEM, "decision"):
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
        if loinc is None and not _has_code(resource.get("category"), None, "imaging"):
            return None
        period = resource.get("effectivePeriod") or {}
        return "echo", "work-up", resource.get("effectiveDateTime") or period.get("start")
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
        when = (resource.get("period") or {}).get("start")
        stage = code_in(resource.get("type"), STAGE_SYSTEM)
        if stage is None and (resource.get("class") or {}).get("code") in ("IMP", "ACUTE", "EMER"):
            return "admission", "treated", when
    else:
        types = [*(resource.get("serviceType") or []), resource.get("appointmentType")]
        when = resource.get("start")
        stage = code_in(types, STAGE_SYSTEM)
        if not stage:
            stage = _local_stage(types)
    stage = stage or "work-up"
    return _KIND_OF_STAGE.get(stage, "clinic"), stage, when


def _local_stage(types: list[Any]) -> str | None:
    known = codes.LOCAL_APPOINTMENT_STAGE
    for c in codings(types):
        local = (c.get("system"), c.get("code"))
        if local in known:
            return known[local]
    return None


def fact(resource: dict[str, Any], ref: str | None = None) -> Fact | None:
    """``ref``: the resource's ``Type/id`` when the caller has made it already."""
    classified = _classify(resource)
    if classified is None:
        return None
    kind, stage, when = classified
    found = moment(when) if isinstance(when, str) else None
    if found is None:
        updated = (resource.get("meta") or {}).get("lastUpdated")
        found = moment(updated) if isinstance(updated, str) else None
        if found is None:
            return None
    at, day, t = found
    status = resource.get("status")
    if ref is None:
        ref = f"{resource['resourceType']}/{resource.get('id')}"
    return Fact(  # positional: keywords were a quarter of building it
        kind,
        ref,
        at,
        day,
        stage,
        _ACTIVITY_STATUS.get(status or "", "unknown"),
        status not in _DEAD,
        centre_of(resource),
        resource,
        t,
        (t, KIND_ORDER[kind], ref),
    )
