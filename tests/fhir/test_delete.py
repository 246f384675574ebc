"""delete: a deletion version in history; deleting again changes nothing."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

from tests.factories import NHS_NUMBER, assert_outcome, patient


async def _history(client: AsyncClient, url: str) -> Any:
    response = await client.get(f"{url}/_history")
    assert response.status_code == 200
    return response.json().get("entry", [])


async def test_delete_returns_204_and_then_read_returns_410(client):
    await client.put("Patient/p1", json=patient(id="p1"))

    response = await client.delete("Patient/p1")

    assert response.status_code == 204
    assert response.content == b""
    assert response.headers["etag"] == 'W/"2"'
    assert_outcome(await client.get("Patient/p1"), 410, "deleted", "Patient/p1")


async def test_history_shows_the_delete_entry_without_a_resource(client):
    await client.put("Patient/p1", json=patient(id="p1"))
    await client.delete("Patient/p1")

    entries = await _history(client, "Patient/p1")

    assert len(entries) == 2
    deletion = entries[0]
    assert deletion["request"] == {"method": "DELETE", "url": "Patient/p1"}
    assert "resource" not in deletion
    assert deletion["response"]["etag"] == 'W/"2"'
    assert deletion["response"]["status"].startswith("204")
    assert entries[1]["resource"]["meta"]["versionId"] == "1"


async def test_delete_again_returns_204_and_makes_no_new_version(client):
    await client.put("Patient/p1", json=patient(id="p1"))
    await client.delete("Patient/p1")

    again = await client.delete("Patient/p1")

    assert again.status_code == 204
    assert again.headers["etag"] == 'W/"2"'
    assert len(await _history(client, "Patient/p1")) == 2


async def test_delete_of_an_unknown_resource_returns_204_and_records_nothing(client):
    response = await client.delete("Patient/never-existed")

    assert response.status_code == 204
    history = await client.get("Patient/never-existed/_history")
    assert history.status_code == 404
    assert (await client.get("_history")).json().get("entry") is None


async def test_deleted_resources_are_not_found_by_search(client):
    await client.put("Patient/p1", json=patient(id="p1"))
    await client.put("Patient/p2", json=patient("9000000017", id="p2"))
    await client.delete("Patient/p1")

    bundle = (await client.get("Patient", params={"identifier": f"{NHS_NUMBER}|9000000009"})).json()
    everyone = (await client.get("Patient")).json()

    assert bundle["total"] == 0
    assert [e["resource"]["id"] for e in everyone["entry"]] == ["p2"]


async def test_delete_with_stale_if_match_returns_412_and_keeps_the_resource(client):
    await client.put("Patient/p1", json=patient(id="p1"))
    await client.put("Patient/p1", json=patient(id="p1", active=True))

    response = await client.delete("Patient/p1", headers={"If-Match": 'W/"1"'})

    assert_outcome(response, 412, "conflict", "current version is 2")
    assert (await client.get("Patient/p1")).status_code == 200


async def test_delete_with_matching_if_match_deletes(client):
    await client.put("Patient/p1", json=patient(id="p1"))

    response = await client.delete("Patient/p1", headers={"If-Match": 'W/"1"'})

    assert response.status_code == 204
    assert (await client.get("Patient/p1")).status_code == 410


async def test_a_deleted_resource_can_be_recreated_by_update(client):
    await client.put("Patient/p1", json=patient(id="p1"))
    await client.delete("Patient/p1")

    response = await client.put("Patient/p1", json=patient(id="p1"))

    assert response.status_code == 201
    assert response.json()["meta"]["versionId"] == "3"
    methods = [e["request"]["method"] for e in await _history(client, "Patient/p1")]
    assert methods == ["PUT", "DELETE", "PUT"]
