"""An Episode as an MV-Pathway CarePlan.

Where R4 and the profile leave no room for what the issue asks, the nearest valid element:
* every activity has ``detail`` (MV-Pathway requires it) and R4's cpl-3 forbids ``reference``
  beside ``detail``, so the resource behind an activity (referral, MDT Encounter, request,
  Procedure, follow-up) is its ``outcomeReference`` (Reference(Any));
* R4 ``CarePlan.basedOn`` may only point at a CarePlan, so the referrals are activities (and
  their Conditions are ``addresses``), not ``basedOn``;
* the centres involved are ``contributor`` Organizations with their ODS identifiers, and each
  activity names its centre as ``detail.performer``; no new extension is needed.
"""

from __future__ import annotations

from functools import lru_cache
from html import escape
from typing import Any

from app.ingest.mapping.engine import organization_id
from app.pathway import codes
from app.pathway.model import STAGE_SYSTEM, Activity, Episode

CAREPLAN_CATEGORY = {"system": codes.SNOMED, "code": "734163000", "display": "Care plan"}


def stage_concept(stage: str) -> dict[str, Any]:
    if stage in codes.STAGE_DISPLAY:
        display = codes.STAGE_DISPLAY[stage]
        return {"coding": [{"system": STAGE_SYSTEM, "code": stage, "display": display}]}
    return {"coding": [{"system": STAGE_SYSTEM, "code": stage}]}


@lru_cache(maxsize=256)
def _organization(ods: str) -> tuple[str, str, str | None]:
    """(reference, identifier system, display) of a centre: a CarePlan names a few, each
    activity one."""
    centre = codes.BY_ODS.get(ods)
    system = codes.ODS_SITE if centre and centre.site == ods else codes.ODS_ORG
    reference = f"Organization/{organization_id(ods)}"
    return reference, system, centre.name if centre else None


def organization(ods: str) -> dict[str, Any]:
    """A reference to a centre by its ODS code (site code where the centre has one)."""
    reference, system, display = _organization(ods)
    if display is None:
        return {"reference": reference, "identifier": {"system": system, "value": ods}}
    return {
        "reference": reference,
        "identifier": {"system": system, "value": ods},
        "display": display,
    }


def _activity(activity: Activity) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "code": stage_concept(activity.stage),
        "status": activity.status,
    }
    if activity.date:
        detail["scheduledPeriod"] = {"start": activity.date}
    if activity.centre:
        detail["performer"] = [organization(activity.centre)]
    detail["description"] = activity.kind
    return {"outcomeReference": [{"reference": activity.reference}], "detail": detail}


def _description(episode: Episode) -> str:
    parts = [f"Episode {episode.number}: referred {episode.referred}"]
    if episode.treated:
        parts.append(f"treated {episode.treated} ({episode.modality or 'modality unknown'})")
    if episode.exit:
        parts.append(f"exit {episode.exit}")
    if episode.rtt_status:
        stop = f" since {episode.rtt_stop}" if episode.rtt_stop else ""
        parts.append(f"RTT status {episode.rtt_status}{stop}")
    return "; ".join(parts)


def _addresses(episode: Episode, resources: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    refs: list[str] = []
    for activity in episode.activities:
        if activity.kind != "referral" or activity.reference not in resources:
            continue
        for reason in resources[activity.reference].get("reasonReference", []) or []:
            ref = str(reason.get("reference", ""))
            if ref.startswith("Condition/") and ref not in refs:
                refs.append(ref)
    return [{"reference": r} for r in refs]


def render(
    episode: Episode, patient_ref: str, resources: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The CarePlan; ``resources`` (by ``Type/id``), when given, adds the referrals'
    Conditions as ``addresses``."""
    period = {"start": episode.referred}
    if episode.ended:
        period["end"] = episode.ended
    careplan: dict[str, Any] = {
        "resourceType": "CarePlan",
        "id": episode.careplan_id,
        "meta": {"profile": [codes.PROFILE_PATHWAY]},
        "extension": [
            {"url": codes.EXT_CURRENT_STAGE, "valueCodeableConcept": stage_concept(episode.stage)}
        ],
        "status": episode.status,
        "intent": "plan",
        "category": [{"coding": [dict(CAREPLAN_CATEGORY)]}],
        "title": f"Mitral valve pathway, episode {episode.number}",
        "description": _description(episode),
        "subject": {"reference": patient_ref},
        "period": period,
    }
    careplan["text"] = {
        "status": "generated",
        "div": f'<div xmlns="http://www.w3.org/1999/xhtml">{escape(careplan["description"])}</div>',
    }
    if episode.centres:
        careplan["contributor"] = [organization(ods) for ods in episode.centres]
    addresses = _addresses(episode, resources or {})
    if addresses:
        careplan["addresses"] = addresses
    if episode.activities:
        careplan["activity"] = [_activity(a) for a in episode.activities]
    return careplan
