"""The user's part of a launch, done over HTTP as a browser would: the embedded server's
sign-in page and, for a standalone launch, its patient picker."""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urljoin

import httpx

from tests.auth.e2e.conftest import PASSWORD, USERNAME


def hidden_pending(html: str) -> str:
    found = re.search(r'name="pending" value="([^"]*)"', html)
    assert found, html
    return unescape(found.group(1))


def sign_in(browser: httpx.Client, authorize_url: str, pick: str | None = None) -> str:
    """Follows ``authorize_url`` to the app's redirect, which is returned (not fetched).

    ``browser`` keeps the sign-in cookie between the pages. With ``pick`` the picker must
    appear: the patient is found by name search first, as a user would.
    """
    page = browser.get(authorize_url)
    assert page.status_code == 200, page.text
    assert 'name="username"' in page.text, page.text
    done = browser.post(
        urljoin(str(page.url), "login"),
        data={"pending": hidden_pending(page.text), "username": USERNAME, "password": PASSWORD},
    )
    if pick is not None:
        assert done.status_code == 200, done.text  # the picker
        searched = browser.post(
            urljoin(str(page.url), "patient"),
            data={"pending": hidden_pending(done.text), "name": "Okafor"},
        )
        assert f'id="p-{pick}"' in searched.text, searched.text
        done = browser.post(
            urljoin(str(page.url), "patient"),
            data={"pending": hidden_pending(searched.text), "patient": pick},
        )
    assert done.status_code == 302, done.text
    return done.headers["location"]
