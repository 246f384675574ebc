"""The token endpoint for apps: code exchange, PKCE, refresh, id_token, launch context
(Inferno's token checks and ONC g10's invalid PKCE, code, client and refresh tests)."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.auth.server.conftest import (
    FHIR_BASE,
    ISSUER,
    PATIENT,
    REDIRECT,
    SECRET,
    exchange,
    launch,
)


def _claims(token: str, keys: KeySet) -> tuple[dict[str, object], dict[str, object]]:
    decoded = jwt.decode(token, keys, algorithms=["RS256"])
    return dict(decoded.header), dict(decoded.claims)


async def _keys(http: httpx.AsyncClient) -> KeySet:
    return KeySet.import_key_set((await http.get("/auth/jwks")).json())


async def test_code_exchange_gives_smart_token_response(http: httpx.AsyncClient) -> None:
    done = await launch(http)
    response = await exchange(http, done)
    assert response.status_code == 200, response.text
    assert "no-store" in response.headers["cache-control"]
    assert "no-cache" in response.headers["pragma"]
    body = response.json()
    assert body["token_type"].lower() == "bearer"
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    assert set(body["scope"].split()) == {
        "launch/patient",
        "openid",
        "fhirUser",
        "offline_access",
        "patient/*.rs",
    }
    assert body["patient"] == PATIENT
    assert body["need_patient_banner"] is True
    assert body["refresh_token"]
    keys = await _keys(http)
    header, claims = _claims(body["access_token"], keys)
    assert header["typ"] == "at+jwt" and header["alg"] == "RS256" and header["kid"]
    assert claims["iss"] == ISSUER and claims["aud"] == FHIR_BASE
    assert claims["client_id"] == "app-public" and claims["sub"] == "doc"
    assert claims["patient"] == PATIENT and claims["scope"] == body["scope"]
    assert claims["fhirUser"] == f"{FHIR_BASE}/Practitioner/pr-1" and claims["jti"]


async def test_id_token_is_rs256_with_fhir_user(http: httpx.AsyncClient) -> None:
    body = (await exchange(http, await launch(http, nonce="n-123"))).json()
    header, claims = _claims(body["id_token"], await _keys(http))
    assert header["alg"] == "RS256" and header["kid"]
    assert claims["iss"] == ISSUER and claims["aud"] == "app-public" and claims["sub"] == "doc"
    assert isinstance(claims["exp"], int) and isinstance(claims["iat"], int)
    assert claims["fhirUser"] == f"{FHIR_BASE}/Practitioner/pr-1" and claims["nonce"] == "n-123"


async def test_no_id_token_or_refresh_without_their_scopes(http: httpx.AsyncClient) -> None:
    body = (await exchange(http, await launch(http, "launch/patient patient/*.rs"))).json()
    assert "id_token" not in body and "refresh_token" not in body


async def test_v1_scopes_are_granted_as_asked(http: httpx.AsyncClient) -> None:
    body = (await exchange(http, await launch(http, "launch/patient patient/*.read"))).json()
    assert body["scope"].split() == ["patient/*.read", "launch/patient"]


@pytest.mark.parametrize("verifier", [None, "", "  ", "x" * 60])
async def test_pkce_verifier_missing_blank_or_wrong(
    http: httpx.AsyncClient, verifier: str | None
) -> None:
    response = await exchange(http, await launch(http), code_verifier=verifier)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"
    assert "access_token" not in response.json()


async def test_bad_and_reused_codes(http: httpx.AsyncClient) -> None:
    done = await launch(http)
    bad = await exchange(http, done, code="not-a-code")
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    assert (await exchange(http, done)).status_code == 200
    reused = await exchange(http, done)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"


async def test_code_is_bound_to_its_redirect_uri(http: httpx.AsyncClient) -> None:
    response = await exchange(http, await launch(http), redirect_uri=REDIRECT + "/other")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("client_id", ["no-such-client", "app-secret"])
async def test_bad_client_is_refused(http: httpx.AsyncClient, client_id: str) -> None:
    response = await exchange(http, await launch(http), client_id=client_id)
    assert response.status_code in (400, 401)
    assert response.json()["error"] in ("invalid_client", "invalid_grant")
    assert "access_token" not in response.json()


async def test_unsupported_grant_type(http: httpx.AsyncClient) -> None:
    response = await http.post("/auth/token", data={"grant_type": "password", "client_id": "x"})
    assert response.status_code == 400 and response.json()["error"] == "unsupported_grant_type"


async def test_confidential_symmetric_client_uses_basic_auth(http: httpx.AsyncClient) -> None:
    done = await launch(http, client_id="app-secret")
    basic = base64.b64encode(f"app-secret:{SECRET}".encode()).decode()
    wrong = base64.b64encode(b"app-secret:wrong").decode()
    refused = await http.post(
        "/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": done.code,
            "redirect_uri": REDIRECT,
            "code_verifier": done.verifier,
        },
        headers={"Authorization": f"Basic {wrong}"},
    )
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    done = await launch(http, client_id="app-secret")
    response = await http.post(
        "/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": done.code,
            "redirect_uri": REDIRECT,
            "code_verifier": done.verifier,
        },
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["patient"] == PATIENT


async def _refresh(http: httpx.AsyncClient, token: str, scope: str | None = None) -> httpx.Response:
    form = {"grant_type": "refresh_token", "refresh_token": token, "client_id": "app-public"}
    if scope is not None:
        form["scope"] = scope
    return await http.post("/auth/token", data=form)


async def test_refresh_same_and_narrower_scope(http: httpx.AsyncClient) -> None:
    first = (await exchange(http, await launch(http))).json()
    same = await _refresh(http, first["refresh_token"])
    assert same.status_code == 200, same.text
    assert "no-store" in same.headers["cache-control"] and "no-cache" in same.headers["pragma"]
    body = same.json()
    assert body["scope"] == first["scope"] and body["expires_in"] > 0
    assert body["access_token"] != first["access_token"] and body["patient"] == PATIENT
    narrower = await _refresh(http, first["refresh_token"], "patient/Observation.rs openid")
    assert narrower.status_code == 200, narrower.text
    assert set(narrower.json()["scope"].split()) == {"patient/Observation.rs", "openid"}


async def test_refresh_with_wider_scope_is_refused(http: httpx.AsyncClient) -> None:
    first = (await exchange(http, await launch(http))).json()
    wider = await _refresh(http, first["refresh_token"], "patient/*.cruds")
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"


async def test_bad_refresh_token(http: httpx.AsyncClient) -> None:
    response = await _refresh(http, "not-a-refresh-token")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_refresh_token_is_bound_to_its_client(http: httpx.AsyncClient) -> None:
    first = (await exchange(http, await launch(http))).json()
    basic = base64.b64encode(f"app-secret:{SECRET}".encode()).decode()
    response = await http.post(
        "/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_ehr_launch_context_in_token_response(http: httpx.AsyncClient) -> None:
    started = await http.get(
        "/auth/ehr-launch",
        params={"client_id": "app-public", "patient": PATIENT, "encounter": "enc-1"},
    )
    handle = parse_qs(urlsplit(started.headers["location"]).query)["launch"][0]
    done = await launch(http, "launch openid fhirUser patient/*.rs", launch=handle, pick=None)
    body = (await exchange(http, done)).json()
    assert body["patient"] == PATIENT and body["encounter"] == "enc-1"
    assert body["need_patient_banner"] is False
    _, claims = _claims(body["access_token"], await _keys(http))
    assert claims["patient"] == PATIENT and claims["encounter"] == "enc-1"


async def test_cors_on_token_endpoint_for_registered_origins(http: httpx.AsyncClient) -> None:
    done = await launch(http)
    response = await http.post(
        "/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": done.code,
            "redirect_uri": REDIRECT,
            "client_id": "app-public",
            "code_verifier": done.verifier,
        },
        headers={"Origin": "https://app.example"},
    )
    assert response.headers["access-control-allow-origin"] == "https://app.example"
    other = await http.post("/auth/token", data={}, headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers
