"""The door of every protected route: who is asking (bearer token) and may they ask this.

The route-level check is decided from the token and the URL alone, before the handler runs
any query. What the handler then reads or writes is confined further by app.auth.visibility
and app.auth.write_access (the patient compartment, granular filters, Bundle entries).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from starlette.requests import Request
from starlette.types import Scope

from app.auth import policy
from app.auth.access import UNRESTRICTED, Principal
from app.auth.policy import Decision
from app.auth.scopes import Grants
from app.auth.tokens import TokenVerifier, bearer_token
from app.auth.write_access import check_conditional
from app.config import Settings
from app.errors import Forbidden, ResourceNotFound
from app.fhir.context import base_url, embedded_issuer

log = logging.getLogger("mitral_fhir")

ANONYMOUS = Principal(client_id="", subject="anonymous", grants=Grants.parse(""))
"""Who a request without an accepted token is, in the audit trail."""

ROUTE_LETTERS = {
    "read": "r",
    "vread": "r",
    "history-instance": "r",
    "search-type": "s",
    "history-type": "s",
    "create": "c",
    "update": "u",
    "patch": "u",
    "delete": "d",
    "conditional-update": "u",
    "conditional-patch": "u",
    "conditional-delete": "d",
}
"""SMART v2 letters per restful interaction (scopes-and-launch-context)."""

_CONDITIONAL = frozenset(code for code in ROUTE_LETTERS if code.startswith("conditional-"))

PUBLIC = frozenset({"capabilities"})
"""Interactions anyone may call: the CapabilityStatement says how to get a token."""

TERMINOLOGY_OPERATIONS = {
    "lookup": "CodeSystem",
    "subsumes": "CodeSystem",
    "expand": "ValueSet",
    "translate": "ConceptMap",
}


_EXPECTED_LIMIT = 256


class Guard:
    def __init__(self, settings: Settings, verifier: TokenVerifier | None) -> None:
        self.enabled = settings.access_control
        self._verifier = verifier
        self._issuer = settings.auth_issuer.rstrip("/") if settings.auth_issuer else None
        self._audience = settings.auth_audience
        self._expected: dict[tuple[object, ...], tuple[str, str, str]] = {}
        """Per (scheme, Host, root path, server), what the base URL follows from
        (``base_url``): the issuer and audience expected, and both as one key (``admitted``)."""

    def issuer(self, base: str) -> str:
        return self._issuer or embedded_issuer(base)

    def admitted(self, scope: Scope) -> Principal | None:
        """The fast path of ``authenticate``, without a coroutine: the Principal of an
        ``Authorization`` header accepted before for this base URL, once expiry and
        revocation are checked again (``TokenVerifier.admitted``). None: take ``verify``."""
        raw, host = _credentials(scope)
        verifier = self._verifier
        if raw is None or verifier is None or not self.enabled:
            return None
        expected = self._expected.get(_base_key(scope, host))
        return None if expected is None else verifier.admitted(raw, expected[2])

    async def authenticate(self, request: Request) -> Principal:
        """The token's Principal; Unauthorized (401) without an acceptable one."""
        if not self.enabled:
            return UNRESTRICTED
        found = self.admitted(request.scope)
        return found if found is not None else await self.verify(request)

    async def verify(self, request: Request) -> Principal:
        """``authenticate`` past its fast path: the token checked in full (first sight, or
        refused), and remembered for ``admitted``."""
        verifier = self._verifier
        if verifier is None:
            raise RuntimeError("access control is on but no token verifier is configured")
        raw, host = _credentials(request.scope)
        key = _base_key(request.scope, host)
        expected = self._expected.get(key)
        if expected is None:  # the issuer and audience for this base URL, worked out once
            base = base_url(request)
            issuer, audience = self.issuer(base), self._audience or base
            expected = (issuer, audience, f"{issuer} {audience}")
            if len(self._expected) < _EXPECTED_LIMIT:
                self._expected[key] = expected
        token = bearer_token(raw.decode("latin-1") if raw is not None else None)
        principal = await verifier.verify(token, issuer=expected[0], audience=expected[1])
        assert raw is not None  # bearer_token refused a missing header
        verifier.remember(raw, expected[2], principal)
        return principal


def _credentials(scope: Scope) -> tuple[bytes | None, bytes | None]:
    """The request's ``Authorization`` and ``Host`` headers (the last of each wins)."""
    raw, host = None, None
    for name, value in scope["headers"]:
        if name == b"authorization":
            raw = value
        elif name == b"host":
            host = value
    return raw, host


def _base_key(scope: Scope, host: bytes | None) -> tuple[object, ...]:
    """What the request's base URL follows from, as ``base_url`` keys it."""
    return (scope.get("scheme"), host, scope.get("root_path"), scope.get("server"))


def check_route(
    principal: Principal,
    code: str,
    operation: str,
    params: Mapping[str, str],
    conditional_create: bool = False,
) -> Decision | None:
    """Forbidden unless the token's scopes cover this interaction on this type.

    The decision for a plain interaction on one type (read, search-type, update, ...) is
    returned; None where the route allows no single one (public, unrestricted, operations,
    and what is checked per type or entry later)."""
    if principal.unrestricted or code in PUBLIC:
        return None
    letter = ROUTE_LETTERS.get(code)
    if letter is not None and not operation:  # the common case first: one type, one letter
        res_type = params.get("type")
        if res_type is None:
            return None
        decision = policy.decide(principal, res_type, letter)
        if conditional_create or code in _CONDITIONAL:
            check_conditional(res_type)
        return decision
    if operation:
        _check_operation(principal, operation, params.get("type"), params.get("id"))
    elif code == "search-compartment":
        policy.decide(principal, params["target"], "s")
    # search-system, history-system, transaction and batch are checked per type or entry.
    return None


def _check_operation(
    principal: Principal, name: str, res_type: str | None, res_id: str | None
) -> None:
    if name in TERMINOLOGY_OPERATIONS:
        policy.decide(principal, TERMINOLOGY_OPERATIONS[name], "r")
    elif name == "validate-code":
        policy.decide(principal, res_type or "ValueSet", "r")
    elif name == "validate":
        # $validate reads nothing stored; it is for clients about to create or update.
        if not any(principal.grants.allows(res_type or "*", letter) for letter in "cur"):
            raise policy.forbidden(res_type or "Resource", "c")
    elif name == "pathway":
        decision = policy.decide(principal, "Patient", "r")
        policy.decide(principal, "CarePlan", "r")
        if decision.patient is not None and res_id not in (None, decision.patient):
            raise ResourceNotFound(f"Patient/{res_id} is not known")
    elif name == "everything":
        # Each type of the record is then confined like a search, or left out.
        decision = policy.decide(principal, "Patient", "r")
        if decision.patient is not None and res_id not in (None, decision.patient):
            raise ResourceNotFound(f"Patient/{res_id} is not known")
    elif name == "evaluate-measure":
        decision = policy.decide(principal, "Measure", "r")
        if decision.patient is not None:
            raise Forbidden(
                "$evaluate-measure reports on every patient: it needs user/ or system/ "
                "scopes, not a patient-context token",
                expression=("Measure",),
            )
    else:  # an operation we did not classify is refused rather than left open
        raise Forbidden(f"${name} is not open to tokens", expression=(f"${name}",))
