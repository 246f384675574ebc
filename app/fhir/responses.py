"""Building FHIR responses from stored bytes: headers, formats, OperationOutcomes.

The read path never parses a resource: stored JSON bytes go straight into the body unless
the client asked for ``_pretty``.
"""

from __future__ import annotations

import logging
import uuid
from http import HTTPStatus
from typing import Any

import orjson
from starlette.responses import Response

from app.errors import FhirError, Issue, operation_outcome_bytes
from app.fhir.negotiation import DEFAULT_OUTPUT, OutputFormat
from app.model import fhir_json
from app.search.dates import http_date


def fhir_response(
    body: bytes | None,
    *,
    status: int = HTTPStatus.OK,
    fmt: OutputFormat = DEFAULT_OUTPUT,
    headers: dict[str, str] | None = None,
) -> Response:
    if body is not None and fmt.pretty:
        body = fhir_json.dumps(fhir_json.loads(body), pretty=True)
    if body is None:
        return Response(status_code=status, headers=headers)
    return Response(body, status_code=status, headers=headers, media_type=fmt.content_type)


def json_response(
    data: Any, *, status: int = HTTPStatus.OK, fmt: OutputFormat = DEFAULT_OUTPUT
) -> Response:
    return fhir_response(orjson.dumps(data), status=status, fmt=fmt)


def version_headers(
    base: str, res_type: str, res_id: str, version_id: int, last_updated: int
) -> dict[str, str]:
    return {
        "ETag": f'W/"{version_id}"',
        "Last-Modified": http_date(last_updated),
        "Location": f"{base}/{res_type}/{res_id}/_history/{version_id}",
    }


def outcome_response(error: FhirError, fmt: OutputFormat = DEFAULT_OUTPUT) -> Response:
    return fhir_response(
        operation_outcome_bytes(error.all_issues()),
        status=error.status,
        fmt=fmt,
        headers=error.headers or None,
    )


def information_outcome(message: str) -> bytes:
    return operation_outcome_bytes([Issue("information", "informational", message)])


def internal_error_response(exc: Exception) -> Response:
    """A 500 OperationOutcome with an incident id that is also in the log; no stack trace."""
    incident = str(uuid.uuid4())
    logging.getLogger("mitral_fhir").exception(
        "unhandled error (incident %s)", incident, exc_info=exc
    )
    issue = Issue(
        "fatal",
        "exception",
        f"An internal error occurred; it has been logged as incident {incident}",
    )
    return fhir_response(operation_outcome_bytes([issue]), status=HTTPStatus.INTERNAL_SERVER_ERROR)
