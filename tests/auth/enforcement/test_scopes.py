"""The scope matrix: each SMART v2 letter opens exactly its interactions, v1 scopes map to
v2, and an interaction outside the scopes is a 403 decided before any query runs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.auth.enforcement.conftest import LAB, bearer, ids, mint, observation
from tests.factories import JSON_PATCH_HEADERS, assert_outcome

NEW = observation("obs-new", "Patient/pa", LAB)
PATCH = [{"op": "replace", "path": "/status", "value": "amended"}]

INTERACTIONS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "read": ("GET", "Observation/obs-a-lab", {}),
    "vread": ("GET", "Observation/obs-a-lab/_history/1", {}),
    "history-instance": ("GET", "Observation/obs-a-lab/_history", {}),
    "search": ("GET", "Observation?status=final", {}),
    "search-post": ("POST", "Observation/_search", {"data": {"status": "final"}}),
    "history-type": ("GET", "Observation/_history", {}),
    "create": ("POST", "Observation", {"json": NEW}),
    "update": ("PUT", "Observation/obs-a-lab", {"json": {**NEW, "id": "obs-a-lab"}}),
    "patch": ("PATCH", "Observation/obs-a-lab", {"json": PATCH, "headers": JSON_PATCH_HEADERS}),
    "delete": ("DELETE", "Observation/obs-a-vital", {}),
}
LETTER = {
    "read": "r",
    "vread": "r",
    "history-instance": "r",
    "search": "s",
    "search-post": "s",
    "history-type": "s",
    "create": "c",
    "update": "u",
    "patch": "u",
    "delete": "d",
}


async def _call(client: httpx.AsyncClient, interaction: str, scope: str) -> httpx.Response:
    method, url, kwargs = INTERACTIONS[interaction]
    headers = {**kwargs.pop("headers", {}), **bearer(mint(scope))} if kwargs else {}
    headers = headers or bearer(mint(scope))
    return await client.request(method, url, headers=headers, **kwargs)


@pytest.mark.parametrize("interaction", sorted(INTERACTIONS))
@pytest.mark.parametrize("letters", ["c", "r", "u", "d", "s"])
async def test_each_letter_opens_only_its_interactions(
    secured: httpx.AsyncClient, interaction: str, letters: str
) -> None:
    method, url, kwargs = INTERACTIONS[interaction]
    headers = {**kwargs.get("headers", {}), **bearer(mint(f"user/Observation.{letters}"))}
    extra = {k: v for k, v in kwargs.items() if k != "headers"}
    response = await secured.request(method, url, headers=headers, **extra)
    if LETTER[interaction] in letters:
        assert response.status_code < 400, response.text
    else:
        assert_outcome(response, 403, "forbidden", "scopes do not allow", "Observation")


@pytest.mark.parametrize(
    ("scope", "allowed", "refused"),
    [
        ("user/Observation.read", ["read", "search", "history-type"], ["create", "delete"]),
        ("user/Observation.write", ["create", "update", "delete"], ["read", "search"]),
        ("user/Observation.*", ["read", "search", "create", "patch"], []),
        ("user/*.rs", ["read", "search"], ["create", "update"]),
        ("http://smarthealthit.org/fhir/scopes/user/Observation.rs", ["read"], ["create"]),
        ("user/Observation.dus", [], ["read", "delete", "search"]),
        ("user/Patient.cruds", [], ["read", "create"]),
    ],
)
async def test_v1_v2_uri_and_malformed_scopes(
    secured: httpx.AsyncClient, scope: str, allowed: list[str], refused: list[str]
) -> None:
    for interaction in allowed:
        method, url, kwargs = INTERACTIONS[interaction]
        headers = {**kwargs.get("headers", {}), **bearer(mint(scope))}
        extra = {k: v for k, v in kwargs.items() if k != "headers"}
        response = await secured.request(method, url, headers=headers, **extra)
        assert response.status_code < 400, (interaction, response.text)
    for interaction in refused:
        method, url, kwargs = INTERACTIONS[interaction]
        headers = {**kwargs.get("headers", {}), **bearer(mint(scope))}
        extra = {k: v for k, v in kwargs.items() if k != "headers"}
        response = await secured.request(method, url, headers=headers, **extra)
        assert_outcome(response, 403, "forbidden")


async def test_duplicate_scope_tokens_are_tolerated(secured: httpx.AsyncClient) -> None:
    token = mint("user/Observation.rs user/Observation.rs launch openid")
    response = await secured.get("Observation/obs-a-lab", headers=bearer(token))
    assert response.status_code == 200


async def test_a_refusal_does_not_depend_on_what_exists(secured: httpx.AsyncClient) -> None:
    """No existence oracle: a refused read of a real id and of a made-up one look the same."""
    token = bearer(mint("user/Patient.rs"))
    real = await secured.get("Observation/obs-a-lab", headers=token)
    made_up = await secured.get("Observation/does-not-exist", headers=token)
    assert real.status_code == made_up.status_code == 403
    assert real.json() == made_up.json()


async def test_chains_and_has_need_search_rights_on_every_type_they_touch(
    secured: httpx.AsyncClient,
) -> None:
    only_obs = bearer(mint("user/Observation.rs"))
    chained = await secured.get("Observation?subject:Patient.family=Okafor", headers=only_obs)
    assert_outcome(chained, 403, "forbidden", expression="Patient")
    both = bearer(mint("user/Observation.rs user/Patient.rs"))
    allowed = await secured.get("Observation?subject:Patient.family=Hughes", headers=both)
    assert ids(allowed) == ["Observation/obs-b-lab"]
    only_patient = bearer(mint("user/Patient.rs"))
    has = await secured.get("Patient?_has:Observation:subject:status=final", headers=only_patient)
    assert_outcome(has, 403, "forbidden", expression="Observation")


async def test_system_search_and_history_need_open_rights_on_every_type(
    secured: httpx.AsyncClient,
) -> None:
    narrow = bearer(mint("user/Observation.rs"))
    assert (await secured.get("?_type=Observation", headers=narrow)).status_code == 200
    assert_outcome(await secured.get("?_type=Patient", headers=narrow), 403, "forbidden")
    everything = await secured.get("?status=final", headers=narrow)
    assert {i.split("/")[0] for i in ids(everything)} == {"Observation"}
    history = (await secured.get("_history", headers=narrow)).json()
    assert {e["resource"]["resourceType"] for e in history["entry"] if "resource" in e} == {
        "Observation"
    }
    tasks_only = await secured.get("_history", headers=bearer(mint("user/Task.rs")))
    assert "entry" not in tasks_only.json()  # 200: only Task history, and there is none
    wide = bearer(mint("system/*.rs"))
    history = (await secured.get("_history", headers=wide)).json()
    assert len({e["resource"]["resourceType"] for e in history["entry"] if "resource" in e}) > 3


async def test_the_audit_trail_needs_its_scope_by_name(secured: httpx.AsyncClient) -> None:
    wildcard = await secured.get("AuditEvent", headers=bearer(mint("system/*.rs")))
    assert_outcome(wildcard, 403, "forbidden", expression="AuditEvent")
    named = await secured.get("AuditEvent", headers=bearer(mint("system/AuditEvent.rs")))
    assert named.status_code == 200


async def test_operations_need_their_scopes(secured: httpx.AsyncClient) -> None:
    terminology = "ValueSet/$expand?url=https://fhir.southlondon-mitral.nhs.uk/ValueSet/mr-severity"
    assert_outcome(
        await secured.get(terminology, headers=bearer(mint("user/Patient.rs"))), 403, "forbidden"
    )
    allowed = await secured.get(terminology, headers=bearer(mint("user/ValueSet.r")))
    assert allowed.status_code == 200, allowed.text
    measure = "Measure/$evaluate-measure?periodStart=2026-01-01&periodEnd=2026-12-31"
    refused = await secured.get(measure, headers=bearer(mint("patient/*.rs", patient="pa")))
    assert_outcome(refused, 403, "forbidden", "every patient")
