"""Which tokens the service trusts, decided once at start-up from the settings."""

from __future__ import annotations

import logging
from typing import Any

from joserfc.jwk import KeySet

from app.auth.guard import Guard
from app.auth.tokens import TokenVerifier
from app.config import Settings

log = logging.getLogger("mitral_fhir")

_OFF_WARNING = """
************************************************************************
*  ACCESS CONTROL IS OFF: every FHIR, ingest and metrics route answers *
*  anyone, without a token. Only for the demo on your own machine.     *
*  Set MITRAL_FHIR_ACCESS_CONTROL=true to require SMART on FHIR tokens.*
************************************************************************"""


class StartupError(RuntimeError):
    """Access control is on, but no issuer can be trusted."""


def build_guard(settings: Settings, state: Any) -> Guard:
    """The Guard for this process. ``state`` is ``app.state``: the embedded authorization
    server is set on it during start-up, so its keys are looked up when first needed."""
    if not settings.access_control:
        log.warning(_OFF_WARNING)
        return Guard(settings, None)
    if settings.auth_issuer:
        jwks = settings.auth_jwks_url or settings.auth_issuer.rstrip("/") + "/.well-known/jwks.json"
        log.info("access control on: tokens from %s (keys %s)", settings.auth_issuer, jwks)
        return Guard(settings, TokenVerifier(jwks_url=jwks))
    if not settings.auth_server:
        raise StartupError(
            "access control is on, but there is no issuer to trust: set "
            "MITRAL_FHIR_AUTH_ISSUER (an external authorization server) or "
            "MITRAL_FHIR_AUTH_SERVER=true (the embedded one)"
        )

    def keys() -> KeySet:
        keyset: KeySet = state.auth_server.public_keyset()
        return keyset

    def is_revoked(jti: str) -> bool:
        revoked: bool = state.auth_server.is_revoked(jti)
        return revoked

    log.info("access control on: tokens from the embedded authorization server (/auth)")
    return Guard(settings, TokenVerifier(keys=keys, is_revoked=is_revoked))
