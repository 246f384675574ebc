"""SMART's JavaScript client (npm ``fhirclient`` 2.6.x) in headless Chromium: the library
discovers the endpoints (``.well-known/smart-configuration``), does PKCE S256 with
``crypto.subtle``, exchanges the code across origins (CORS on ``/auth/token``) and reads
``/fhir`` with the token (CORS preflight). The test only plays the user."""

from __future__ import annotations

import shutil
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from playwright.async_api import Page

from tests.auth.e2e.conftest import (
    FHIR_CLIENT_JS,
    FHIR_USER,
    JS_APP,
    OTHER,
    PASSWORD,
    PICKED,
    PICKED_OBSERVATIONS,
    USERNAME,
    SecuredServer,
)

NPM_INSTALL = "npm install --no-save --no-audit --no-fund --ignore-scripts fhirclient@2.6.3"


@pytest.fixture(autouse=True, scope="module")
def _needs_the_js_client() -> None:
    if not FHIR_CLIENT_JS.exists():
        npm = "npm is not installed" if shutil.which("npm") is None else f"run `{NPM_INSTALL}`"
        pytest.skip(
            f"the npm fhirclient bundle {FHIR_CLIENT_JS} is missing: python3 dev.py test "
            f"installs it when npm and its registry are reachable ({npm})"
        )


async def _sign_in(page: Page, server: SecuredServer) -> dict[str, list[str]]:
    """Signs in on our page once the library has sent the browser there; returns what it sent."""
    await page.wait_for_selector("#username")
    assert page.url.startswith(f"{server.origin}/auth/authorize?")
    sent = parse_qs(urlsplit(page.url).query)
    await page.fill("#username", USERNAME)
    await page.fill("#password", PASSWORD)
    await page.get_by_role("button", name="Sign in and allow").click()
    return sent


async def _app_ready(page: Page, server: SecuredServer) -> None:
    await page.wait_for_selector("body[data-state]")
    status = await page.locator("#status").inner_text()
    assert await page.get_attribute("body", "data-state") == "ready", status
    assert page.url.startswith(server.site.redirect_uri)


async def _text(page: Page, selector: str) -> str:
    return await page.locator(selector).inner_text()


async def _status_of_reading(page: Page, path: str) -> int:
    """Another request through the app's own client; its HTTP status (200 when it succeeds)."""
    script = "(path) => window.smartClient.request(path).then(() => 200, (e) => e.status)"
    status: int = await page.evaluate(script, path)
    return status


async def _shows_the_picked_patient(page: Page) -> None:
    assert await _text(page, "#patient-id") == PICKED
    assert await _text(page, "#patient-name") == "Adaeze Okafor"
    assert await _text(page, "#observation-count") == str(PICKED_OBSERVATIONS)
    assert await _text(page, "#observation-subjects") == f"Patient/{PICKED}"
    assert await _text(page, "#fhir-user") == FHIR_USER
    assert await _status_of_reading(page, f"Patient/{OTHER}") == 404
    assert await _status_of_reading(page, "Observation/e2e-obs-3") == 404


@pytest.mark.server
async def test_an_ehr_launch_shows_the_ehr_patient_and_their_observations(
    page: Page, secured_server: SecuredServer
) -> None:
    launch = f"{secured_server.origin}/auth/ehr-launch?client_id={JS_APP}&patient={PICKED}"
    await page.goto(launch)
    sent = await _sign_in(page, secured_server)
    assert sent["code_challenge_method"] == ["S256"]
    assert sent["aud"] == [secured_server.base]
    assert "launch" in sent
    await _app_ready(page, secured_server)
    await _shows_the_picked_patient(page)
    assert await _text(page, "#need-banner") == "false"


@pytest.mark.server
async def test_a_standalone_launch_shows_the_patient_chosen_in_the_picker(
    page: Page, secured_server: SecuredServer
) -> None:
    await page.goto(f"{secured_server.site.launch_url}?iss={quote(secured_server.base, safe='')}")
    sent = await _sign_in(page, secured_server)
    assert "launch" not in sent
    assert "launch/patient" in sent["scope"][0].split()
    await page.fill("#name", "Okafor")
    await page.get_by_role("button", name="Search").click()
    await page.check(f"#p-{PICKED}")
    await page.get_by_role("button", name="Continue with this patient").click()
    await _app_ready(page, secured_server)
    await _shows_the_picked_patient(page)
    assert await _text(page, "#need-banner") == "true"
