"""An app with the embedded authorization server, its registered clients and a user, and
helpers that walk the SMART flows over HTTP."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from app.auth.server.registry import Client, Registry, User, hash_secret
from app.main import create_app
from tests.conftest import Backend, empty_tables

FHIR_BASE = "http://testserver/fhir"
ISSUER = "http://testserver/auth"
TOKEN_URL = f"{ISSUER}/token"
REDIRECT = "https://app.example/callback"
LAUNCH_URL = "https://app.example/launch"
JWKS_URL = "https://keys.example/jwks.json"
SECRET = "s3cret-for-tests"
PATIENT = "p-okafor"
RS_KEY = RSAKey.generate_key(2048, parameters={"kid": "rs-1", "alg": "RS384"}, private=True)
ES_KEY = ECKey.generate_key("P-384", parameters={"kid": "es-1", "alg": "ES384"}, private=True)
URL_KEY = RSAKey.generate_key(2048, parameters={"kid": "url-1"}, private=True)
BACKEND_SCOPE = "system/Patient.rs system/Observation.rs"


def _registry() -> Registry:
    public_jwks = {"keys": [RS_KEY.as_dict(private=False), ES_KEY.as_dict(private=False)]}
    clients = [
        Client("app-public", "public", "Test app", [REDIRECT], LAUNCH_URL),
        Client(
            "app-secret",
            "confidential-symmetric",
            "Secret app",
            [REDIRECT],
            secret_hash=hash_secret(SECRET),
        ),
        Client("backend-inline", "confidential-asymmetric", scope=BACKEND_SCOPE, jwks=public_jwks),
        Client("backend-url", "confidential-asymmetric", scope=BACKEND_SCOPE, jwks_url=JWKS_URL),
    ]
    user = User("doc", hash_secret("pw"), "Practitioner/pr-1", "Dr Test")
    return Registry({c.client_id: c for c in clients}, {user.username: user})


@pytest.fixture(scope="module")
async def auth_app(
    backend: Backend, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FastAPI]:
    folder = tmp_path_factory.mktemp("auth")
    clients_file = folder / "clients.json"
    _registry().save(clients_file)
    settings = backend.settings(
        access_control=True,  # the flows must work with it on
        auth_clients_file=clients_file,
        auth_keys_file=folder / "keys" / "keys.json",
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def http(auth_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    await empty_tables(auth_app)
    auth_app.state.auth_server.jwks.clear()
    transport = httpx.ASGITransport(app=auth_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        patient = {
            "resourceType": "Patient",
            "id": PATIENT,
            "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9990000999"}],
            "name": [{"family": "Okafor", "given": ["Adaeze"]}],
            "birthDate": "1948-07-19",
        }
        await _put(auth_app, patient)
        yield c


async def _put(application: FastAPI, resource: dict[str, Any]) -> None:
    from app.fhir import writes

    ctx = application.state.fhir
    async with ctx.store.write() as tx:
        await writes.update(tx, resource, resource["id"], now=ctx.now())


def challenge_of(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def hidden(html: str, name: str = "pending") -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, html
    return unescape(found.group(1))


@dataclass
class Launch:
    verifier: str
    state: str
    location: str

    @property
    def params(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.location).query).items()}

    @property
    def code(self) -> str:
        return self.params["code"]


def authorize_params(scope: str, verifier: str, **extra: str) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": "app-public",
        "redirect_uri": REDIRECT,
        "scope": scope,
        "state": secrets.token_hex(8),
        "aud": FHIR_BASE,
        "code_challenge": challenge_of(verifier),
        "code_challenge_method": "S256",
    }
    params.update(extra)
    return params


async def launch(
    http: httpx.AsyncClient,
    scope: str = "launch/patient openid fhirUser offline_access patient/*.rs",
    *,
    post: bool = False,
    pick: str | None = PATIENT,
    **extra: str,
) -> Launch:
    """A standalone (or, with ``launch=``, EHR) launch through sign-in and the picker."""
    verifier = secrets.token_urlsafe(48)
    params = authorize_params(scope, verifier, **extra)
    if post:
        page = await http.post("/auth/authorize", data=params)
    else:
        page = await http.get("/auth/authorize", params=params)
    assert page.status_code == 200, page.text
    signed_in = await http.post(
        "/auth/login", data={"pending": hidden(page.text), "username": "doc", "password": "pw"}
    )
    if signed_in.status_code == 200:  # the patient picker
        assert pick is not None
        signed_in = await http.post(
            "/auth/patient", data={"pending": hidden(signed_in.text), "patient": pick}
        )
    assert signed_in.status_code == 302, signed_in.text
    return Launch(verifier, params["state"], signed_in.headers["location"])


async def exchange(
    http: httpx.AsyncClient, done: Launch, **overrides: str | None
) -> httpx.Response:
    form: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": done.code,
        "redirect_uri": REDIRECT,
        "client_id": "app-public",
        "code_verifier": done.verifier,
    }
    form.update(overrides)
    return await http.post("/auth/token", data={k: v for k, v in form.items() if v is not None})


def assertion(
    client_id: str = "backend-inline",
    key: RSAKey | ECKey = RS_KEY,
    alg: str = "RS384",
    *,
    lifetime: int = 240,
    aud: str = TOKEN_URL,
    jti: str | None = None,
    header: dict[str, Any] | None = None,
) -> str:
    issued = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": aud,
        "exp": issued + lifetime,
        "iat": issued,
        "jti": jti or secrets.token_hex(32),
    }
    head = {"alg": alg, "kid": key.kid, "typ": "JWT", **(header or {})}
    return jwt.encode(head, claims, key, algorithms=[alg])


def backend_form(signed: str, scope: str = "system/Patient.rs") -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": signed,
    }


def url_jwks() -> dict[str, Any]:
    return {"keys": [URL_KEY.as_dict(private=False)]}


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())
