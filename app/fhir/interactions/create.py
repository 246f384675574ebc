"""create, and conditional create (If-None-Exist), safe under concurrency."""

from __future__ import annotations

from dataclasses import replace
from http import HTTPStatus

import orjson
from starlette.requests import Request
from starlette.responses import Response

from app.config import API_SOURCE
from app.fhir import writes
from app.fhir.conditional import criteria_request
from app.fhir.context import context
from app.fhir.headers import Prefer, parse_criteria, parse_prefer
from app.fhir.interactions.common import path_type, write_response
from app.fhir.negotiation import OutputFormat, output_format, require_json_body
from app.fhir.request_body import read_body
from app.fhir.resource_body import check_resource, parse_json, validate_for_write
from app.fhir.responses import fhir_response
from app.storage.store import read_current

VALIDATION_HEADER = "X-FHIR-Request-Validation"
"""One header per warning, as HAPI FHIR's RequestValidatingInterceptor adds them."""


def respond_written(
    request: Request, outcome: writes.WriteOutcome, prefer: Prefer, fmt: OutputFormat
) -> Response:
    """The write response, carrying the write's validation warnings.

    With ``Prefer: return=OperationOutcome`` (spec http.html#ops) they follow the issue that
    says what was stored; whatever the body, each is also named in an
    ``X-FHIR-Request-Validation`` header.
    """
    response = write_response(request, outcome, prefer, fmt)
    if not outcome.issues:
        return response
    if prefer.return_mode == "OperationOutcome":
        body = orjson.loads(response.body)
        body["issue"] += [i.to_fhir() for i in outcome.issues]
        headers = {
            k: v for k, v in response.headers.items() if k not in ("content-length", "content-type")
        }
        response = fhir_response(
            orjson.dumps(body), status=outcome.status, fmt=fmt, headers=headers
        )
    for issue in outcome.issues:
        where = f" {issue.expression[0]}" if issue.expression else ""
        text = f"{issue.severity}{where}: {issue.diagnostics}"
        value = " ".join(text.encode("ascii", "replace").decode().split())[:500]
        response.raw_headers.append((VALIDATION_HEADER.lower().encode(), value.encode()))
    return response


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
    warnings = tuple(await validate_for_write(ctx, resource, API_SOURCE))
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
    return respond_written(request, replace(outcome, issues=warnings), prefer, fmt)
