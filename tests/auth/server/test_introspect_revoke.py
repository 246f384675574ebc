"""Token introspection (RFC 7662 with SMART's fields) and revocation (RFC 7009)."""

from __future__ import annotations

import base64
import time

import httpx
from fastapi import FastAPI
from joserfc import jwt

from app.auth.server.core import SmartServer
from tests.auth.server.conftest import ISSUER, PATIENT, SECRET, exchange, launch


async def _tokens(http: httpx.AsyncClient) -> dict[str, str]:
    body: dict[str, str] = (await exchange(http, await launch(http))).json()
    return body


def _server(app: FastAPI) -> SmartServer:
    server: SmartServer = app.state.auth_server
    return server


async def _introspect(http: httpx.AsyncClient, token: str, bearer: str) -> httpx.Response:
    return await http.post(
        "/auth/introspect", data={"token": token}, headers={"Authorization": f"Bearer {bearer}"}
    )


async def test_active_token_introspection(http: httpx.AsyncClient, auth_app: FastAPI) -> None:
    tokens = await _tokens(http)
    response = await _introspect(http, tokens["access_token"], tokens["access_token"])
    assert response.status_code == 200
    body = response.json()
    assert body["active"] is True
    assert body["client_id"] == "app-public" and body["scope"] == tokens["scope"]
    assert body["patient"] == PATIENT and body["iss"] == ISSUER and body["sub"] == "doc"
    assert body["fhirUser"].endswith("/Practitioner/pr-1") and body["token_type"] == "Bearer"
    assert isinstance(body["exp"], int) and isinstance(body["iat"], int)
    id_claims = jwt.decode(tokens["id_token"], _server(auth_app).public_keyset()).claims
    assert (body["iss"], body["sub"]) == (id_claims["iss"], id_claims["sub"])


async def test_introspection_by_a_confidential_client(http: httpx.AsyncClient) -> None:
    tokens = await _tokens(http)
    basic = base64.b64encode(f"app-secret:{SECRET}".encode()).decode()
    response = await http.post(
        "/auth/introspect",
        data={"token": tokens["access_token"]},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200 and response.json()["active"] is True


async def test_introspection_needs_an_authenticated_caller(http: httpx.AsyncClient) -> None:
    tokens = await _tokens(http)
    anonymous = await http.post("/auth/introspect", data={"token": tokens["access_token"]})
    assert anonymous.status_code == 401
    bogus = await _introspect(http, tokens["access_token"], "not-a-token")
    assert bogus.status_code == 401 and "active" not in bogus.json()


async def test_invalid_and_expired_tokens_are_inactive(
    http: httpx.AsyncClient, auth_app: FastAPI
) -> None:
    tokens = await _tokens(http)
    invalid = await _introspect(http, "garbage.token.value", tokens["access_token"])
    assert invalid.status_code == 200 and invalid.json() == {"active": False}
    server = _server(auth_app)
    now = int(time.time())
    claims = {**jwt.decode(tokens["access_token"], server.key).claims}
    claims.update(exp=now - 10, iat=now - 100)
    expired = jwt.encode(
        {"alg": "RS256", "kid": server.key.kid, "typ": "at+jwt"}, claims, server.key
    )
    response = await _introspect(http, expired, tokens["access_token"])
    assert response.json() == {"active": False}


async def test_revoking_the_access_token(http: httpx.AsyncClient, auth_app: FastAPI) -> None:
    tokens = await _tokens(http)
    other = await _tokens(http)
    jti = str(jwt.decode(tokens["access_token"], _server(auth_app).key).claims["jti"])
    assert not _server(auth_app).is_revoked(jti)
    response = await http.post(
        "/auth/revoke", data={"token": tokens["access_token"], "client_id": "app-public"}
    )
    assert response.status_code == 200
    assert _server(auth_app).is_revoked(jti)
    inactive = await _introspect(http, tokens["access_token"], other["access_token"])
    assert inactive.json() == {"active": False}
    refresh = await http.post(
        "/auth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "app-public",
        },
    )
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"


async def test_revoking_the_refresh_token_ends_the_grant(
    http: httpx.AsyncClient, auth_app: FastAPI
) -> None:
    tokens = await _tokens(http)
    response = await http.post(
        "/auth/revoke",
        data={
            "token": tokens["refresh_token"],
            "token_type_hint": "refresh_token",
            "client_id": "app-public",
        },
    )
    assert response.status_code == 200
    jti = str(jwt.decode(tokens["access_token"], _server(auth_app).key).claims["jti"])
    assert _server(auth_app).is_revoked(jti)
    refresh = await http.post(
        "/auth/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": tokens["refresh_token"],
            "client_id": "app-public",
        },
    )
    assert refresh.status_code == 400


async def test_revocation_reaches_other_workers(http: httpx.AsyncClient, auth_app: FastAPI) -> None:
    """Another worker's list learns of the revocation from the database."""
    from app.auth.server.revocation import RevocationList

    tokens = await _tokens(http)
    server = _server(auth_app)
    other_worker = RevocationList(server.store)
    await other_worker.refresh()
    jti = str(jwt.decode(tokens["access_token"], server.key).claims["jti"])
    assert not other_worker.is_revoked(jti)
    await http.post(
        "/auth/revoke", data={"token": tokens["access_token"], "client_id": "app-public"}
    )
    await other_worker.refresh()
    assert other_worker.is_revoked(jti)


async def test_unknown_token_revocation_is_ok(http: httpx.AsyncClient) -> None:
    response = await http.post("/auth/revoke", data={"token": "nope", "client_id": "app-public"})
    assert response.status_code == 200
