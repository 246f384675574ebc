"""HTTP for ingest: ``POST /ingest/{centre}`` (ER7, CSV or a FHIR Bundle) and the ingest log
and quarantine views, with replay.

A push is answered only after every unit is logged (committed) and mapped: the receipt says
per unit what was created, updated, unchanged, or why it was quarantined. An input whose
units are all quarantined is still a 200: it was received and kept, and can be replayed.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import Response

from app.errors import FhirError, InvalidRequest, PayloadTooLarge, ResourceNotFound
from app.ingest.pipeline import Ingestor
from app.ingest.records import SourceError
from app.storage import ingest_log
from app.storage.ingest_log import LoggedUnit

router = APIRouter(prefix="/ingest", tags=["ingest"])

_MEDIA = {"hl7v2": "x-application/hl7-v2+er7", "csv": "text/csv", "fhir": "application/fhir+json"}


class UnsupportedMediaType(FhirError):
    pass


def _ingestor(request: Request) -> Ingestor:
    found: Ingestor | None = getattr(request.app.state, "ingestor", None)
    if found is None:
        raise ResourceNotFound("Ingest is not configured: no mappings were loaded")
    return found


def _json(body: Any, status: int = HTTPStatus.OK) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


def _unit_json(unit: LoggedUnit, *, content: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "unit": unit.unit_id,
        "centre": unit.centre,
        "kind": unit.kind,
        "transport": unit.transport,
        "source": unit.source_name,
        "position": unit.position,
        "status": unit.status,
        "attempts": unit.attempts,
        "received": unit.received_at,
        "updated": unit.updated_at,
    }
    if unit.outcome:
        out["outcome"] = orjson.loads(unit.outcome)
    if unit.result:
        out["result"] = orjson.loads(unit.result)
    if content:
        text = unit.content.decode("utf-8", errors="replace")
        out["content"] = text.replace("\r", "\n") if unit.kind == "hl7v2" else text
        if unit.context:
            out["header"] = unit.context.decode("utf-8", errors="replace")
    return out


async def _body(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it passes ``limit``: never held whole beyond it."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The body is over the limit of {limit} bytes; send less at once")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/{centre}")
async def ingest(centre: str, request: Request) -> Response:
    """Push a centre's input: HL7 v2 ER7 (one or many messages), a CSV extract, or a FHIR
    Bundle. Returns the receipt."""
    ingestor = _ingestor(request)
    body = await _body(request, ingestor.ctx.settings.max_body_bytes)
    try:
        receipt = await ingestor.receive(
            centre,
            body,
            media_type=request.headers.get("content-type"),
            transport="http",
            source_name=request.headers.get("x-source-name"),
        )
    except SourceError as exc:
        raise UnsupportedMediaType(
            exc.message, status=HTTPStatus.UNSUPPORTED_MEDIA_TYPE, issue_code="not-supported"
        ) from None
    return _json(receipt.to_json())


@router.get("/units")
async def units(
    request: Request,
    status: str | None = Query(default=None, description="received, mapped or quarantined"),
    centre: str | None = None,
    after: int = Query(default=0, ge=0, description="continue after this seq"),
    count: int = Query(default=50, ge=1, le=500, alias="_count"),
) -> Response:
    """The ingest log, oldest first; ``status=quarantined`` is the quarantine."""
    if status is not None and status not in ingest_log.STATUSES:
        raise InvalidRequest(
            f"status must be one of {', '.join(ingest_log.STATUSES)}", expression=("status",)
        )
    ingestor = _ingestor(request)
    async with ingestor.ctx.db.read() as conn:
        found = await ingest_log.list_units(
            conn, status=status, centre=centre, after_seq=after, limit=count
        )
        counts = await ingest_log.status_counts(conn, centre)
    body: dict[str, Any] = {
        "counts": counts,
        "units": [_unit_json(u, content=False) for u in found],
    }
    if len(found) == count:
        body["next"] = found[-1].seq
    return _json(body)


@router.get("/quarantine")
async def quarantine(
    request: Request,
    centre: str | None = None,
    after: int = Query(default=0, ge=0),
    count: int = Query(default=50, ge=1, le=500, alias="_count"),
) -> Response:
    return await units(request, ingest_log.QUARANTINED, centre, after, count)


async def _unit(request: Request, unit_id: str) -> LoggedUnit:
    ingestor = _ingestor(request)
    async with ingestor.ctx.db.read() as conn:
        unit = await ingest_log.get_unit(conn, unit_id)
    if unit is None:
        raise ResourceNotFound(f"No ingest unit {unit_id!r}")
    return unit


@router.get("/units/{unit_id}")
async def unit(request: Request, unit_id: str) -> Response:
    return _json(_unit_json(await _unit(request, unit_id), content=True))


@router.get("/units/{unit_id}/raw")
async def raw(request: Request, unit_id: str) -> Response:
    """The unit's bytes as stored: an HL7 v2 message as split from its input (every segment
    ended by a carriage return), a CSV row without its header line, a Bundle as received."""
    found = await _unit(request, unit_id)
    return Response(found.content, media_type=_MEDIA.get(found.kind, "application/octet-stream"))


@router.post("/units/{unit_id}/replay")
async def replay(request: Request, unit_id: str) -> Response:
    """Map the unit again (after a mapping or terminology fix)."""
    ingestor = _ingestor(request)
    await _unit(request, unit_id)
    reports = await ingestor.replay([unit_id])
    return _json({"units": [r.to_json() for r in reports]})
