"""``Patient/{id}/$pathway``: one patient's regional pathway, every episode, in one call.

The answer is a ``Parameters`` (its OperationDefinition is in ``definitions/``, published at
start-up): per episode the facts a clinician or a waiting list needs (stage, key dates,
centres, waits, the RTT clock) and the activities in date order, then the episodes' CarePlans
themselves, so a client never needs a second round trip.

CarePlans are derived from a queue (``pathway_dirty``) shortly after a write; a patient still
queued is derived here first, so this answer is never older than the store. Waits and the
clock of a running episode count to "today", the London day of ``ctx.now()``, so a test can
fix time by setting the context's clock.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from app.auth.context import internal_work
from app.errors import InvalidRequest
from app.fhir.context import FhirContext, context
from app.fhir.negotiation import output_format
from app.fhir.operations.parameters_in import read_inputs
from app.fhir.operations.run import instance_id, respond
from app.fhir.operations.stored import by_id
from app.pathway import codes, derivation, episode_rows
from app.pathway.facts import LONDON
from app.pathway.model import STAGE_SYSTEM, Episode

DEFINITION = "https://fhir.southlondon-mitral.nhs.uk/OperationDefinition/Patient-pathway"
RTT_DAYS = 126
"""18 weeks: the NHS Constitution referral-to-treatment standard."""

Part = dict[str, Any]


async def pathway(request: Request) -> Response:
    ctx = context(request)
    output_format(request)  # a 406 before any work
    patient_id = instance_id(request)
    if patient_id is None:
        raise InvalidRequest(
            "$pathway runs on one patient: call Patient/[id]/$pathway", expression=("Patient",)
        )
    if request.method == "POST" and _has_body(request):
        await read_inputs(request, ctx.settings.max_body_bytes)  # a bad body is still a 400
    await by_id(ctx, "Patient", patient_id)  # 404 for an unknown or deleted patient
    with internal_work():  # derived CarePlans are the service's writes, not the caller's
        await derivation.drain(ctx, patient_ids=[patient_id])
    episodes, careplans = await _stored(ctx, patient_id)
    return respond(request, parameters(patient_id, episodes, careplans, today(ctx)))


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return request.headers.get("transfer-encoding") is not None or (length or "0") != "0"


def today(ctx: FhirContext) -> str:
    at = dt.datetime.fromtimestamp(ctx.now() / 1_000_000, tz=dt.UTC)
    return at.astimezone(LONDON).date().isoformat()


async def _stored(
    ctx: FhirContext, patient_id: str
) -> tuple[list[Episode], dict[str, dict[str, Any]]]:
    async with ctx.db.read() as conn:
        episodes = await episode_rows.of_patient(conn, patient_id)
    careplans: dict[str, dict[str, Any]] = {}
    for episode in episodes:
        found = await ctx.store.read("CarePlan", episode.careplan_id)
        if found is not None and not found.deleted and found.content is not None:
            careplans[episode.careplan_id] = orjson.loads(found.content)
    return episodes, careplans


def parameters(
    patient_id: str,
    episodes: list[Episode],
    careplans: dict[str, dict[str, Any]],
    on: str,
) -> dict[str, Any]:
    """The operation's output for these episodes, with waits and clocks as of day ``on``."""
    out: list[Part] = [
        {"name": "patient", "valueReference": {"reference": f"Patient/{patient_id}"}}
    ]
    out.extend(_episode(e, careplans.get(e.careplan_id), on) for e in episodes)
    out.extend(
        {"name": "careplan", "resource": careplans[e.careplan_id]}
        for e in episodes
        if e.careplan_id in careplans
    )
    return {"resourceType": "Parameters", "parameter": out}


def _days(first: str | None, second: str | None) -> int | None:
    if first is None or second is None:
        return None
    return (dt.date.fromisoformat(second) - dt.date.fromisoformat(first)).days


def _open(episode: Episode) -> bool:
    return episode.status == "active" and episode.ended is None


def _wait(episode: Episode, start: str | None, end: str | None, on: str) -> int | None:
    """Days from ``start`` to ``end``; while the episode runs and ``end`` has not happened,
    the wait so far (to ``on``)."""
    if end is not None:
        return _days(start, end)
    return _days(start, on) if _open(episode) else None


