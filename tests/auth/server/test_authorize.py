"""The authorize endpoint and its pages: sign-in, the patient picker, and the requests that
must not yield a code (ONC g10's invalid aud and PKCE launches)."""

from __future__ import annotations

import secrets
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.auth.server.conftest import (
    PATIENT,
    REDIRECT,
    authorize_params,
    hidden,
    launch,
)


def _query(location: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(location).query)


@pytest.mark.parametrize("post", [False, True])
async def test_standalone_launch_gives_code_and_state(http: httpx.AsyncClient, post: bool) -> None:
    done = await launch(http, post=post)
    assert done.location.startswith(REDIRECT + "?")
    assert done.params["state"] == done.state
    assert done.code and "error" not in done.params


async def test_login_page_is_accessible_form(http: httpx.AsyncClient) -> None:
    page = await http.get("/auth/authorize", params=authorize_params("launch/patient", "v" * 50))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<label for="username">' in page.text and '<label for="password">' in page.text
    assert "<script" not in page.text and "http://" not in page.text.split("</style>")[1]


async def test_picker_lists_and_searches_patients(http: httpx.AsyncClient) -> None:
    page = await http.get(
        "/auth/authorize", params=authorize_params("launch/patient patient/*.rs", "v" * 50)
    )
    picker = await http.post(
        "/auth/login", data={"pending": hidden(page.text), "username": "doc", "password": "pw"}
    )
    assert picker.status_code == 200
    assert "Adaeze Okafor" in picker.text and "9990000999" in picker.text
    assert "1948-07-19" in picker.text
    pending = hidden(picker.text)
    found = await http.post("/auth/patient", data={"pending": pending, "name": "okafor"})
    assert "Adaeze Okafor" in found.text
    missing = await http.post("/auth/patient", data={"pending": pending, "name": "zzzz"})
    assert "Adaeze Okafor" not in missing.text and "No patients match" in missing.text
    wrong = await http.post("/auth/patient", data={"pending": pending, "patient": "nobody"})
    assert wrong.status_code == 400 and "code=" not in wrong.headers.get("location", "")


async def test_wrong_password_shows_the_form_again(http: httpx.AsyncClient) -> None:
    page = await http.get("/auth/authorize", params=authorize_params("launch/patient", "v" * 50))
    again = await http.post(
        "/auth/login", data={"pending": hidden(page.text), "username": "doc", "password": "no"}
    )
    assert again.status_code == 401
    assert "Wrong username or password" in again.text and "location" not in again.headers


async def test_login_needs_the_cookie_of_its_authorization(http: httpx.AsyncClient) -> None:
    page = await http.get("/auth/authorize", params=authorize_params("launch/patient", "v" * 50))
    http.cookies.clear()
    response = await http.post(
        "/auth/login", data={"pending": hidden(page.text), "username": "doc", "password": "pw"}
    )
    assert response.status_code == 400 and "location" not in response.headers


async def test_tampered_pending_is_refused(http: httpx.AsyncClient) -> None:
    page = await http.get("/auth/authorize", params=authorize_params("launch/patient", "v" * 50))
    head, body, sig = hidden(page.text).split(".")
    forged = f"{head}.{body}.{sig[::-1]}"
    response = await http.post(
        "/auth/login", data={"pending": forged, "username": "doc", "password": "pw"}
    )
    assert response.status_code == 400


@pytest.mark.parametrize(
    "aud", ["https://elsewhere.example/fhir", "http://testserver/fhir/Patient", ""]
)
async def test_wrong_aud_gives_no_code(http: httpx.AsyncClient, aud: str) -> None:
    params = authorize_params("launch/patient", "v" * 50, aud=aud)
    response = await http.get("/auth/authorize", params=params)
    assert response.status_code == 302
    query = _query(response.headers["location"])
    assert "code" not in query
    assert query["error"] == ["invalid_request"] and query["state"] == [params["state"]]


async def test_aud_with_trailing_slash_is_the_base(http: httpx.AsyncClient) -> None:
    done = await launch(http, aud="http://testserver/fhir/")
    assert done.code


@pytest.mark.parametrize(
    "pkce",
    [
        {"code_challenge_method": "plain"},
        {"code_challenge_method": ""},
        {"code_challenge": ""},
        {"code_challenge": "short"},
    ],
)
async def test_authorize_requires_pkce_s256(http: httpx.AsyncClient, pkce: dict[str, str]) -> None:
    params = authorize_params("launch/patient", secrets.token_urlsafe(48), **pkce)
    response = await http.get("/auth/authorize", params=params)
    assert response.status_code == 302
    assert _query(response.headers["location"])["error"] == ["invalid_request"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"redirect_uri": "https://evil.example/cb"}, "Redirect URI"),
        ({"client_id": "nobody"}, "client"),
    ],
)
async def test_bad_client_or_redirect_is_shown_not_redirected(
    http: httpx.AsyncClient, override: dict[str, str], message: str
) -> None:
    params = authorize_params("launch/patient", "v" * 50, **override)
    response = await http.get("/auth/authorize", params=params)
    assert response.status_code == 400
    assert "location" not in response.headers and message in response.text


async def test_unknown_launch_is_refused(http: httpx.AsyncClient) -> None:
    params = authorize_params("launch openid", "v" * 50, launch="no-such-launch")
    response = await http.get("/auth/authorize", params=params)
    assert _query(response.headers["location"])["error"] == ["invalid_request"]


async def test_ehr_launch_redirects_to_the_app_with_iss_and_launch(
    http: httpx.AsyncClient,
) -> None:
    response = await http.get(
        "/auth/ehr-launch", params={"client_id": "app-public", "patient": PATIENT}
    )
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith("https://app.example/launch?")
    query = _query(location)
    assert query["iss"] == ["http://testserver/fhir"] and query["launch"][0]
    unknown = await http.get(
        "/auth/ehr-launch", params={"client_id": "app-public", "patient": "nobody"}
    )
    assert unknown.status_code == 400
