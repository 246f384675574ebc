"""A secured app (access control on) that trusts a test issuer, two patients' records, and
tokens minted for each test as an external SMART authorization server would mint them."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from app.auth.guard import Guard
from app.auth.tokens import TokenVerifier
from app.main import create_app
from tests.conftest import Backend, empty_tables
from tests.factories import organization, patient, referral

BASE = "http://testserver/fhir"
ISSUER = "https://login.example.nhs.uk"
KEY = RSAKey.generate_key(2048, parameters={"kid": "test-issuer-1"}, private=True)
OTHER_KEY = RSAKey.generate_key(2048, parameters={"kid": "test-issuer-1"}, private=True)
LOINC = "http://loinc.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
LAB = f"{CATEGORY}|laboratory"
VITALS = f"{CATEGORY}|vital-signs"

Mint = Callable[..., str]


def mint(
    scope: str,
    *,
    patient: str | None = None,
    key: RSAKey = KEY,
    expires_in: int = 300,
    **claims: Any,
) -> str:
    now = int(time.time())
    body: dict[str, Any] = {
        "iss": ISSUER,
        "sub": "user-1",
        "aud": BASE,
        "iat": now,
        "exp": now + expires_in,
        "jti": uuid.uuid4().hex,
        "client_id": "test-app",
        "scope": scope,
    }
    if patient:
        body["patient"] = patient
    body.update(claims)
    header = {"alg": "RS256", "kid": key.kid, "typ": "at+jwt"}
    return jwt.encode(header, body, key)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


SYSTEM = bearer(mint("system/*.cruds", expires_in=3600))


def observation(res_id: str, subject: str, category: str, **extra: Any) -> dict[str, Any]:
    code = category.split("|")[1]
    return {
        "resourceType": "Observation",
        "id": res_id,
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": code}]}],
        "code": {"coding": [{"system": LOINC, "code": "59281-2", "display": "MR severity"}]},
        "subject": {"reference": subject},
        "effectiveDateTime": "2026-10-14T10:00:00Z",
        **extra,
    }


def records() -> list[dict[str, Any]]:
    """Two patients, each with observations (lab and vital signs), an encounter and a
    referral; one of A's observations names B as a performer; shared and hidden types."""
    return [
        {**patient("9000000009", "Okafor"), "id": "pa"},
        {**patient("9434765919", "Hughes"), "id": "pb"},
        {**organization(), "id": "org1"},
        observation("obs-a-lab", "Patient/pa", LAB),
        observation("obs-a-vital", "Patient/pa", VITALS),
        observation("obs-a-perf", "Patient/pa", LAB, performer=[{"reference": "Patient/pb"}]),
        observation("obs-b-lab", "Patient/pb", LAB),
        observation("obs-b-gone", "Patient/pb", LAB),
        {
            "resourceType": "Encounter",
            "id": "enc-a",
            "status": "finished",
            "class": {
                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                "code": "AMB",
            },
            "subject": {"reference": "Patient/pa"},
        },
        {**referral("Patient/pa", local_id="REF-A"), "id": "sr-a"},
        {**referral("Patient/pb", local_id="REF-B"), "id": "sr-b"},
        {
            "resourceType": "Bundle",
            "id": "doc-b",
            "type": "collection",
            "entry": [{"resource": {**patient("9434765919", "Hughes"), "id": "pb"}}],
        },
    ]


@asynccontextmanager
async def trusting_the_test_issuer(backend: Backend, *, audit: bool) -> AsyncIterator[FastAPI]:
    """A started app with access control on that accepts tokens signed with ``KEY``."""
    settings = backend.settings(
        access_control=True, auth_issuer=ISSUER, auth_server=False, audit=audit
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        keys = KeySet([RSAKey.import_key(KEY.as_dict(private=False))])
        application.state.guard = Guard(settings, TokenVerifier(keys=lambda: keys))
        yield application


@pytest.fixture(scope="session")
async def secured_app(backend: Backend) -> AsyncIterator[FastAPI]:
    async with trusting_the_test_issuer(backend, audit=False) as application:
        yield application


@pytest.fixture
async def secured(secured_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the secured app, over two patients' records (written with a system token)."""
    await empty_tables(secured_app)
    transport = httpx.ASGITransport(app=secured_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=f"{BASE}/") as client:
        for resource in records():
            url = f"{resource['resourceType']}/{resource['id']}"
            response = await client.put(url, json=resource, headers=SYSTEM)
            assert response.status_code in (200, 201), response.text
        response = await client.delete("Observation/obs-b-gone", headers=SYSTEM)
        assert response.status_code in (200, 204), response.text
        yield client


def ids(response: httpx.Response, mode: str | None = "match") -> list[str]:
    assert response.status_code == 200, response.text
    body = response.json()
    return sorted(
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in body.get("entry", [])
        if "resource" in e
        and e["resource"]["resourceType"] != "OperationOutcome"
        and (mode is None or e.get("search", {}).get("mode", "match") == mode)
    )
