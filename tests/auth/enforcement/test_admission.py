"""The shortcuts of a request's admission are as strict as the full path: a token admitted
before is refused on the next request once expired or revoked, or sent to another base URL, and
the decision the route was allowed by is reused only for its own type and letter."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from fastapi import FastAPI
from joserfc.jwk import KeySet, RSAKey

from app.auth import context, policy
from app.auth.access import Principal
from app.auth.guard import Guard
from app.auth.policy import Decision
from app.auth.scopes import Grants
from app.auth.tokens import LEEWAY, TokenVerifier
from app.errors import Forbidden
from tests.auth.enforcement.conftest import KEY, bearer, mint

pytestmark = pytest.mark.usefixtures("secured")


@contextmanager
def guarded(app: FastAPI, revoked: set[str], now: list[float]) -> Iterator[TokenVerifier]:
    """The app's guard swapped for one whose revocation list and clock the test controls."""
    keys = KeySet([RSAKey.import_key(KEY.as_dict(private=False))])
    verifier = TokenVerifier(
        keys=lambda: keys, is_revoked=revoked.__contains__, clock=lambda: now[0]
    )
    before = app.state.guard
    app.state.guard = Guard(app.state.fhir.settings, verifier)
    try:
        yield verifier
    finally:
        app.state.guard = before


async def test_a_revoked_token_is_refused_on_the_next_request(
    secured: httpx.AsyncClient, secured_app: FastAPI
) -> None:
    revoked: set[str] = set()
    with guarded(secured_app, revoked, [time.time()]):
        headers = bearer(mint("user/Patient.r", jti="to-revoke"))
        for _ in range(2):  # the second is admitted on the fast path
            assert (await secured.get("Patient/pa", headers=headers)).status_code == 200
        revoked.add("to-revoke")
        response = await secured.get("Patient/pa", headers=headers)
        assert response.status_code == 401, response.text
        assert "revoked" in response.text


async def test_an_expired_token_is_refused_on_the_next_request(
    secured: httpx.AsyncClient, secured_app: FastAPI
) -> None:
    now = [time.time()]
    with guarded(secured_app, set(), now):
        headers = bearer(mint("user/Patient.r", expires_in=60))
        for _ in range(2):
            assert (await secured.get("Patient/pa", headers=headers)).status_code == 200
        now[0] += 60 + LEEWAY + 1
        response = await secured.get("Patient/pa", headers=headers)
        assert response.status_code == 401, response.text
        assert "expired" in response.text


def _scope(raw: bytes, host: bytes = b"testserver", scheme: str = "http") -> dict[str, object]:
    """What ``Guard.admitted`` reads of a request: its headers and what its base URL is of."""
    return {
        "headers": [(b"host", host), (b"authorization", raw)],
        "scheme": scheme,
        "root_path": "",
        "server": ("testserver", None),  # as httpx sends it
    }


async def test_a_token_admitted_for_one_base_url_is_not_admitted_for_another(
    secured: httpx.AsyncClient, secured_app: FastAPI
) -> None:
    with guarded(secured_app, set(), [time.time()]) as verifier:
        headers = bearer(mint("user/Patient.r"))  # aud: http://testserver/fhir
        assert (await secured.get("Patient/pa", headers=headers)).status_code == 200
        guard: Guard = secured_app.state.guard
        raw = headers["Authorization"].encode()
        assert guard.admitted(_scope(raw)) is not None
        assert guard.admitted(_scope(raw, host=b"elsewhere")) is None
        assert guard.admitted(_scope(raw, scheme="https")) is None
        response = await secured.get("Patient/pa", headers={**headers, "Host": "elsewhere"})
        assert response.status_code == 401, response.text  # its audience is not that base
        over_https = httpx.AsyncClient(
            transport=secured._transport, base_url="https://testserver/fhir/"
        )
        async with over_https:
            response = await over_https.get("Patient/pa", headers=headers)
        assert response.status_code == 401, response.text  # nor is https://testserver/fhir
        verifier.forget()
        assert guard.admitted(_scope(raw)) is None


async def test_scopes_are_still_enforced_on_the_fast_path(
    secured: httpx.AsyncClient, secured_app: FastAPI
) -> None:
    with guarded(secured_app, set(), [time.time()]):
        headers = bearer(mint("patient/Patient.r", patient="pa"))
        for _ in range(2):
            assert (await secured.get("Patient/pa", headers=headers)).status_code == 200
            assert (await secured.get("Patient/pb", headers=headers)).status_code == 404
            assert (await secured.get("Observation/obs-a-lab", headers=headers)).status_code == 403


@dataclass
class _Admission:
    principal: Principal
    decision: Decision | None


def test_the_route_decision_is_reused_only_for_its_type_and_letter() -> None:
    principal = Principal(
        client_id="app", subject="app", grants=Grants.parse("patient/Patient.r"), patient="pa"
    )
    route = policy.decide(principal, "Patient", "r")
    assert (route.res_type, route.letter, route.patient, route.open) == (
        "Patient",
        "r",
        "pa",
        False,
    )
    token = context.bind(_Admission(principal, route))
    try:
        assert policy.require("Patient", "r") is route
        with pytest.raises(Forbidden):
            policy.require("Patient", "s")  # another letter: decided again, and refused
        with pytest.raises(Forbidden):
            policy.require("Observation", "r")  # another type too
        with context.internal_work():
            assert policy.require("Observation", "r") is policy.OPEN
    finally:
        context.unbind(token)
    assert policy.require("Observation", "r") is policy.OPEN  # outside a request
    assert context.current() is None
