"""patch: JSON Patch (RFC 6902) by id and by criteria, validated like an update."""

from __future__ import annotations

import json
from typing import Any

from httpx import AsyncClient, Response

from tests.factories import JSON_PATCH_HEADERS, NHS_NUMBER, assert_outcome, patient


async def _patch(
    client: AsyncClient, url: str, operations: Any, headers: dict[str, str] | None = None
) -> Response:
    return await client.patch(
        url, content=json.dumps(operations), headers={**JSON_PATCH_HEADERS, **(headers or {})}
    )


async def _stored(client: AsyncClient) -> Any:
    response = await client.put("Patient/p1", json=patient(id="p1"))
    assert response.status_code == 201
    return response.json()


async def test_json_patch_changes_the_resource_and_makes_a_new_version(client):
    await _stored(client)

    response = await _patch(
        client,
        "Patient/p1",
        [
            {"op": "replace", "path": "/gender", "value": "male"},
            {
                "op": "add",
                "path": "/telecom",
                "value": [{"system": "phone", "value": "020 7188 7188"}],
            },
            {"op": "remove", "path": "/address"},
        ],
    )

    assert response.status_code == 200
    assert response.headers["etag"] == 'W/"2"'
    body = response.json()
    assert body["gender"] == "male"
    assert body["telecom"] == [{"system": "phone", "value": "020 7188 7188"}]
    assert "address" not in body
    assert body["meta"]["versionId"] == "2"
    assert (await client.get("Patient/p1")).content == response.content


async def test_patch_with_a_passing_test_operation_is_applied(client):
    await _stored(client)

    response = await _patch(
        client,
        "Patient/p1",
        [
            {"op": "test", "path": "/gender", "value": "female"},
            {"op": "replace", "path": "/gender", "value": "other"},
        ],
    )

    assert response.status_code == 200
    assert response.json()["gender"] == "other"


async def test_patch_with_a_failing_test_operation_is_rejected(client):
    await _stored(client)

    response = await _patch(
        client, "Patient/p1", [{"op": "test", "path": "/gender", "value": "male"}]
    )

    assert response.status_code in (400, 422)
    assert_outcome(response, response.status_code, "invalid", "could not be applied")
    assert (await client.get("Patient/p1")).json()["meta"]["versionId"] == "1"


async def test_patch_that_breaks_the_resource_returns_400_with_the_path(client):
    await _stored(client)

    response = await _patch(
        client, "Patient/p1", [{"op": "replace", "path": "/birthDate", "value": "2020-02-30"}]
    )

    assert_outcome(response, 400, "value", "2020-02-30", "Patient.birthDate")
    assert (await client.get("Patient/p1")).json()["birthDate"] == "1948-07-19"


async def test_patch_adding_an_unknown_element_returns_400_with_the_path(client):
    await _stored(client)

    response = await _patch(
        client, "Patient/p1", [{"op": "add", "path": "/colour", "value": "red"}]
    )

    assert_outcome(response, 400, "structure", "colour", "Patient.colour")


async def test_patch_of_a_missing_path_returns_an_error(client):
    await _stored(client)

    response = await _patch(client, "Patient/p1", [{"op": "remove", "path": "/deceasedBoolean"}])

    assert_outcome(response, 400, "invalid", "could not be applied")


async def test_patch_that_changes_the_id_returns_400(client):
    await _stored(client)

    response = await _patch(client, "Patient/p1", [{"op": "replace", "path": "/id", "value": "p2"}])

    assert_outcome(response, 400, "invalid", "may not change the resource id")
    assert (await client.get("Patient/p2")).status_code == 404


async def test_patch_that_is_not_a_list_of_operations_returns_400(client):
    await _stored(client)

    response = await _patch(
        client, "Patient/p1", {"op": "replace", "path": "/gender", "value": "male"}
    )

    assert_outcome(response, 400, "structure", "JSON array")


async def test_patch_with_a_malformed_operation_returns_400(client):
    await _stored(client)

    response = await _patch(client, "Patient/p1", [{"op": "frobnicate", "path": "/gender"}])

    assert_outcome(response, 400, "invalid")


async def test_patch_with_the_wrong_content_type_returns_415(client):
    await _stored(client)

    response = await client.patch(
        "Patient/p1",
        content=json.dumps([{"op": "replace", "path": "/gender", "value": "male"}]),
        headers={"Content-Type": "application/fhir+json"},
    )

    assert_outcome(response, 415, "not-supported", "application/json-patch+json")
    assert (await client.get("Patient/p1")).json()["gender"] == "female"


async def test_patch_of_an_unknown_resource_returns_404(client):
    response = await _patch(client, "Patient/nobody", [{"op": "remove", "path": "/gender"}])

    assert_outcome(response, 404, "not-found", "Patient/nobody")


async def test_patch_of_a_deleted_resource_returns_410(client):
    await _stored(client)
    await client.delete("Patient/p1")

    response = await _patch(client, "Patient/p1", [{"op": "remove", "path": "/gender"}])

    assert_outcome(response, 410, "deleted", "Patient/p1")


async def test_patch_with_stale_if_match_returns_412(client):
    await _stored(client)
    await _patch(client, "Patient/p1", [{"op": "replace", "path": "/gender", "value": "male"}])

    response = await _patch(
        client,
        "Patient/p1",
        [{"op": "replace", "path": "/gender", "value": "other"}],
        headers={"If-Match": 'W/"1"'},
    )

    assert_outcome(response, 412, "conflict", "current version is 2")
    assert (await client.get("Patient/p1")).json()["gender"] == "male"


async def test_patch_that_changes_nothing_keeps_the_version(client):
    await _stored(client)

    response = await _patch(
        client, "Patient/p1", [{"op": "replace", "path": "/gender", "value": "female"}]
    )

    assert response.status_code == 200
    assert response.headers["etag"] == 'W/"1"'


async def test_conditional_patch_changes_the_single_match(client):
    await _stored(client)
    await client.post("Patient", json=patient("9000000017"))

    response = await client.patch(
        "Patient",
        params={"identifier": f"{NHS_NUMBER}|9000000009"},
        content=json.dumps([{"op": "replace", "path": "/gender", "value": "male"}]),
        headers=JSON_PATCH_HEADERS,
    )

    assert response.status_code == 200
    assert response.json()["id"] == "p1"
    assert (await client.get("Patient/p1")).json()["gender"] == "male"


async def test_conditional_patch_without_a_match_returns_404(client):
    response = await client.patch(
        "Patient",
        params={"identifier": f"{NHS_NUMBER}|9000000009"},
        content=json.dumps([{"op": "remove", "path": "/gender"}]),
        headers=JSON_PATCH_HEADERS,
    )

    assert_outcome(response, 404, "not-found", "matches the patch criteria")
