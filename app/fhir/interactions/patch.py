"""patch with JSON Patch (RFC 6902) through the jsonpatch library, by id or by criteria."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app.config import API_SOURCE
from app.errors import Issue, ResourceNotFound
from app.fhir import writes
from app.fhir.conditional import criteria_request
from app.fhir.context import context
from app.fhir.headers import parse_etag, parse_prefer
from app.fhir.interactions.common import path_id, path_type
from app.fhir.interactions.create import respond_written
from app.fhir.negotiation import JSON_PATCH, output_format, require_json_body
from app.fhir.request_body import read_body
from app.fhir.resource_body import parse_json, validate_for_write


async def patch(request: Request) -> Response:
    ctx = context(request)
    res_type = path_type(request)
    res_id = path_id(request) if "id" in request.path_params else None
    fmt = output_format(request)
    require_json_body(request, allowed=(JSON_PATCH,))
    operations = parse_json(await read_body(request, ctx.settings.max_body_bytes))
    if_match = parse_etag(request.headers.get("if-match"))
    prefer = parse_prefer(request.headers.get("prefer"))

    async def check(resource: dict[str, Any]) -> list[Issue]:
        return await validate_for_write(ctx, resource, API_SOURCE)

    async with ctx.store.write() as tx:
        if res_id is None:
            criteria, key = criteria_request(
                res_type, request.query_params.multi_items(), ctx.types
            )
            res_id = await writes.match_one(tx, criteria, key)
            if res_id is None:
                raise ResourceNotFound(f"No {res_type} matches the patch criteria")
        outcome = await writes.patch(
            tx, res_type, res_id, operations, now=ctx.now(), if_match=if_match, check=check
        )
    return respond_written(request, outcome, prefer, fmt)
