"""update (PUT by id; a client-chosen id creates) and conditional update (PUT by criteria)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app.config import API_SOURCE
from app.errors import InvalidRequest
from app.fhir import writes
from app.fhir.conditional import criteria_request
from app.fhir.context import context
from app.fhir.headers import parse_etag, parse_prefer
from app.fhir.interactions.common import path_id, path_type
from app.fhir.interactions.create import respond_written
from app.fhir.negotiation import output_format, require_json_body
from app.fhir.request_body import read_body
from app.fhir.resource_body import check_resource, parse_json, validate_for_write


async def _body(request: Request, res_type: str) -> dict[str, Any]:
    require_json_body(request)
    limit = context(request).settings.max_body_bytes
    return check_resource(parse_json(await read_body(request, limit)), expected_type=res_type)


def body_id_must_match(resource: dict[str, Any], res_id: str) -> None:
    body_id = resource.get("id")
    where = (f"{resource['resourceType']}.id",)
    if body_id is None:
        raise InvalidRequest("An update needs the resource id in the body", expression=where)
    if body_id != res_id:
        raise InvalidRequest(
            f"The id in the body ('{body_id}') differs from the id in the URL ('{res_id}')",
            expression=where,
        )


async def update(request: Request) -> Response:
    ctx = context(request)
    res_type, res_id = path_type(request), path_id(request)
    fmt = output_format(request)
    resource = await _body(request, res_type)
    body_id_must_match(resource, res_id)
    if_match = parse_etag(request.headers.get("if-match"))
    prefer = parse_prefer(request.headers.get("prefer"))
    warnings = tuple(await validate_for_write(ctx, resource, API_SOURCE))
    async with ctx.store.write() as tx:
        outcome = await writes.update(tx, resource, res_id, now=ctx.now(), if_match=if_match)
    return respond_written(request, replace(outcome, issues=warnings), prefer, fmt)


async def conditional_update(request: Request) -> Response:
    ctx = context(request)
    res_type = path_type(request)
    fmt = output_format(request)
    resource = await _body(request, res_type)
    criteria, key = criteria_request(res_type, request.query_params.multi_items(), ctx.types)
    if_match = parse_etag(request.headers.get("if-match"))
    prefer = parse_prefer(request.headers.get("prefer"))
    warnings = tuple(await validate_for_write(ctx, resource, API_SOURCE))
    async with ctx.store.write() as tx:
        existing = await writes.match_one(tx, criteria, key)
        if existing is None:
            res_id = resource.get("id") or writes.new_id()
        else:
            res_id = existing
            if resource.get("id") not in (None, existing):
                body_id_must_match(resource, existing)
        outcome = await writes.update(tx, resource, res_id, now=ctx.now(), if_match=if_match)
    return respond_written(request, replace(outcome, issues=warnings), prefer, fmt)
