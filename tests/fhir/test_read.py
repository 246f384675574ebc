"""read and vread: stored bytes, conditional read, deleted and unknown resources."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient, Response

from tests.factories import assert_outcome, patient


async def _create(client: AsyncClient, **extra: Any) -> Response:
    response = await client.post("Patient", json=patient(**extra))
    assert response.status_code == 201
    return response


async def test_read_returns_the_bytes_and_headers_returned_by_create(client):
    created = await _create(client)
    res_id = created.json()["id"]

    read = await client.get(f"Patient/{res_id}")

    assert read.status_code == 200
    assert read.content == created.content
    assert read.headers["etag"] == created.headers["etag"] == 'W/"1"'
    assert read.headers["last-modified"] == created.headers["last-modified"]
    assert read.headers["content-type"] == "application/fhir+json; charset=utf-8"


async def test_read_with_matching_if_none_match_returns_304_without_body(client):
    res_id = (await _create(client)).json()["id"]

    response = await client.get(f"Patient/{res_id}", headers={"If-None-Match": 'W/"1"'})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == 'W/"1"'


async def test_read_with_stale_if_none_match_returns_the_resource(client):
    res_id = (await _create(client)).json()["id"]
    updated = await client.put(f"Patient/{res_id}", json=patient(id=res_id, active=True))
    assert updated.status_code == 200

    response = await client.get(f"Patient/{res_id}", headers={"If-None-Match": 'W/"1"'})

    assert response.status_code == 200
    assert response.json()["meta"]["versionId"] == "2"


async def test_read_of_a_deleted_resource_returns_410(client):
    res_id = (await _create(client)).json()["id"]
    assert (await client.delete(f"Patient/{res_id}")).status_code == 204

    response = await client.get(f"Patient/{res_id}")

    assert_outcome(response, 410, "deleted", f"Patient/{res_id} was deleted")


async def test_read_of_an_unknown_id_returns_404(client):
    response = await client.get("Patient/does-not-exist")

    assert_outcome(response, 404, "not-found", "Patient/does-not-exist")


async def test_read_of_an_id_on_another_type_returns_404(client):
    res_id = (await _create(client)).json()["id"]

    response = await client.get(f"Organization/{res_id}")

    assert_outcome(response, 404, "not-found", f"Organization/{res_id}")


async def test_read_with_an_invalid_id_returns_400(client):
    response = await client.get("Patient/bad_id!")

    assert_outcome(response, 400, "invalid", "not a valid FHIR id")


async def test_vread_returns_each_old_version(client):
    res_id = (await _create(client)).json()["id"]
    second = await client.put(f"Patient/{res_id}", json=patient(id=res_id, gender="unknown"))
    assert second.status_code == 200

    first = await client.get(f"Patient/{res_id}/_history/1")
    latest = await client.get(f"Patient/{res_id}/_history/2")

    assert first.status_code == latest.status_code == 200
    assert first.json()["gender"] == "female"
    assert first.json()["meta"]["versionId"] == "1"
    assert first.headers["etag"] == 'W/"1"'
    assert latest.content == second.content
    assert latest.headers["etag"] == 'W/"2"'


async def test_vread_of_an_unknown_version_returns_404(client):
    res_id = (await _create(client)).json()["id"]

    response = await client.get(f"Patient/{res_id}/_history/7")

    assert_outcome(response, 404, "not-found", "has no version 7")


async def test_vread_of_a_version_that_is_not_a_number_returns_400(client):
    res_id = (await _create(client)).json()["id"]

    response = await client.get(f"Patient/{res_id}/_history/first")

    assert_outcome(response, 400, "invalid", "'first' is not a version id")


async def test_vread_of_the_deletion_version_returns_410_but_older_versions_stay_readable(client):
    res_id = (await _create(client)).json()["id"]
    await client.delete(f"Patient/{res_id}")

    deletion = await client.get(f"Patient/{res_id}/_history/2")
    before = await client.get(f"Patient/{res_id}/_history/1")

    assert_outcome(deletion, 410, "deleted", "is a deletion")
    assert before.status_code == 200
    assert before.json()["id"] == res_id
