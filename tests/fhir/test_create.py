"""create: POST /{type} with a server-assigned id, and the Prefer return modes."""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime

from tests.factories import NHS_NUMBER, assert_outcome, organization, patient

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


async def test_create_assigns_a_server_id_and_ignores_the_id_in_the_body(client):
    response = await client.post("Patient", json=patient(id="chosen-by-client"))

    assert response.status_code == 201
    body = response.json()
    assert body["id"] != "chosen-by-client"
    assert UUID.match(body["id"])
    assert (await client.get("Patient/chosen-by-client")).status_code == 404


async def test_create_returns_location_etag_and_last_modified(client):
    response = await client.post("Patient", json=patient())

    body = response.json()
    assert response.headers["location"] == f"http://testserver/fhir/Patient/{body['id']}/_history/1"
    assert response.headers["etag"] == 'W/"1"'
    assert body["meta"]["versionId"] == "1"
    modified = parsedate_to_datetime(response.headers["last-modified"])
    assert modified.isoformat()[:19] == body["meta"]["lastUpdated"][:19]
    assert response.headers["content-type"] == "application/fhir+json; charset=utf-8"


async def test_create_stores_the_posted_content(client):
    posted = organization()
    created = (await client.post("Organization", json=posted)).json()

    stored = (await client.get(f"Organization/{created['id']}")).json()
    assert {k: v for k, v in stored.items() if k not in ("id", "meta")} == posted


async def test_create_with_prefer_return_minimal_returns_no_body(client):
    response = await client.post("Patient", json=patient(), headers={"Prefer": "return=minimal"})

    assert response.status_code == 201
    assert response.content == b""
    location = response.headers["location"]
    assert location.endswith("/_history/1")
    read = await client.get(location.removesuffix("/_history/1"))
    assert read.status_code == 200
    assert read.json()["identifier"][0] == {"system": NHS_NUMBER, "value": "9000000009"}


async def test_create_with_prefer_return_representation_returns_the_resource(client):
    response = await client.post(
        "Patient", json=patient(), headers={"Prefer": "return=representation"}
    )

    assert response.status_code == 201
    body = response.json()
    assert body["resourceType"] == "Patient"
    assert body["name"][0]["family"] == "Okafor"


async def test_create_with_prefer_return_operation_outcome_returns_an_outcome(client):
    response = await client.post(
        "Patient", json=patient(), headers={"Prefer": "return=OperationOutcome"}
    )

    assert response.status_code == 201
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    new_id = response.headers["location"].split("/")[-3]
    assert body["issue"][0]["severity"] == "information"
    assert f"Patient/{new_id}" in body["issue"][0]["diagnostics"]
    assert (await client.get(f"Patient/{new_id}")).status_code == 200


async def test_each_create_makes_a_new_resource(client):
    first = (await client.post("Patient", json=patient())).json()
    second = (await client.post("Patient", json=patient())).json()

    assert first["id"] != second["id"]
    search = (await client.get("Patient", params={"_summary": "count"})).json()
    assert search["total"] == 2


async def test_create_with_a_wrong_resource_type_in_the_body_is_rejected(client):
    response = await client.post("Organization", json=patient())

    assert_outcome(response, 400, "structure", "does not match", "Patient.resourceType")
    assert (await client.get("Organization", params={"_summary": "count"})).json()["total"] == 0
