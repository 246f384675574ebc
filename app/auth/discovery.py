"""SMART discovery: ``[base]/.well-known/smart-configuration`` and the CapabilityStatement's
``rest.security``.

With the embedded server the document describes it (``<origin>/auth``). With an external
issuer (``auth_issuer``) it describes that issuer: its
``/.well-known/openid-configuration`` is fetched (cached for an hour) and its endpoints and
supported values are used, with our capabilities; if it cannot be fetched the route answers
503 and the CapabilityStatement omits the oauth-uris extension.
"""

from __future__ import annotations

import time
from typing import Any

import httpx
from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.config import Settings
from app.fhir.context import FHIR_PREFIX, base_url, embedded_issuer

SMART_CONFIGURATION_PATH = f"{FHIR_PREFIX}/.well-known/smart-configuration"
CAPABILITIES = [
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
]
SCOPES = [
    "openid",
    "fhirUser",
    "launch",
    "launch/patient",
    "launch/encounter",
    "offline_access",
    "online_access",
    "patient/*.cruds",
    "patient/*.rs",
    "user/*.cruds",
    "user/*.rs",
    "system/*.rs",
    "patient/*.read",
    "user/*.read",
    "system/*.read",
]
_COPIED = (
    "issuer",
    "jwks_uri",
    "authorization_endpoint",
    "token_endpoint",
    "introspection_endpoint",
    "revocation_endpoint",
    "registration_endpoint",
    "management_endpoint",
    "grant_types_supported",
    "token_endpoint_auth_methods_supported",
    "token_endpoint_auth_signing_alg_values_supported",
    "scopes_supported",
    "response_types_supported",
    "code_challenge_methods_supported",
)
_EXTERNAL_TTL = 3600.0
_external: dict[str, tuple[float, dict[str, Any]]] = {}
SECURITY_SERVICE = "http://terminology.hl7.org/CodeSystem/restful-security-service"
OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"

router = APIRouter(include_in_schema=False)


def embedded_configuration(fhir_base: str) -> dict[str, Any]:
    issuer = embedded_issuer(fhir_base)
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/jwks",
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "introspection_endpoint": f"{issuer}/introspect",
        "revocation_endpoint": f"{issuer}/revoke",
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": [
            "client_secret_basic",
            "client_secret_post",
            "private_key_jwt",
        ],
        "token_endpoint_auth_signing_alg_values_supported": ["RS384", "ES384"],
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "capabilities": CAPABILITIES,
    }


async def external_configuration(issuer: str) -> dict[str, Any]:
    """The external issuer's document in SMART terms (raises httpx.HTTPError or ValueError)."""
    cached = _external.get(issuer)
    if cached is not None and cached[0] > time.monotonic():
        return cached[1]
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    async with httpx.AsyncClient(timeout=10.0) as client:
        response = await client.get(url)
        response.raise_for_status()
        found = response.json()
    if not isinstance(found, dict):
        raise ValueError(f"{url} is not a JSON object")
    doc = {k: found[k] for k in _COPIED if k in found}
    doc.setdefault("issuer", issuer)
    doc.setdefault("code_challenge_methods_supported", ["S256"])
    doc["code_challenge_methods_supported"] = [
        m for m in doc["code_challenge_methods_supported"] if m != "plain"
    ]
    doc["capabilities"] = CAPABILITIES
    _external[issuer] = (time.monotonic() + _EXTERNAL_TTL, doc)
    return doc


@router.get(SMART_CONFIGURATION_PATH)
async def smart_configuration(request: Request) -> Response:
    settings: Settings = request.app.state.fhir.settings
    headers = {"Access-Control-Allow-Origin": "*", "Cache-Control": "max-age=300"}
    if settings.auth_issuer:
        try:
            doc = await external_configuration(settings.auth_issuer)
        except (httpx.HTTPError, ValueError) as exc:
            error = {"error": "temporarily_unavailable", "error_description": str(exc)}
            return JSONResponse(error, status_code=503, headers=headers)
    elif settings.auth_server:
        doc = embedded_configuration(base_url(request))
    else:
        error = {"error": "not_found", "error_description": "No authorization server is set up"}
        return JSONResponse(error, status_code=404, headers=headers)
    return JSONResponse(doc, headers=headers)


def security_section(base: str, settings: Settings) -> dict[str, Any]:
    """R4 ``CapabilityStatement.rest.security`` for the FHIR base ``base``."""
    section: dict[str, Any] = {
        "cors": True,
        "service": [
            {
                "coding": [{"system": SECURITY_SERVICE, "code": "SMART-on-FHIR"}],
                "text": "OAuth2 using SMART-on-FHIR profile (see http://docs.smarthealthit.org)",
            }
        ],
    }
    if settings.auth_issuer:
        cached = _external.get(settings.auth_issuer)
        doc = cached[1] if cached is not None else None
    elif settings.auth_server:
        doc = embedded_configuration(base.rstrip("/"))
    else:
        doc = None
    if doc is not None:
        names = {
            "authorize": "authorization_endpoint",
            "token": "token_endpoint",
            "introspect": "introspection_endpoint",
            "revoke": "revocation_endpoint",
        }
        uris = [{"url": k, "valueUri": doc[v]} for k, v in names.items() if doc.get(v)]
        section["extension"] = [{"url": OAUTH_URIS, "extension": uris}]
    return section
