"""What an upstream FHIR server's failure means to *our* caller.

Our caller never talks to the upstream server, so the status we answer is about what they can
do next: a resource or code system the upstream does not know is still a 404 for them, and
inputs the upstream rejected (which we forwarded from them) are still their 400/422; but an
upstream that is down, refuses our credentials or answers nonsense is our problem, a 502, and
one that does not answer in time is a 504. Each error keeps the upstream status and its
OperationOutcome issues after our own headline issue, so nothing the upstream said is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from app.errors import FhirError, InvalidRequest, Issue, ResourceNotFound, Transient, Unprocessable


@dataclass
class UpstreamError(FhirError):
    """Base class; as such, an upstream failure our caller cannot fix (502)."""

    upstream_status: int | None = None
    upstream_issues: tuple[Issue, ...] = ()

    status: HTTPStatus = HTTPStatus.BAD_GATEWAY
    issue_code: str = "exception"

    def all_issues(self) -> list[Issue]:
        headline = Issue(self.severity, self.issue_code, self.diagnostics, self.expression)
        return [headline, *self.upstream_issues]


@dataclass
class BadGateway(UpstreamError):
    """The upstream is unreachable, failed (5xx), refused us (401/403) or answered nonsense."""


@dataclass
class GatewayTimeout(UpstreamError):
    status: HTTPStatus = HTTPStatus.GATEWAY_TIMEOUT
    issue_code: str = "timeout"


@dataclass
class UpstreamNotFound(UpstreamError, ResourceNotFound):
    status: HTTPStatus = HTTPStatus.NOT_FOUND
    issue_code: str = "not-found"


@dataclass
class UpstreamInvalid(UpstreamError, InvalidRequest):
    status: HTTPStatus = HTTPStatus.BAD_REQUEST
    issue_code: str = "invalid"


@dataclass
class UpstreamUnprocessable(UpstreamError, Unprocessable):
    status: HTTPStatus = HTTPStatus.UNPROCESSABLE_ENTITY
    issue_code: str = "processing"


@dataclass
class UpstreamBusy(UpstreamError, Transient):
    """The upstream throttled us (429) or said it is unavailable (503): retry later."""

    status: HTTPStatus = HTTPStatus.SERVICE_UNAVAILABLE
    issue_code: str = "transient"


def outcome_issues(body: Any) -> tuple[Issue, ...]:
    """The issues of an OperationOutcome (anything else gives none), as our ``Issue``s."""
    if not isinstance(body, dict) or body.get("resourceType") != "OperationOutcome":
        return ()
    found: list[Issue] = []
    for raw in body.get("issue") or ():
        if not isinstance(raw, dict):
            continue
        details = raw.get("details") if isinstance(raw.get("details"), dict) else {}
        text = raw.get("diagnostics") or (details or {}).get("text") or ""
        where = raw.get("expression") or raw.get("location") or ()
        found.append(
            Issue(
                severity=str(raw.get("severity") or "error"),
                code=str(raw.get("code") or "exception"),
                diagnostics=str(text),
                expression=tuple(str(e) for e in where if isinstance(e, str)),
            )
        )
    return tuple(found)


def error_for_status(
    status: int, server: str, issues: tuple[Issue, ...], retry_after: str | None = None
) -> UpstreamError:
    """The error our caller gets for an upstream answer with a non-2xx ``status``."""
    said = "; ".join(i.diagnostics for i in issues if i.diagnostics)
    detail = f": {said}" if said else ""
    kwargs: dict[str, Any] = {"upstream_status": status, "upstream_issues": issues}
    if status in (404, 410):
        return UpstreamNotFound(
            f"{server} does not know what was asked (HTTP {status}){detail}", **kwargs
        )
    if status == 400:
        return UpstreamInvalid(f"{server} rejected the request (HTTP 400){detail}", **kwargs)
    if status == 422:
        return UpstreamUnprocessable(
            f"{server} could not process the request (HTTP 422){detail}", **kwargs
        )
    if status in (429, 503):
        headers = {"Retry-After": retry_after} if retry_after else {}
        return UpstreamBusy(
            f"{server} is busy or unavailable (HTTP {status}); try again later{detail}",
            headers=headers,
            **kwargs,
        )
    return BadGateway(f"{server} failed to answer (HTTP {status}){detail}", **kwargs)
