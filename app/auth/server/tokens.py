"""Issuing tokens: RS256 JWT access tokens (``typ`` ``at+jwt``, the claims the resource
server checks), OpenID ``id_token``s with ``fhirUser``, and opaque refresh tokens."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import RSAKey

from app.auth.keys import SIGNING_ALG
from app.auth.scopes import Grants
from app.auth.server.store import AuthStore, GrantRecord, now

BACKEND_SECONDS = 300
OFFLINE_SECONDS = 30 * 24 * 3600
ONLINE_SECONDS = 12 * 3600


@dataclass(frozen=True, slots=True)
class Site:
    """The URLs of one request: the FHIR base and the issuer derived from it."""

    fhir_base: str
    issuer: str
    audience: str
    """The access tokens' ``aud``: MITRAL_FHIR_AUTH_AUDIENCE, else the FHIR base."""

    def absolute(self, reference: str | None) -> str | None:
        if not reference or "://" in reference:
            return reference
        return f"{self.fhir_base}/{reference}"


class TokenIssuer:
    def __init__(self, key: RSAKey, store: AuthStore, token_seconds: int) -> None:
        self.key = key
        self.store = store
        self.token_seconds = token_seconds

    def _sign(self, claims: dict[str, Any], typ: str) -> str:
        header = {"alg": SIGNING_ALG, "kid": self.key.kid, "typ": typ}
        return jwt.encode(header, claims, self.key)

    async def issue(
        self, site: Site, record: GrantRecord, *, backend: bool = False, refresh: bool = True
    ) -> dict[str, Any]:
        """The token response body for ``record``; stores what revocation needs."""
        issued = now()
        lifetime = min(self.token_seconds, BACKEND_SECONDS) if backend else self.token_seconds
        jti = secrets.token_urlsafe(24)
        fhir_user = site.absolute(record.fhir_user)
        claims: dict[str, Any] = {
            "iss": site.issuer,
            "sub": record.subject,
            "aud": site.audience,
            "exp": issued + lifetime,
            "iat": issued,
            "jti": jti,
            "client_id": record.client_id,
            "scope": record.scope,
        }
        context = {"patient": record.patient, "encounter": record.encounter}
        claims.update({k: v for k, v in context.items() if v})
        if fhir_user:
            claims["fhirUser"] = fhir_user
        body: dict[str, Any] = {
            "access_token": self._sign(claims, "at+jwt"),
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": record.scope,
            **{k: v for k, v in context.items() if v},
        }
        if record.patient:
            body["need_patient_banner"] = record.need_patient_banner
        granted = Grants.parse(record.scope).other
        if {"openid", "fhirUser"} <= granted and fhir_user:
            id_claims = {
                "iss": site.issuer,
                "sub": record.subject,
                "aud": record.client_id,
                "exp": issued + lifetime,
                "iat": issued,
                "fhirUser": fhir_user,
            }
            if record.nonce:
                id_claims["nonce"] = record.nonce
            body["id_token"] = self._sign(id_claims, "JWT")
        await self.store.record_token(jti, record.grant_id, record.client_id, issued + lifetime)
        if refresh and not backend and granted & {"offline_access", "online_access"}:
            token = secrets.token_urlsafe(32)
            keep = OFFLINE_SECONDS if "offline_access" in granted else ONLINE_SECONDS
            await self.store.save_refresh(token, record, keep)
            body["refresh_token"] = token
        return body

    def decode(self, token: str, site: Site | None) -> dict[str, Any] | None:
        """The claims of a live access token we issued (None when not one); with ``site``,
        issued for that issuer."""
        try:
            decoded = jwt.decode(token, self.key, algorithms=[SIGNING_ALG])
        except (JoseError, ValueError):
            return None
        if decoded.header.get("typ") != "at+jwt":
            return None
        claims = dict(decoded.claims)
        exp = claims.get("exp")
        if site is not None and claims.get("iss") != site.issuer:
            return None
        if not isinstance(exp, int) or exp < now():
            return None
        return claims
