"""The login page refuses to let passwords be guessed at speed: a username locked after
repeated failures (even for the right password), an address refused after trying many."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI

from app.auth.server import throttle
from app.auth.server.throttle import SignInThrottle
from tests.auth.server.conftest import authorize_params, hidden


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(auth_app: FastAPI) -> Iterator[Clock]:
    """A fresh throttle on a clock the test moves."""
    ticking = Clock()
    server = auth_app.state.auth_server
    saved = server.sign_ins
    server.sign_ins = SignInThrottle(ticking)
    yield ticking
    server.sign_ins = saved


async def sign_in(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    page = await http.get("/auth/authorize", params=authorize_params("launch/patient", "v" * 50))
    return await http.post(
        "/auth/login",
        data={"pending": hidden(page.text), "username": username, "password": password},
    )


async def test_a_username_is_locked_after_repeated_failures_even_for_the_right_password(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    for _ in range(throttle.PER_USER):
        assert (await sign_in(http, "doc", "guess")).status_code == 401
    locked = await sign_in(http, "doc", "pw")
    assert locked.status_code == 429
    assert "Too many failed sign-ins: try again in 15 minutes" in locked.text
    assert int(locked.headers["retry-after"]) == throttle.WINDOW
    assert "pending" in locked.text  # the form is shown again, nothing issued
    clock.now += throttle.WINDOW
    assert (await sign_in(http, "doc", "pw")).status_code == 200  # the patient picker


async def test_an_unknown_username_is_counted_and_answered_like_a_known_one(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    for _ in range(throttle.PER_USER):
        wrong = await sign_in(http, "nobody", "guess")
        assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
    assert (await sign_in(http, "nobody", "guess")).status_code == 429
    assert (await sign_in(http, "doc", "pw")).status_code == 200  # others are not affected


async def test_a_success_clears_the_count(http: httpx.AsyncClient, clock: Clock) -> None:
    for _ in range(throttle.PER_USER - 1):
        assert (await sign_in(http, "doc", "guess")).status_code == 401
    assert (await sign_in(http, "doc", "pw")).status_code == 200
    for _ in range(throttle.PER_USER - 1):
        assert (await sign_in(http, "doc", "guess")).status_code == 401
    assert (await sign_in(http, "doc", "pw")).status_code == 200


async def test_an_address_trying_many_usernames_is_refused(
    http: httpx.AsyncClient, clock: Clock
) -> None:
    for n in range(throttle.PER_ADDRESS):
        assert (await sign_in(http, f"user-{n}", "guess")).status_code == 401
    refused = await sign_in(http, "doc", "pw")
    assert refused.status_code == 429
    clock.now += throttle.WINDOW / 2
    assert (await sign_in(http, "doc", "pw")).status_code == 429  # still inside the window
    clock.now += throttle.WINDOW / 2
    assert (await sign_in(http, "doc", "pw")).status_code == 200


def test_failures_older_than_the_window_are_forgotten() -> None:
    ticking = Clock()
    sign_ins = SignInThrottle(ticking)
    for _ in range(throttle.PER_USER):
        sign_ins.failed("doc", "10.0.0.1")
        ticking.now += 60
    assert sign_ins.retry_after("doc", "10.0.0.1") == throttle.WINDOW - 60 * throttle.PER_USER
    ticking.now += throttle.WINDOW
    assert sign_ins.retry_after("doc", "10.0.0.1") is None
