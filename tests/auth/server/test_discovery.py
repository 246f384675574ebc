"""SMART discovery and the OpenID documents (Inferno's discovery checks)."""

from __future__ import annotations

import httpx
import pytest

from app.auth.discovery import OAUTH_URIS, security_section
from app.config import Settings
from tests.auth.server.conftest import FHIR_BASE, ISSUER

SMART = "/fhir/.well-known/smart-configuration"


@pytest.mark.parametrize("accept", [None, "application/fhir+json", "text/html"])
async def test_smart_configuration_is_json_with_cors(
    http: httpx.AsyncClient, accept: str | None
) -> None:
    headers = {"Origin": "https://inferno.example"}
    if accept:
        headers["Accept"] = accept
    response = await http.get(SMART, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["access-control-allow-origin"] == "*"


async def test_smart_configuration_fields(http: httpx.AsyncClient) -> None:
    doc = (await http.get(SMART)).json()
    assert doc["issuer"] == ISSUER
    assert doc["jwks_uri"] == f"{ISSUER}/jwks"
    assert doc["authorization_endpoint"] == f"{ISSUER}/authorize"
    assert doc["token_endpoint"] == f"{ISSUER}/token"
    assert doc["introspection_endpoint"] == f"{ISSUER}/introspect"
    assert doc["revocation_endpoint"] == f"{ISSUER}/revoke"
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert {"authorization_code", "client_credentials"} <= set(doc["grant_types_supported"])
    assert "private_key_jwt" in doc["token_endpoint_auth_methods_supported"]
    assert set(doc["token_endpoint_auth_signing_alg_values_supported"]) == {"RS384", "ES384"}
    assert "code" in doc["response_types_supported"]
    assert "patient/*.rs" in doc["scopes_supported"]
    for capability in (
        "launch-ehr",
        "launch-standalone",
        "authorize-post",
        "client-public",
        "client-confidential-symmetric",
        "client-confidential-asymmetric",
        "sso-openid-connect",
        "context-ehr-patient",
        "context-ehr-encounter",
        "context-standalone-patient",
        "context-banner",
        "permission-offline",
        "permission-patient",
        "permission-user",
        "permission-v1",
        "permission-v2",
    ):
        assert capability in doc["capabilities"]
    urls = [v for v in doc.values() if isinstance(v, str) and v.startswith("http")]
    assert all(u.startswith("http://testserver/") for u in urls)


async def test_openid_configuration_and_jwks(http: httpx.AsyncClient) -> None:
    oidc = (await http.get("/auth/.well-known/openid-configuration")).json()
    assert oidc["issuer"] == ISSUER
    assert oidc["id_token_signing_alg_values_supported"] == ["RS256"]
    jwks = (await http.get(oidc["jwks_uri"].removeprefix("http://testserver"))).json()
    [key] = jwks["keys"]
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig" and key["kid"]
    assert "d" not in key and "p" not in key
    alias = await http.get("/auth/.well-known/jwks.json")
    assert alias.json() == jwks


def test_security_section_names_the_oauth_endpoints() -> None:
    section = security_section(FHIR_BASE + "/", Settings())
    assert section["cors"] is True
    coding = section["service"][0]["coding"][0]
    assert coding["code"] == "SMART-on-FHIR"
    [ext] = section["extension"]
    assert ext["url"] == OAUTH_URIS
    uris = {e["url"]: e["valueUri"] for e in ext["extension"]}
    assert uris == {
        "authorize": f"{ISSUER}/authorize",
        "token": f"{ISSUER}/token",
        "introspect": f"{ISSUER}/introspect",
        "revoke": f"{ISSUER}/revoke",
    }
