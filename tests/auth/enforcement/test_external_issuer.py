"""Tokens from an external issuer: its JWKS fetched over HTTP (mocked with respx), a rotated
key picked up without a restart, and a service that refuses to start with nobody to trust."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
import respx
from joserfc import jwt
from joserfc.jwk import RSAKey

from app.auth.tokens import TokenVerifier
from app.errors import Unauthorized
from app.main import StartupError, create_app
from tests.conftest import Backend

ISSUER = "https://login.nhs-idp.example"
JWKS = f"{ISSUER}/.well-known/jwks.json"
BASE = "https://mitral.example.nhs.uk/fhir"
FIRST = RSAKey.generate_key(2048, parameters={"kid": "2026-11"}, private=True)
SECOND = RSAKey.generate_key(2048, parameters={"kid": "2026-12"}, private=True)


def _token(key: RSAKey, **claims: object) -> str:
    now = int(time.time())
    body = {
        "iss": ISSUER,
        "aud": BASE,
        "sub": "clinician-7",
        "exp": now + 300,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "scope": "user/Patient.rs",
        "client_id": "epr-app",
        **claims,
    }
    return jwt.encode({"alg": "RS256", "kid": key.kid}, body, key)


def _jwks(*keys: RSAKey) -> dict[str, object]:
    return {"keys": [k.as_dict(private=False) for k in keys]}


@respx.mock
async def test_keys_are_fetched_and_a_rotated_key_is_picked_up() -> None:
    clock = [1_000.0]
    route = respx.get(JWKS).mock(return_value=httpx.Response(200, json=_jwks(FIRST)))
    verifier = TokenVerifier(jwks_url=JWKS, clock=lambda: clock[0])
    now = int(time.time())
    first = _token(FIRST, exp=now + 300)
    clock[0] = time.time()
    principal = await verifier.verify(first, issuer=ISSUER, audience=BASE)
    assert principal.client_id == "epr-app" and principal.grants.allows("Patient", "r")
    assert route.call_count == 1
    await verifier.verify(first, issuer=ISSUER, audience=BASE)
    assert route.call_count == 1  # cached: no fetch, no signature check

    route.mock(return_value=httpx.Response(200, json=_jwks(FIRST, SECOND)))
    rotated = _token(SECOND)
    with pytest.raises(Unauthorized):  # refetched at most every 30 s
        await verifier.verify(rotated, issuer=ISSUER, audience=BASE)
    clock[0] += 31
    principal = await verifier.verify(rotated, issuer=ISSUER, audience=BASE)
    assert principal.subject == "clinician-7"
    assert route.call_count == 2


@respx.mock
async def test_an_unreachable_issuer_refuses_tokens_clearly() -> None:
    respx.get(JWKS).mock(return_value=httpx.Response(503))
    verifier = TokenVerifier(jwks_url=JWKS)
    with pytest.raises(Unauthorized, match="keys cannot be fetched"):
        await verifier.verify(_token(FIRST), issuer=ISSUER, audience=BASE)


async def test_access_control_with_nobody_to_trust_stops_start_up(backend: Backend) -> None:
    application = create_app(backend.settings(access_control=True, auth_server=False))
    with pytest.raises(StartupError, match="MITRAL_FHIR_AUTH_ISSUER"):
        async with application.router.lifespan_context(application):
            pass
