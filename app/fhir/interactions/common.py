"""Checks shared by the interaction handlers: path type and id, and the write response."""

from __future__ import annotations

from http import HTTPStatus

from starlette.requests import Request
from starlette.responses import Response

from app.errors import InvalidRequest, ResourceNotFound
from app.fhir.context import base_url, context
from app.fhir.headers import Prefer
from app.fhir.negotiation import OutputFormat
from app.fhir.responses import fhir_response, information_outcome, version_headers
from app.fhir.writes import WriteOutcome
from app.model.resource_types import is_valid_id


def path_type(request: Request) -> str:
    res_type: str = request.path_params["type"]
    if res_type not in context(request).types:
        raise ResourceNotFound(
            f"Unknown resource type '{res_type}': not a FHIR R4 resource type",
            issue_code="not-supported",
        )
    return res_type


def path_id(request: Request) -> str:
    res_id: str = request.path_params["id"]
    if not is_valid_id(res_id):
        raise InvalidRequest(f"'{res_id}' is not a valid FHIR id (1-64 of A-Z a-z 0-9 - .)")
    return res_id


def write_response(
    request: Request, outcome: WriteOutcome, prefer: Prefer, fmt: OutputFormat
) -> Response:
    headers = version_headers(
        base_url(request),
        outcome.res_type,
        outcome.res_id,
        outcome.version_id,
        outcome.last_updated,
    )
    if outcome.status == HTTPStatus.OK:
        headers["Content-Location"] = headers.pop("Location")
    if prefer.return_mode == "minimal":
        return fhir_response(None, status=outcome.status, headers=headers)
    if prefer.return_mode == "OperationOutcome":
        verb = "Created" if outcome.status == HTTPStatus.CREATED else "Stored"
        message = f"{verb} {outcome.res_type}/{outcome.res_id} version {outcome.version_id}"
        return fhir_response(
            information_outcome(message), status=outcome.status, fmt=fmt, headers=headers
        )
    return fhir_response(outcome.content, status=outcome.status, fmt=fmt, headers=headers)
