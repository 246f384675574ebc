"""Start-up of the embedded server: its key file, the client registry, the demo's client and
user, and discovery when an external issuer is configured instead."""

from __future__ import annotations

import dataclasses
import json
import stat
from pathlib import Path

import httpx
import pytest
import respx
from fastapi import FastAPI

from app.auth import discovery, keys
from app.auth.server import build_auth_server
from app.auth.server.registry import DEMO_CLIENT_ID, DEMO_USER, Registry, RegistryError
from app.main import create_app
from tests.conftest import Backend


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "new" / "keys.json"
    key = keys.signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())["keys"][0]
    assert stored["kid"] == key.kid and "d" in stored
    assert keys.signing_key(path).kid == key.kid
    [public] = keys.public_jwks(path)["keys"]
    assert public["kid"] == key.kid and not {"d", "p", "q"} & public.keys()
    assert keys.public_keyset(path).get_by_kid(key.kid) is not None


def test_missing_registry_is_empty(tmp_path: Path) -> None:
    registry = Registry.load(tmp_path / "absent.json")
    assert registry.clients == {} and registry.users == {}


async def test_demo_registers_its_app_and_clinician(auth_app: FastAPI) -> None:
    ctx = auth_app.state.fhir
    demo = dataclasses.replace(ctx, settings=ctx.settings.model_copy(update={"demo_data": True}))
    server = await build_auth_server(demo)
    try:
        client = server.registry.clients[DEMO_CLIENT_ID]
        assert client.type == "public" and client.redirect_uris and client.launch_url
        user = server.registry.users[DEMO_USER]
        assert user.check_password("clinician") and user.fhir_user.startswith("Practitioner/")
    finally:
        await server.close()
    assert DEMO_CLIENT_ID not in auth_app.state.auth_server.registry.clients


@respx.mock
async def test_external_issuer_is_described_and_embedded_server_is_off(
    backend: Backend, tmp_path: Path
) -> None:
    issuer = "https://idp.example/realms/mitral"
    discovery._external.clear()  # fetched afresh, whichever backend ran first
    respx.get(f"{issuer}/.well-known/openid-configuration").mock(
        return_value=httpx.Response(
            200,
            json={
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/protocol/openid-connect/auth",
                "token_endpoint": f"{issuer}/protocol/openid-connect/token",
                "jwks_uri": f"{issuer}/protocol/openid-connect/certs",
                "grant_types_supported": ["authorization_code", "client_credentials"],
                "code_challenge_methods_supported": ["plain", "S256"],
                "userinfo_endpoint": f"{issuer}/userinfo",
            },
        )
    )
    settings = backend.settings(
        auth_issuer=issuer, auth_keys_file=tmp_path / "k.json", access_control=False
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            doc = (await http.get("/fhir/.well-known/smart-configuration")).json()
            authorize = await http.get("/auth/authorize")
    assert doc["issuer"] == issuer
    assert doc["token_endpoint"] == f"{issuer}/protocol/openid-connect/token"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert "userinfo_endpoint" not in doc and "launch-standalone" in doc["capabilities"]
    assert authorize.status_code == 404
    assert not (tmp_path / "k.json").exists()


def test_broken_registry_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "clients.json"
    path.write_text('{"clients": [{"client_id": "x", "type": "nonsense"}]}')
    with pytest.raises(RegistryError, match=r"clients\.json"):
        Registry.load(path)
