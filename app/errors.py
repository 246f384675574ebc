"""The one error hierarchy: every failure a client can see becomes an OperationOutcome.

Each class carries its HTTP status and FHIR issue code so the HTTP layer never has to
guess; storage and validation raise these, the FHIR layer renders them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import orjson


@dataclass(frozen=True, slots=True)
class Issue:
    """One OperationOutcome.issue: what went wrong and where (a FHIRPath expression)."""

    severity: str
    code: str
    diagnostics: str
    expression: tuple[str, ...] = ()

    def to_fhir(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            out["expression"] = list(self.expression)
        return out


def operation_outcome(issues: list[Issue] | tuple[Issue, ...]) -> dict[str, Any]:
    return {"resourceType": "OperationOutcome", "issue": [i.to_fhir() for i in issues]}


def operation_outcome_bytes(issues: list[Issue] | tuple[Issue, ...]) -> bytes:
    return orjson.dumps(operation_outcome(issues))


@dataclass
class FhirError(Exception):
    """Base class: a client-visible failure with status, issue code and location."""

    diagnostics: str
    expression: tuple[str, ...] = ()
    issues: list[Issue] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    status: HTTPStatus = HTTPStatus.BAD_REQUEST
    issue_code: str = "invalid"
    severity: str = "error"

    def __post_init__(self) -> None:
        Exception.__init__(self, self.diagnostics)

    def all_issues(self) -> list[Issue]:
        """The headline issue first, then any detail issues (e.g. every validation error)."""
        if self.issues:
            return self.issues
        return [Issue(self.severity, self.issue_code, self.diagnostics, self.expression)]


@dataclass
class InvalidRequest(FhirError):
    status: HTTPStatus = HTTPStatus.BAD_REQUEST
    issue_code: str = "invalid"


@dataclass
class StructureError(FhirError):
    """The body is not a well-formed FHIR resource (parse level)."""

    status: HTTPStatus = HTTPStatus.BAD_REQUEST
    issue_code: str = "structure"


@dataclass
class Unprocessable(FhirError):
    """Well-formed JSON that breaks the FHIR rules (types, cardinality, values)."""

    status: HTTPStatus = HTTPStatus.UNPROCESSABLE_ENTITY
    issue_code: str = "processing"


@dataclass
class ResourceNotFound(FhirError):
    status: HTTPStatus = HTTPStatus.NOT_FOUND
    issue_code: str = "not-found"


@dataclass
class Unauthorized(FhirError):
    """No bearer token, or one that is invalid, expired or revoked (RFC 6750)."""

    status: HTTPStatus = HTTPStatus.UNAUTHORIZED
    issue_code: str = "login"


@dataclass
class Forbidden(FhirError):
    """A valid token whose scopes do not cover the request (decided before any query)."""

    status: HTTPStatus = HTTPStatus.FORBIDDEN
    issue_code: str = "forbidden"


@dataclass
class ResourceGone(FhirError):
    status: HTTPStatus = HTTPStatus.GONE
    issue_code: str = "deleted"


@dataclass
class VersionConflict(FhirError):
    status: HTTPStatus = HTTPStatus.CONFLICT
    issue_code: str = "conflict"


@dataclass
class PreconditionFailed(FhirError):
    status: HTTPStatus = HTTPStatus.PRECONDITION_FAILED
    issue_code: str = "conflict"


@dataclass
class MultipleMatches(FhirError):
    status: HTTPStatus = HTTPStatus.PRECONDITION_FAILED
    issue_code: str = "multiple-matches"


@dataclass
class NotSupported(FhirError):
    status: HTTPStatus = HTTPStatus.NOT_IMPLEMENTED
    issue_code: str = "not-supported"


@dataclass
class MethodNotAllowed(FhirError):
    status: HTTPStatus = HTTPStatus.METHOD_NOT_ALLOWED
    issue_code: str = "not-supported"


@dataclass
class NotAcceptable(FhirError):
    status: HTTPStatus = HTTPStatus.NOT_ACCEPTABLE
    issue_code: str = "not-supported"


@dataclass
class UnsupportedMediaType(FhirError):
    status: HTTPStatus = HTTPStatus.UNSUPPORTED_MEDIA_TYPE
    issue_code: str = "not-supported"


@dataclass
class PayloadTooLarge(FhirError):
    status: HTTPStatus = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    issue_code: str = "too-costly"


@dataclass
class Transient(FhirError):
    """The database could not serialize this request with a concurrent one; retry it."""

    status: HTTPStatus = HTTPStatus.SERVICE_UNAVAILABLE
    issue_code: str = "transient"


@dataclass
class QueryTimeout(FhirError):
    """A read ran past ``query_timeout_seconds`` and was stopped, so it holds no more resources.

    503, not 408: 408 says the client was too slow to send its request; here the server gave up.
    """

    status: HTTPStatus = HTTPStatus.SERVICE_UNAVAILABLE
    issue_code: str = "timeout"

    @classmethod
    def after(cls, seconds: float | None) -> QueryTimeout:
        limit = f"the {seconds:g} s limit" if seconds else "what the database allows"
        return cls(
            f"The query ran longer than {limit} and was stopped. Narrow the search (more "
            "selective parameters, a smaller _count, fewer _include or _revinclude) and try "
            "again."
        )
