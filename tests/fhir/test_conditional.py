"""Conditional create, update and delete, and their behaviour under concurrency."""

from __future__ import annotations

import asyncio
from typing import Any

from httpx import AsyncClient

from tests.factories import NHS_NUMBER, assert_outcome, patient

BY_NHS = f"identifier={NHS_NUMBER}|9000000009"
NHS_PARAMS = {"identifier": f"{NHS_NUMBER}|9000000009"}


async def _count(client: AsyncClient, params: dict[str, str] | None = None) -> int:
    response = await client.get("Patient", params={**(params or {}), "_summary": "count"})
    assert response.status_code == 200
    return int(response.json()["total"])


async def _history_length(client: AsyncClient) -> int:
    response = await client.get("_history")
    assert response.status_code == 200
    return len(response.json().get("entry", []))


# -- conditional create ------------------------------------------------------------------------


async def test_conditional_create_without_a_match_creates(client):
    response = await client.post("Patient", json=patient(), headers={"If-None-Exist": BY_NHS})

    assert response.status_code == 201
    assert response.headers["etag"] == 'W/"1"'
    assert await _count(client, NHS_PARAMS) == 1


async def test_conditional_create_with_one_match_returns_it_and_creates_nothing(client):
    existing = (await client.post("Patient", json=patient())).json()

    response = await client.post(
        "Patient", json=patient(family="Someone-Else"), headers={"If-None-Exist": BY_NHS}
    )

    assert response.status_code == 200
    assert response.json() == existing
    assert response.headers["etag"] == 'W/"1"'
    assert await _count(client) == 1
    assert await _history_length(client) == 1


async def test_conditional_create_accepts_criteria_with_the_type_prefix(client):
    existing = (await client.post("Patient", json=patient())).json()

    response = await client.post(
        "Patient", json=patient(), headers={"If-None-Exist": f"Patient?{BY_NHS}"}
    )

    assert response.status_code == 200
    assert response.json()["id"] == existing["id"]


async def test_conditional_create_with_several_matches_returns_412(client):
    await client.post("Patient", json=patient())
    await client.post("Patient", json=patient())

    response = await client.post("Patient", json=patient(), headers={"If-None-Exist": BY_NHS})

    assert_outcome(response, 412, "multiple-matches", "match more than one resource")
    assert await _count(client) == 2


async def test_conditional_create_with_an_unknown_parameter_returns_400(client):
    response = await client.post(
        "Patient", json=patient(), headers={"If-None-Exist": "shoe-size=9"}
    )

    assert_outcome(response, 400, "invalid", "shoe-size", "shoe-size")
    assert await _count(client) == 0


async def test_conditional_create_with_empty_criteria_returns_400(client):
    response = await client.post("Patient", json=patient(), headers={"If-None-Exist": ""})

    assert_outcome(response, 400, "invalid", "empty")
    assert await _count(client) == 0


async def test_concurrent_identical_conditional_creates_make_exactly_one_resource(client):
    async def create() -> Any:
        return await client.post("Patient", json=patient(), headers={"If-None-Exist": BY_NHS})

    responses = await asyncio.gather(*(create() for _ in range(20)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert await _count(client, NHS_PARAMS) == 1
    assert await _history_length(client) == 1


# -- conditional update ------------------------------------------------------------------------


async def test_conditional_update_without_a_match_creates(client):
    response = await client.put("Patient", params=NHS_PARAMS, json=patient())

    assert response.status_code == 201
    assert response.headers["etag"] == 'W/"1"'
    created = response.json()
    assert (await client.get(f"Patient/{created['id']}")).status_code == 200


async def test_conditional_update_with_one_match_updates_that_resource(client):
    target = (await client.post("Patient", json=patient())).json()
    other = (await client.post("Patient", json=patient("9000000017"))).json()

    response = await client.put("Patient", params=NHS_PARAMS, json=patient(active=True))

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == target["id"]
    assert body["meta"]["versionId"] == "2"
    assert body["active"] is True
    assert "active" not in (await client.get(f"Patient/{other['id']}")).json()
    assert await _count(client) == 2


async def test_conditional_update_with_a_conflicting_body_id_returns_400(client):
    await client.post("Patient", json=patient())

    response = await client.put("Patient", params=NHS_PARAMS, json=patient(id="someone-else"))

    assert_outcome(response, 400, "invalid", "differs", "Patient.id")


async def test_conditional_update_with_several_matches_returns_412(client):
    first = (await client.post("Patient", json=patient())).json()
    second = (await client.post("Patient", json=patient())).json()

    response = await client.put("Patient", params=NHS_PARAMS, json=patient(active=True))

    assert_outcome(response, 412, "multiple-matches", "more than one")
    for created in (first, second):
        assert (await client.get(f"Patient/{created['id']}")).json() == created
    assert await _history_length(client) == 2


async def test_conditional_update_with_an_unknown_parameter_returns_400(client):
    response = await client.put("Patient", params={"shoe-size": "9"}, json=patient())

    assert_outcome(response, 400, "invalid", "shoe-size", "shoe-size")


# -- conditional delete ------------------------------------------------------------------------


async def test_conditional_delete_deletes_the_single_match(client):
    target = (await client.post("Patient", json=patient())).json()
    other = (await client.post("Patient", json=patient("9000000017"))).json()

    response = await client.delete("Patient", params=NHS_PARAMS)

    assert response.status_code == 204
    assert (await client.get(f"Patient/{target['id']}")).status_code == 410
    assert (await client.get(f"Patient/{other['id']}")).status_code == 200


async def test_conditional_delete_without_a_match_returns_204(client):
    await client.post("Patient", json=patient("9000000017"))

    response = await client.delete("Patient", params=NHS_PARAMS)

    assert response.status_code == 204
    assert await _history_length(client) == 1


async def test_conditional_delete_with_several_matches_returns_412_and_deletes_nothing(client):
    await client.post("Patient", json=patient())
    await client.post("Patient", json=patient())

    response = await client.delete("Patient", params=NHS_PARAMS)

    assert_outcome(response, 412, "multiple-matches", "more than one")
    assert await _count(client) == 2


async def test_conditional_delete_without_criteria_returns_400(client):
    await client.post("Patient", json=patient())

    response = await client.delete("Patient")

    assert_outcome(response, 400, "invalid", "empty")
    assert await _count(client) == 1


# -- concurrent versioned updates --------------------------------------------------------------


async def test_concurrent_updates_with_the_same_if_match_let_exactly_one_through(client):
    await client.put("Patient/p1", json=patient(id="p1"))

    async def update(n: int) -> Any:
        return await client.put(
            "Patient/p1",
            json=patient(id="p1", name=[{"family": f"Writer-{n}"}]),
            headers={"If-Match": 'W/"1"'},
        )

    responses = await asyncio.gather(*(update(n) for n in range(20)))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * 19
    [winner] = [r for r in responses if r.status_code == 200]
    for loser in (r for r in responses if r.status_code == 412):
        assert_outcome(loser, 412, "conflict", "current version is 2")
    stored = (await client.get("Patient/p1")).json()
    assert stored["meta"]["versionId"] == "2"
    assert stored["name"] == winner.json()["name"]
    assert len((await client.get("Patient/p1/_history")).json()["entry"]) == 2
