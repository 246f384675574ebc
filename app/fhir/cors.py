"""CORS for the FHIR base, so browser apps (SMART apps in an EHR frame) can call it.

Access rides on bearer tokens, never cookies, so any origin may call (``*``, no credentials):
what a caller can see is decided by its token, not by where its page came from. Only
requests that carry an ``Origin`` header (browsers) get the headers.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import Scope

ALLOW_HEADERS = (
    "Authorization, Content-Type, Accept, If-Match, If-None-Match, If-None-Exist, "
    "If-Modified-Since, Prefer, X-Request-Id"
)
EXPOSE_HEADERS = "Location, Content-Location, ETag, Last-Modified, WWW-Authenticate"
METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"


def has_origin(scope: Scope) -> bool:
    return any(name == b"origin" for name, _ in scope["headers"])


def preflight() -> Response:
    return Response(
        status_code=204,
        headers={
            "Access-Control-Allow-Origin": "*",
            "Access-Control-Allow-Methods": METHODS,
            "Access-Control-Allow-Headers": ALLOW_HEADERS,
            "Access-Control-Max-Age": "600",
        },
    )


def add_headers(response: Response) -> None:
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
