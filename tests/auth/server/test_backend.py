"""Backend Services: client_credentials with private_key_jwt (Inferno's backend group and the
RFC 7523 checks SMART adds: algorithms, kid and jku, lifetime, jti replay, audience)."""

from __future__ import annotations

import secrets

import httpx
import pytest
import respx
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from tests.auth.server.conftest import (
    ES_KEY,
    FHIR_BASE,
    ISSUER,
    JWKS_URL,
    RS_KEY,
    URL_KEY,
    assertion,
    backend_form,
    url_jwks,
)


@pytest.mark.parametrize(("key", "alg"), [(RS_KEY, "RS384"), (ES_KEY, "ES384")])
async def test_backend_token_with_inline_jwks(
    http: httpx.AsyncClient, key: RSAKey | ECKey, alg: str
) -> None:
    response = await http.post("/auth/token", data=backend_form(assertion(key=key, alg=alg)))
    assert response.status_code == 200, response.text
    assert "no-store" in response.headers["cache-control"]
    body = response.json()
    assert body["token_type"].lower() == "bearer" and body["scope"] == "system/Patient.rs"
    assert 0 < body["expires_in"] <= 300
    assert "refresh_token" not in body and "id_token" not in body
    keys = (await http.get("/auth/jwks")).json()
    from joserfc.jwk import KeySet

    claims = jwt.decode(body["access_token"], KeySet.import_key_set(keys)).claims
    assert claims["iss"] == ISSUER and claims["aud"] == FHIR_BASE
    assert claims["client_id"] == claims["sub"] == "backend-inline"


@respx.mock
async def test_backend_token_with_jwks_url(http: httpx.AsyncClient) -> None:
    route = respx.get(JWKS_URL).mock(
        return_value=httpx.Response(200, json=url_jwks(), headers={"Cache-Control": "max-age=60"})
    )
    for _ in range(2):
        signed = assertion("backend-url", URL_KEY, header={"jku": JWKS_URL})
        response = await http.post("/auth/token", data=backend_form(signed))
        assert response.status_code == 200, response.text
    assert route.call_count == 1  # cached as Cache-Control allows


@respx.mock
async def test_jwks_url_not_cached_when_told_not_to(http: httpx.AsyncClient) -> None:
    route = respx.get(JWKS_URL).mock(
        return_value=httpx.Response(200, json=url_jwks(), headers={"Cache-Control": "no-store"})
    )
    for _ in range(2):
        response = await http.post(
            "/auth/token", data=backend_form(assertion("backend-url", URL_KEY))
        )
        assert response.status_code == 200
    assert route.call_count == 2


async def test_jku_must_be_the_registered_url(http: httpx.AsyncClient) -> None:
    signed = assertion("backend-url", URL_KEY, header={"jku": "https://evil.example/jwks"})
    response = await http.post("/auth/token", data=backend_form(signed))
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


async def test_bad_grant_type(http: httpx.AsyncClient) -> None:
    form = {**backend_form(assertion()), "grant_type": "not_a_grant_type"}
    response = await http.post("/auth/token", data=form)
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"


async def test_bad_assertion_type(http: httpx.AsyncClient) -> None:
    form = {**backend_form(assertion()), "client_assertion_type": "not_an_assertion_type"}
    response = await http.post("/auth/token", data=form)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


def _without_alg(key: RSAKey) -> RSAKey:
    return RSAKey.import_key({k: v for k, v in key.as_dict(private=True).items() if k != "alg"})


def _other_rs_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": "rs-1"}, private=True)


@pytest.mark.parametrize(
    "signed",
    [
        pytest.param(lambda: assertion(key=_other_rs_key()), id="bad-signature"),
        pytest.param(lambda: assertion(lifetime=-120), id="expired"),
        pytest.param(lambda: assertion(lifetime=600), id="lifetime-over-5-minutes"),
        pytest.param(
            lambda: assertion(key=RSAKey.generate_key(2048, parameters={"kid": "nope"})),
            id="unknown-kid",
        ),
        pytest.param(lambda: assertion(aud="https://elsewhere.example/token"), id="wrong-aud"),
        pytest.param(lambda: assertion(client_id="nobody"), id="unknown-client"),
        pytest.param(lambda: assertion(key=_without_alg(RS_KEY), alg="RS256"), id="rs256"),
        pytest.param(lambda: "not.a.jwt", id="garbage"),
    ],
)
async def test_bad_assertions_are_invalid_client(http: httpx.AsyncClient, signed: object) -> None:
    assert callable(signed)
    response = await http.post("/auth/token", data=backend_form(signed()))
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"
    assert "access_token" not in response.json()


async def test_replayed_jti_is_refused(http: httpx.AsyncClient) -> None:
    jti = secrets.token_hex(32)
    first = await http.post("/auth/token", data=backend_form(assertion(jti=jti)))
    assert first.status_code == 200
    replay = await http.post("/auth/token", data=backend_form(assertion(jti=jti)))
    assert replay.status_code == 401 and replay.json()["error"] == "invalid_client"


@pytest.mark.parametrize("scope", ["system/*.cruds", "system/Encounter.rs", "", "launch"])
async def test_scope_beyond_registration_is_invalid_scope(
    http: httpx.AsyncClient, scope: str
) -> None:
    response = await http.post("/auth/token", data=backend_form(assertion(), scope=scope))
    assert response.status_code == 400 and response.json()["error"] == "invalid_scope"


async def test_v1_system_scope_is_accepted(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/auth/token", data=backend_form(assertion(), scope="system/Patient.read")
    )
    assert response.status_code == 200 and response.json()["scope"] == "system/Patient.read"