def _episode(episode: Episode, careplan: dict[str, Any] | None, on: str) -> Part:
    parts: list[Part] = [
        {"name": "careplan", "valueReference": {"reference": f"CarePlan/{episode.careplan_id}"}},
        {"name": "number", "valueInteger": episode.number},
        {"name": "status", "valueCode": episode.status},
        {"name": "stage", "valueCoding": _stage(episode.stage)},
    ]
    optional: tuple[tuple[str, str, Any], ...] = (
        ("referred", "valueDate", episode.referred),
        ("mdt", "valueDate", episode.mdt),
        ("decision", "valueCoding", episode.decision and _stage(episode.decision)),
        ("treated", "valueDate", episode.treated),
        ("modality", "valueCode", episode.modality),
        ("ended", "valueDate", episode.ended),
        ("exit", "valueCoding", episode.exit and _stage(episode.exit)),
    )
    parts.extend({"name": name, key: value} for name, key, value in optional if value)
    parts.extend({"name": "centres", "valueIdentifier": _ods(ods)} for ods in episode.centres)
    waits = (
        ("wait-referral-to-mdt", _wait(episode, episode.referred, episode.mdt, on)),
        (
            "wait-mdt-to-treatment",
            _wait(episode, episode.mdt, episode.treated, on) if episode.mdt else None,
        ),
        ("wait-referral-to-treatment", _wait(episode, episode.referred, episode.treated, on)),
    )
    parts.extend({"name": n, "valueInteger": w} for n, w in waits if w is not None)
    parts.extend(_clock(episode, on))
    parts.extend(_activities(careplan))
    return {"name": "episode", "part": parts}


def _stage(code: str) -> dict[str, str]:
    coding = {"system": STAGE_SYSTEM, "code": code}
    if code in codes.STAGE_DISPLAY:
        coding["display"] = codes.STAGE_DISPLAY[code]
    return coding


def _ods(ods: str) -> dict[str, str]:
    centre = codes.BY_ODS.get(ods)
    system = codes.ODS_SITE if centre and centre.site == ods else codes.ODS_ORG
    return {"system": system, "value": ods}


def _clock(episode: Episode, on: str) -> list[Part]:
    """RTT status, whether the clock runs, weeks waited (completed weeks, as RTT returns
    count them) and whether that is within 18 weeks. A voided referral had no clock."""
    if episode.rtt_status is None:
        return []
    days = _days(episode.referred, episode.rtt_stop or on)
    parts: list[Part] = [
        {"name": "rtt-status", "valueCode": episode.rtt_status},
        {"name": "rtt-clock", "valueCode": "stopped" if episode.rtt_stop else "running"},
    ]
    if days is not None and days >= 0:
        parts.append({"name": "rtt-weeks", "valueInteger": days // 7})
        parts.append({"name": "within-18-weeks", "valueBoolean": days <= RTT_DAYS})
    return parts


def _activities(careplan: dict[str, Any] | None) -> list[Part]:
    """The CarePlan's activities as parts, in date order (undated last, stable otherwise)."""
    found: list[tuple[str, list[Part]]] = []
    for activity in (careplan or {}).get("activity", []) or []:
        detail = activity.get("detail") or {}
        day = (detail.get("scheduledPeriod") or {}).get("start")
        parts: list[Part] = []
        if day:
            parts.append({"name": "date", "valueDate": day})
        stage = next(iter((detail.get("code") or {}).get("coding", []) or []), None)
        if stage and stage.get("code"):
            parts.append({"name": "stage", "valueCoding": _stage(stage["code"])})
        if detail.get("status"):
            parts.append({"name": "status", "valueCode": detail["status"]})
        if detail.get("description"):
            parts.append({"name": "kind", "valueCode": detail["description"]})
        for performer in detail.get("performer", []) or []:
            ident = performer.get("identifier")
            if ident:
                parts.append({"name": "centre", "valueIdentifier": dict(ident)})
        for ref in activity.get("outcomeReference", []) or []:
            parts.append({"name": "reference", "valueReference": {"reference": ref["reference"]}})
        found.append((day or "9999", parts))
    found.sort(key=lambda item: item[0])
    return [{"name": "activity", "part": parts} for _, parts in found]
