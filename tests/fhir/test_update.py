"""update: PUT by id (create with a client id, versioned update, If-Match, no-op updates)."""

from __future__ import annotations

from httpx import AsyncClient

from tests.factories import assert_outcome, patient


async def _history_total(client: AsyncClient, url: str) -> int:
    response = await client.get(f"{url}/_history")
    assert response.status_code == 200
    return len(response.json().get("entry", []))


async def test_put_with_a_client_id_creates_then_updates(client):
    created = await client.put("Patient/pat-okafor", json=patient(id="pat-okafor"))

    assert created.status_code == 201
    assert created.headers["location"] == "http://testserver/fhir/Patient/pat-okafor/_history/1"
    assert created.headers["etag"] == 'W/"1"'

    updated = await client.put("Patient/pat-okafor", json=patient(id="pat-okafor", active=True))

    assert updated.status_code == 200
    assert updated.headers["etag"] == 'W/"2"'
    body = updated.json()
    assert body["id"] == "pat-okafor"
    assert body["meta"]["versionId"] == "2"
    assert body["active"] is True
    assert (await client.get("Patient/pat-okafor")).content == updated.content


async def test_update_with_matching_if_match_succeeds(client):
    await client.put("Patient/p1", json=patient(id="p1"))

    response = await client.put(
        "Patient/p1", json=patient(id="p1", gender="other"), headers={"If-Match": 'W/"1"'}
    )

    assert response.status_code == 200
    assert response.json()["meta"]["versionId"] == "2"


async def test_update_with_stale_if_match_returns_412(client):
    await client.put("Patient/p1", json=patient(id="p1"))
    await client.put("Patient/p1", json=patient(id="p1", gender="other"))

    response = await client.put(
        "Patient/p1", json=patient(id="p1", gender="male"), headers={"If-Match": 'W/"1"'}
    )

    assert_outcome(response, 412, "conflict", "current version is 2")
    assert response.headers["etag"] == 'W/"2"'
    assert (await client.get("Patient/p1")).json()["gender"] == "other"


async def test_update_with_if_match_on_a_missing_resource_returns_412(client):
    response = await client.put("Patient/p1", json=patient(id="p1"), headers={"If-Match": 'W/"1"'})

    assert_outcome(response, 412, "conflict", "does not exist")
    assert (await client.get("Patient/p1")).status_code == 404


async def test_update_with_a_malformed_if_match_returns_400(client):
    await client.put("Patient/p1", json=patient(id="p1"))

    response = await client.put("Patient/p1", json=patient(id="p1"), headers={"If-Match": "abc"})

    assert_outcome(response, 400, "invalid", "If-Match")


async def test_update_that_changes_nothing_keeps_the_version_and_adds_no_history(client):
    first = await client.put("Patient/p1", json=patient(id="p1"))

    again = await client.put("Patient/p1", json=patient(id="p1"))

    assert again.status_code == 200
    assert again.headers["etag"] == 'W/"1"'
    assert again.json()["meta"] == first.json()["meta"]
    assert await _history_total(client, "Patient/p1") == 1


async def test_update_ignores_version_meta_sent_by_the_client(client):
    created = (await client.put("Patient/p1", json=patient(id="p1"))).json()

    resent = await client.put("Patient/p1", json=created)
    changed = await client.put(
        "Patient/p1",
        json=patient(
            id="p1", meta={"versionId": "41", "lastUpdated": "2001-01-01T00:00:00Z"}, active=False
        ),
    )

    assert resent.headers["etag"] == 'W/"1"'
    assert changed.status_code == 200
    assert changed.json()["meta"]["versionId"] == "2"
    assert changed.json()["meta"]["lastUpdated"] != "2001-01-01T00:00:00Z"


async def test_update_with_an_id_in_the_body_that_differs_from_the_url_returns_400(client):
    response = await client.put("Patient/p1", json=patient(id="p2"))

    assert_outcome(response, 400, "invalid", "differs from the id in the URL", "Patient.id")
    assert (await client.get("Patient/p1")).status_code == 404
    assert (await client.get("Patient/p2")).status_code == 404


async def test_update_without_an_id_in_the_body_returns_400(client):
    response = await client.put("Patient/p1", json=patient())

    assert_outcome(response, 400, "invalid", "needs the resource id", "Patient.id")
    assert (await client.get("Patient/p1")).status_code == 404


async def test_update_of_a_deleted_resource_recreates_it_with_the_next_version(client):
    await client.put("Patient/p1", json=patient(id="p1"))
    await client.delete("Patient/p1")

    response = await client.put("Patient/p1", json=patient(id="p1"))

    assert response.status_code == 201
    assert response.headers["etag"] == 'W/"3"'
    assert (await client.get("Patient/p1")).status_code == 200
    assert await _history_total(client, "Patient/p1") == 3


async def test_update_with_an_invalid_body_leaves_the_stored_resource_alone(client):
    await client.put("Patient/p1", json=patient(id="p1"))

    response = await client.put("Patient/p1", json=patient(id="p1", birthDate="1948-13-01"))

    assert_outcome(response, 400, "value", "1948-13-01", "Patient.birthDate")
    stored = (await client.get("Patient/p1")).json()
    assert stored["birthDate"] == "1948-07-19"
    assert stored["meta"]["versionId"] == "1"
