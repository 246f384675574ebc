"""One FHIR request's passage through security: admitted (token and scopes), run with its
Principal bound, and recorded in the audit trail whatever the outcome."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from app.auth import context as principal_context
from app.auth.access import UNRESTRICTED, AccessEvent, Principal
from app.auth.guard import ANONYMOUS, Guard, check_route
from app.auth.policy import Decision
from app.fhir.context import INTERACTION, base_url, system_clock
from app.fhir.router import Handler, Route

_SYSTEM_READS = frozenset({"search-system", "history-system", "transaction", "operation"})
"""System-level interactions that may return AuditEvents (a batch may search them)."""


class Door:
    """The request's Admission (app.auth.context): bound while its handler runs."""

    __slots__ = ("_base", "_params", "_route", "_scope", "decision", "principal")

    def __init__(self, scope: Scope) -> None:
        self._scope = scope
        self._route: Route | None = None
        self._params: Mapping[str, str] = {}
        self._base: str | None = None
        self.principal: Principal = ANONYMOUS
        self.decision: Decision | None = None
        """The route's decision (one type, one letter), reused by ``policy.require``."""

    async def admit(self, request: Request, route: Route, params: Mapping[str, str]) -> None:
        self._route, self._params = route, params
        scope = self._scope
        app = scope.get("app")
        if app is None:  # the bare dispatcher, outside the service (its tests)
            self.principal = UNRESTRICTED
            return
        guard: Guard = app.state.guard  # the service always has one (fails closed)
        if not guard.enabled:
            self.principal = UNRESTRICTED
            return
        code = route.code
        if code == "capabilities":
            return  # public: the CapabilityStatement tells clients how to get a token
        headers = scope["headers"]
        principal = guard.admitted(scope)  # a token seen before: no coroutine, no parsing
        if principal is None:
            principal = await guard.verify(request)
        self.principal = principal
        conditional = code == "create" and any(name == b"if-none-exist" for name, _ in headers)
        self.decision = check_route(principal, code, route.operation, params, conditional)

    async def run(self, handler: Handler, request: Request) -> Response:
        if self._may_read_audit_events():
            await self._audit_caught_up()
        token = principal_context.bind(self)
        try:
            return await handler(request)
        finally:
            principal_context.unbind(token)

    def _may_read_audit_events(self) -> bool:
        route = self._route
        if route is None:
            return False
        if route.level == "system":
            return route.code in _SYSTEM_READS
        params = self._params
        return (
            params.get("type") == "AuditEvent"
            or params.get("target") == "AuditEvent"
            or route.operation == "everything"
        )

    async def _audit_caught_up(self) -> None:
        """Spooled accesses become AuditEvents before anything that may read them runs: the
        trail defers that work to quiet moments (app.auth.audit), never past a reader."""
        app = self._scope.get("app")
        audit = getattr(app.state, "audit", None) if app is not None else None
        if audit is not None and audit.enabled:
            await audit.flush()

    def record(self, status: int) -> None:
        app = self._scope.get("app")
        audit = getattr(app.state, "audit", None) if app is not None else None
        route = self._route
        if (
            audit is None
            or not audit.enabled
            or (route is not None and route.code == "capabilities")
        ):
            return
        if self._base is None:
            self._base = base_url(Request(self._scope))
        params = self._params
        res_type, res_id = params.get("type"), params.get("id")
        patients = []
        if self.principal.patient:
            patients.append(self.principal.patient)
        if res_type == "Patient" and res_id and res_id not in patients:
            patients.append(res_id)
        client = self._scope.get("client")
        audit.record(
            AccessEvent(
                principal=self.principal,
                method=self._scope["method"],
                path=self._scope["path"],
                interaction=self._scope.get(INTERACTION) or (route.code if route else "unknown"),
                status=status,
                recorded=system_clock(),
                res_type=params.get("target") or res_type,
                res_id=None if params.get("target") else res_id,
                query=self._scope.get("query_string", b"").decode("latin-1"),
                patients=tuple(patients),
                address=client[0] if client else None,
                base=self._base,
            )
        )
