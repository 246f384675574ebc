"""create, and conditional create (If-None-Exist), safe under concurrency."""

from __future__ import annotations

from http import HTTPStatus

from starlette.requests import Request
from starlette.responses import Response

from app.fhir import writes
from app.fhir.conditional import criteria_request
from app.fhir.context import context
from app.fhir.headers import parse_criteria, parse_prefer
from app.fhir.interactions.common import path_type, write_response
from app.fhir.negotiation import output_format, require_json_body
from app.fhir.request_body import read_body
from app.fhir.resource_body import check_resource, parse_json
from app.storage.store import read_current


async def create(request: Request) -> Response:
    ctx = context(request)
    res_type = path_type(request)
    fmt = output_format(request)
    require_json_body(request)
    resource = check_resource(
        parse_json(await read_body(request, ctx.settings.max_body_bytes)), expected_type=res_type
    )
    prefer = parse_prefer(request.headers.get("prefer"))
    if_none_exist = request.headers.get("if-none-exist")
    async with ctx.store.write() as tx:
        if if_none_exist is not None:
            criteria, key = criteria_request(res_type, parse_criteria(if_none_exist), ctx.types)
            existing = await writes.match_one(tx, criteria, key)
            if existing is not None:
                found = await read_current(await tx.connection(), res_type, existing)
                assert found is not None
                outcome = writes.WriteOutcome(
                    HTTPStatus.OK,
                    res_type,
                    existing,
                    found.version_id,
                    found.last_updated,
                    found.content,
                )
                return write_response(request, outcome, prefer, fmt)
        outcome = await writes.create(tx, resource, now=ctx.now())
    return write_response(request, outcome, prefer, fmt)
