"""Bearer tokens at the resource server: none, malformed, forged, expired, for another
audience or issuer, each a 401 OperationOutcome with a WWW-Authenticate challenge."""

from __future__ import annotations

import httpx
import pytest

from tests.auth.enforcement.conftest import OTHER_KEY, bearer, mint
from tests.factories import assert_outcome

pytestmark = pytest.mark.usefixtures("secured")

PROTECTED = [
    ("GET", "Patient/pa"),
    ("GET", "Observation?subject=Patient/pa"),
    ("GET", "Patient/pa/_history"),
    ("GET", "_history"),
    ("GET", "Patient/pa/$pathway"),
    ("POST", ""),
    ("DELETE", "Observation/obs-a-lab"),
]


@pytest.mark.parametrize(("method", "url"), PROTECTED)
async def test_no_token_is_401_with_a_challenge(
    secured: httpx.AsyncClient, method: str, url: str
) -> None:
    response = await secured.request(method, url)
    assert_outcome(response, 401, "login", "bearer access token")
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("Basic dXNlcjpwYXNz", "must be 'Bearer"),
        ("Bearer not-a-jwt", "not a JWT"),
        (f"Bearer {mint('user/*.cruds', key=OTHER_KEY)}", "signature"),
        (f"Bearer {mint('user/*.cruds', expires_in=-120)}", "expired"),
        (f"Bearer {mint('user/*.cruds', aud='https://other.example/fhir')}", "audience"),
        (f"Bearer {mint('user/*.cruds', iss='https://evil.example')}", "issued by"),
        (f"Bearer {mint('user/*.cruds', nbf=9_999_999_999)}", "not valid yet"),
    ],
)
async def test_bad_tokens_are_refused(secured: httpx.AsyncClient, header: str, reason: str) -> None:
    response = await secured.get("Patient/pa", headers={"Authorization": header})
    assert_outcome(response, 401, "login", reason)
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_the_audience_may_carry_a_trailing_slash(secured: httpx.AsyncClient) -> None:
    token = mint("user/Patient.r", aud="http://testserver/fhir/")
    response = await secured.get("Patient/pa", headers=bearer(token))
    assert response.status_code == 200, response.text


async def test_the_capability_statement_is_public(secured: httpx.AsyncClient) -> None:
    response = await secured.get("metadata")
    assert response.status_code == 200
    security = response.json()["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    assert security["cors"] is True


async def test_cors_preflight_and_headers_for_browser_apps(secured: httpx.AsyncClient) -> None:
    origin = {"Origin": "https://app.example"}
    preflight = await secured.options(
        "Patient/pa",
        headers={**origin, "Access-Control-Request-Method": "GET"},
    )
    assert preflight.status_code == 204
    assert "Authorization" in preflight.headers["access-control-allow-headers"]
    response = await secured.get("Patient/pa", headers={**origin, **bearer(mint("user/*.rs"))})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    plain = await secured.get("Patient/pa", headers=bearer(mint("user/*.rs")))
    assert "access-control-allow-origin" not in plain.headers
