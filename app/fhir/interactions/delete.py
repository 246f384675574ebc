"""delete (a deletion version in history) and conditional delete (single match)."""

from __future__ import annotations

from http import HTTPStatus

from starlette.requests import Request
from starlette.responses import Response

from app.fhir import writes
from app.fhir.conditional import criteria_request
from app.fhir.context import context
from app.fhir.headers import parse_etag
from app.fhir.interactions.common import path_id, path_type


def _deleted(outcome: writes.WriteOutcome) -> Response:
    headers = {"ETag": f'W/"{outcome.version_id}"'} if outcome.version_id else None
    return Response(status_code=HTTPStatus.NO_CONTENT, headers=headers)


async def delete(request: Request) -> Response:
    ctx = context(request)
    res_type, res_id = path_type(request), path_id(request)
    if_match = parse_etag(request.headers.get("if-match"))
    async with ctx.store.write() as tx:
        outcome = await writes.delete(tx, res_type, res_id, now=ctx.now(), if_match=if_match)
    return _deleted(outcome)


async def conditional_delete(request: Request) -> Response:
    ctx = context(request)
    res_type = path_type(request)
    criteria, key = criteria_request(res_type, request.query_params.multi_items(), ctx.types)
    async with ctx.store.write() as tx:
        res_id = await writes.match_one(tx, criteria, key)
        if res_id is None:
            return Response(status_code=HTTPStatus.NO_CONTENT)
        outcome = await writes.delete(tx, res_type, res_id, now=ctx.now())
    return _deleted(outcome)
