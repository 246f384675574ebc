"""Access to the routes outside the FHIR base: ingest (centres push data, integration teams
read the quarantine with its raw messages) and the pathway metrics.

None of them is confined to one patient, so ``patient/`` scopes never open them:
- ingest: ``system/*`` or ``user/*`` with ``c`` to push or replay, ``r`` to read the units
  and the quarantine (``system/*.cr``, or v1 ``system/*.read system/*.write``);
- metrics: ``user/`` or ``system/`` ``MeasureReport.r`` (or ``*.r``): they are what
  ``$evaluate-measure`` reports.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.types import Scope

from app.auth.access import AccessEvent, Principal
from app.auth.guard import ANONYMOUS, Guard
from app.errors import FhirError, Forbidden
from app.fhir.context import system_clock


def _covered(principal: Principal, res_type: str | None, letter: str) -> bool:
    return principal.unrestricted or any(
        r.level != "patient" and r.res_type in (None, res_type) and letter in r.letters
        for r in principal.grants.rules
        if not r.filters
    )


def _record(request: Request, principal: Principal, interaction: str, status: int) -> None:
    audit = getattr(request.app.state, "audit", None)
    if audit is None:
        return
    client = request.client
    audit.record(
        AccessEvent(
            principal=principal,
            method=request.method,
            path=request.url.path,
            interaction=interaction,
            status=status,
            recorded=system_clock(),
            query=request.url.query,
            address=client.host if client else None,
        )
    )


_PENDING = "mitral.audit_pending"


def record_admitted(scope: Scope, status: int) -> None:
    """Record an admitted ingest or metrics request with the status it was answered with."""
    pending = scope.pop(_PENDING, None)
    if pending is not None:
        request, principal, interaction = pending
        _record(request, principal, interaction, status)


def protect(
    interaction: str, res_type: str | None = None, letter: str | None = None
) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the caller's Principal, or 401/403 as an OperationOutcome.
    ``letter`` None: ``r`` for GET and HEAD, ``c`` otherwise."""

    async def dependency(request: Request) -> Principal:
        guard: Guard = request.app.state.guard
        principal = ANONYMOUS
        needed = letter or ("r" if request.method in ("GET", "HEAD") else "c")
        try:
            principal = await guard.authenticate(request)
            if not _covered(principal, res_type, needed):
                target = res_type or "every resource type (*)"
                raise Forbidden(
                    f"{interaction} needs a user/ or system/ scope granting '{needed}' on {target}",
                    expression=(res_type or "*",),
                )
        except FhirError as exc:
            _record(request, principal, interaction, exc.status)
            raise
        # Recorded once the response status is known (``record_admitted``).
        request.scope[_PENDING] = (request, principal, interaction)
        return principal

    return dependency
