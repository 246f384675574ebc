"""The resource server's side of OAuth: bearer JWTs checked against the issuer's keys.

Signature, ``iss``, ``aud``, ``exp`` (and ``nbf``), then revocation. A verified token is
cached by its text until it expires, so a client's second request costs a dict lookup and
the expiry and revocation checks, not an RSA verification (~40 µs) and a claims parse.
External issuers publish their keys as a JWKS URL: fetched once, and again (at most every
30 s) when a token names a ``kid`` we do not hold, so key rotation needs no restart.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from app.auth.access import Principal
from app.auth.scopes import Grants
from app.errors import Unauthorized

log = logging.getLogger("mitral_fhir")

ALGORITHMS = ["RS256", "RS384", "ES256", "ES384"]
_CACHE_LIMIT = 10_000
_REFETCH_AFTER = 30.0
LEEWAY = 30
"""Seconds of clock skew tolerated on ``exp`` and ``nbf``."""


def invalid_token(description: str) -> Unauthorized:
    return Unauthorized(
        f"The access token is not accepted: {description}",
        headers={
            "WWW-Authenticate": f'Bearer realm="mitral-fhir", error="invalid_token", '
            f'error_description="{description}"'
        },
    )


def missing_token() -> Unauthorized:
    return Unauthorized(
        "This endpoint needs a bearer access token (SMART on FHIR); see "
        "/fhir/.well-known/smart-configuration",
        headers={"WWW-Authenticate": 'Bearer realm="mitral-fhir"'},
    )


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise missing_token()
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise invalid_token("the Authorization header must be 'Bearer <token>'")
    return token.strip()


@dataclass(frozen=True, slots=True)
class _Verified:
    principal: Principal
    issuer: str
    audiences: tuple[str, ...]
    not_before: int


class TokenVerifier:
    """Checks bearer tokens for one issuer; ``keys`` gives the embedded server's public keys,
    ``jwks_url`` an external issuer's."""

    def __init__(
        self,
        *,
        keys: Callable[[], KeySet] | None = None,
        jwks_url: str | None = None,
        is_revoked: Callable[[str], bool] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if keys is None and jwks_url is None:
            raise ValueError("a TokenVerifier needs keys or a JWKS URL")
        self._keys = keys
        self._jwks_url = jwks_url
        self._remote: KeySet | None = None
        self._fetched_at = 0.0
        self._is_revoked = is_revoked
        self._clock = clock
        self._cache: dict[str, _Verified] = {}
        self._headers: dict[bytes, tuple[Principal, str, float, str | None]] = {}
        """Authorization headers accepted: the Principal, the issuer and audience (both follow
        from the Host) it was accepted for, when it expires (with ``LEEWAY``) and the token id
        to check for revocation (None: nothing to check)."""

    def admitted(self, header: bytes, expected: str) -> Principal | None:
        """The fast path of ``verify`` for an ``Authorization`` header accepted before for the
        same issuer and audience (``expected``: both, as one string): only what can change
        since (expiry, revocation) is checked again. None: take the full path (which also
        says why a token is refused)."""
        seen = self._headers.get(header)
        if seen is None:
            return None
        principal, accepted_for, deadline, token_id = seen
        if accepted_for != expected or self._clock() > deadline:
            return None
        if token_id is not None and self._is_revoked and self._is_revoked(token_id):
            return None
        return principal

    def remember(self, header: bytes, expected: str, principal: Principal) -> None:
        if len(self._headers) >= _CACHE_LIMIT:
            self._headers.clear()
        expires = principal.expires_at
        deadline = math.inf if expires is None else expires + LEEWAY
        self._headers[header] = (principal, expected, deadline, principal.token_id or None)

    async def verify(self, token: str, *, issuer: str, audience: str) -> Principal:
        """The Principal ``token`` stands for, or Unauthorized saying why not."""
        found = self._cache.get(token)
        if found is None:
            found = await self._decode(token)
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[token] = found
        now = self._clock()
        principal = found.principal
        if principal.expires_at is not None and now > principal.expires_at + LEEWAY:
            self._cache.pop(token, None)
            raise invalid_token("it has expired")
        if found.not_before and now + LEEWAY < found.not_before:
            raise invalid_token("it is not valid yet (nbf)")
        if found.issuer != issuer:
            raise invalid_token(f"it was issued by '{found.issuer}', not '{issuer}'")
        if audience.rstrip("/") not in found.audiences:
            raise invalid_token(f"its audience is not this server ({audience})")
        if principal.token_id and self._is_revoked and self._is_revoked(principal.token_id):
            raise invalid_token("it has been revoked")
        return principal

    async def _keyset(self, kid: str | None) -> KeySet:
        if self._keys is not None:
            return self._keys()
        assert self._jwks_url is not None
        stale = self._remote is None or (
            kid is not None
            and not any(k.kid == kid for k in self._remote.keys)
            and self._clock() - self._fetched_at > _REFETCH_AFTER
        )
        if stale:
            await self._fetch()
        assert self._remote is not None
        return self._remote

    async def _fetch(self) -> None:
        assert self._jwks_url is not None
        try:
            async with httpx.AsyncClient(timeout=10.0) as http:
                response = await http.get(self._jwks_url)
                response.raise_for_status()
                self._remote = KeySet.import_key_set(response.json())
        except (httpx.HTTPError, ValueError, JoseError) as exc:
            log.error("cannot fetch the issuer's JWKS from %s: %s", self._jwks_url, exc)
            if self._remote is None:
                raise invalid_token("the issuer's keys cannot be fetched") from None
        self._fetched_at = self._clock()

    async def _decode(self, token: str) -> _Verified:
        try:
            kid = extract_compact(token.encode()).headers().get("kid")
        except (JoseError, ValueError):
            raise invalid_token("it is not a JWT") from None
        keyset = await self._keyset(kid)
        try:
            decoded = jwt.decode(token, keyset, algorithms=ALGORITHMS)
        except (JoseError, ValueError) as exc:
            raise invalid_token(f"its signature does not verify ({type(exc).__name__})") from None
        return _verified(decoded.claims)

    def forget(self) -> None:
        """Drop every cached verification (tests, key rotation)."""
        self._cache.clear()
        self._headers.clear()


def _text(claims: dict[str, Any], name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and value else None


def _verified(claims: dict[str, Any]) -> _Verified:
    exp = claims.get("exp")
    if not isinstance(exp, int | float):
        raise invalid_token("it has no 'exp' claim")
    issuer = _text(claims, "iss")
    if issuer is None:
        raise invalid_token("it has no 'iss' claim")
    aud = claims.get("aud")
    listed = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    audiences = tuple(a for a in listed if isinstance(a, str))
    if not audiences:
        raise invalid_token("it has no 'aud' claim")
    scope = claims.get("scope", "")
    if isinstance(scope, list):
        scope = " ".join(str(s) for s in scope)
    client_id = _text(claims, "client_id") or _text(claims, "azp") or _text(claims, "cid") or ""
    nbf = claims.get("nbf")
    principal = Principal(
        client_id=client_id,
        subject=_text(claims, "sub") or client_id,
        grants=Grants.parse(scope if isinstance(scope, str) else ""),
        patient=_text(claims, "patient"),
        encounter=_text(claims, "encounter"),
        fhir_user=_text(claims, "fhirUser"),
        token_id=_text(claims, "jti"),
        expires_at=int(exp),
    )
    return _Verified(
        principal=principal,
        issuer=issuer,
        audiences=tuple(a.rstrip("/") for a in audiences),
        not_before=int(nbf) if isinstance(nbf, int | float) else 0,
    )
