"""A secured ``mitral-fhir serve`` process (access control on, the embedded authorization
server) with registered apps, a user and a few seeded records, for the real-client tests.

The browser app's pages are served by a small static server on another 127.0.0.1 port, started
first so that its launch and redirect URLs can be registered before the FHIR server reads its
clients file. Both hosts are 127.0.0.1, which browsers treat as a secure context (PKCE needs
``crypto.subtle``).
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from app.auth.server.registry import Client, Registry, User, hash_secret
from tests.server.process import EXECUTABLE, SERVER_BACKENDS, serving

ROOT = Path(__file__).resolve().parents[3]
APP_DIR = Path(__file__).parent / "app"
FHIR_CLIENT_JS = ROOT / "node_modules" / "fhirclient" / "build" / "fhir-client.js"

USERNAME = "dr-e2e"
PASSWORD = "e2e-password"
FHIR_USER = "Practitioner/pr-e2e"
PY_APP = "e2e-python-app"
JS_APP = "e2e-js-app"
BACKEND_APP = "e2e-backend"
SEEDER_APP = "e2e-seeder"
PICKED = "e2e-okafor"
OTHER = "e2e-mensah"
PICKED_OBSERVATIONS = 2
BACKEND_KEY = ECKey.generate_key(
    "P-384", parameters={"kid": "e2e-es384", "alg": "ES384"}, private=True
)
SEEDER_KEY = RSAKey.generate_key(
    2048, parameters={"kid": "e2e-rs384", "alg": "RS384"}, private=True
)
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class AppSite:
    """Where the browser app's static pages are served."""

    origin: str

    @property
    def launch_url(self) -> str:
        return f"{self.origin}/launch.html"

    @property
    def redirect_uri(self) -> str:
        return f"{self.origin}/index.html"

    @property
    def python_launch_url(self) -> str:
        """The Python app's launch URL: never fetched, the test reads the redirect to it."""
        return f"{self.origin}/python-launch"

    @property
    def python_redirect_uri(self) -> str:
        """The Python app's callback: never fetched, the test hands it to the library."""
        return f"{self.origin}/python-callback"


@dataclass(frozen=True)
class SecuredServer:
    backend: str
    base: str
    """The FHIR base URL, e.g. http://127.0.0.1:40123/fhir."""
    site: AppSite

    @property
    def origin(self) -> str:
        return self.base.removesuffix("/fhir")

    @property
    def token_url(self) -> str:
        return f"{self.origin}/auth/token"


class _AppFiles(SimpleHTTPRequestHandler):
    """The pages in ``app/`` plus the client-js browser bundle at ``/fhir-client.js``."""

    def translate_path(self, path: str) -> str:
        if urlsplit(path).path == "/fhir-client.js":
            return str(FHIR_CLIENT_JS)
        return super().translate_path(path)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: pytest shows the test's own output."""


@pytest.fixture(scope="session")
def app_site() -> Iterator[AppSite]:
    handler = functools.partial(_AppFiles, directory=str(APP_DIR))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield AppSite(f"http://127.0.0.1:{httpd.server_address[1]}")
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _public_jwks(key: ECKey | RSAKey) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False)]}


@pytest.fixture(scope="session")
def clients_file(app_site: AppSite, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The backend client is added with the CLI, as a vendor would be; the rest directly."""
    folder = tmp_path_factory.mktemp("e2e-registry")
    path = folder / "clients.json"
    jwks_file = folder / "backend-jwks.json"
    jwks_file.write_text(json.dumps(_public_jwks(BACKEND_KEY)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MITRAL_FHIR_")}
    command = [str(EXECUTABLE), "clients", "add", "--id", BACKEND_APP, "--type", "asymmetric"]
    added = subprocess.run(
        [*command, "--jwks-file", str(jwks_file), "--file", str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert added.returncode == 0, added.stdout + added.stderr
    registry = Registry.load(path)
    assert registry.clients[BACKEND_APP].allowed_scope == "system/*.rs"
    site = app_site
    for client in (
        Client(JS_APP, "public", "E2E browser app", [site.redirect_uri], site.launch_url),
        Client(
            PY_APP, "public", "E2E Python app", [site.python_redirect_uri], site.python_launch_url
        ),
        Client(
            SEEDER_APP,
            "confidential-asymmetric",
            scope="system/*.cruds",
            jwks=_public_jwks(SEEDER_KEY),
        ),
    ):
        registry.clients[client.client_id] = client
    registry.users[USERNAME] = User(USERNAME, hash_secret(PASSWORD), FHIR_USER, "Dr E2E")
    registry.save(path)
    return path


def client_assertion(client_id: str, key: ECKey | RSAKey, token_url: str) -> str:
    """A Backend Services assertion as the spec has it: iss = sub = client, aud = token URL."""
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_url,
        "exp": now + 300,
        "iat": now,
        "jti": secrets.token_urlsafe(32),
    }
    alg = "ES384" if isinstance(key, ECKey) else "RS384"
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=[alg])


def backend_token_form(assertion: str, scope: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }


def _observation(patient: str, value: int, when: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                        "code": "vital-signs",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": when,
        "valueQuantity": {
            "value": value,
            "unit": "/min",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
    }


def _patient(patient_id: str, nhs_number: str, family: str, given: str) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": patient_id,
        "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs_number}],
        "name": [{"family": family, "given": [given]}],
        "birthDate": "1948-07-19",
    }


SEED: list[dict[str, Any]] = [
    _patient(PICKED, "9000000009", "Okafor", "Adaeze"),
    _patient(OTHER, "9990000999", "Mensah", "Kwame"),
    {"id": "e2e-obs-1", **_observation(PICKED, 72, "2026-10-01T09:00:00Z")},
    {"id": "e2e-obs-2", **_observation(PICKED, 88, "2026-10-02T09:00:00Z")},
    {"id": "e2e-obs-3", **_observation(OTHER, 64, "2026-10-01T10:00:00Z")},
]


def _seed(server: SecuredServer) -> None:
    """Writes through the secured API with a ``system/*.cruds`` token, as a feed would."""
    form = backend_token_form(
        client_assertion(SEEDER_APP, SEEDER_KEY, server.token_url), "system/*.cruds"
    )
    with httpx.Client(timeout=10.0) as http:
        issued = http.post(server.token_url, data=form)
        assert issued.status_code == 200, issued.text
        headers = {"Authorization": f"Bearer {issued.json()['access_token']}"}
        for resource in SEED:
            url = f"{server.base}/{resource['resourceType']}/{resource['id']}"
            put = http.put(url, json=resource, headers=headers)
            assert put.status_code in (200, 201), put.text


@pytest.fixture(scope="session", params=SERVER_BACKENDS)
def secured_server(
    request: pytest.FixtureRequest,
    app_site: AppSite,
    clients_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SecuredServer]:
    workdir = tmp_path_factory.mktemp(f"e2e-server-{request.param}")
    settings = {
        "MITRAL_FHIR_ACCESS_CONTROL": "true",
        "MITRAL_FHIR_AUDIT": "false",
        "MITRAL_FHIR_AUTH_CLIENTS_FILE": str(clients_file),
        "MITRAL_FHIR_AUTH_KEYS_FILE": str(workdir / "keys" / "keys.json"),
    }
    with serving(request.param, workdir, settings) as base:
        server = SecuredServer(request.param, base, app_site)
        _seed(server)
        yield server
