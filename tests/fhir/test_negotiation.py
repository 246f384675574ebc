"""Content negotiation: FHIR JSON only; other formats are 406 (answers) or 415 (bodies)."""

from __future__ import annotations

import json

import pytest

from tests.factories import assert_outcome, patient

FHIR_JSON = "application/fhir+json; charset=utf-8"


@pytest.fixture
async def stored(client):
    response = await client.put("Patient/p1", json=patient(id="p1"))
    assert response.status_code == 201
    return response


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        ("json", FHIR_JSON),
        ("application/fhir+json", FHIR_JSON),
        ("application/json", "application/json; charset=utf-8"),
    ],
)
async def test_format_parameter_selects_the_json_flavour(client, stored, fmt, content_type):
    response = await client.get("Patient/p1", params={"_format": fmt})

    assert response.status_code == 200
    assert response.headers["content-type"] == content_type
    assert response.content == stored.content


@pytest.mark.parametrize("fmt", ["xml", "application/fhir+xml", "text/turtle", "html"])
async def test_format_parameter_asking_for_another_format_returns_406(client, stored, fmt):
    response = await client.get("Patient/p1", params={"_format": fmt})

    assert_outcome(response, 406, "not-supported", f"_format '{fmt}' is not supported", "_format")


async def test_accept_xml_returns_406(client, stored):
    response = await client.get("Patient/p1", headers={"Accept": "application/xml"})

    assert_outcome(response, 406, "not-supported", "application/xml")


async def test_accept_fhir_xml_on_search_returns_406(client):
    response = await client.get("Patient", headers={"Accept": "application/fhir+xml"})

    assert_outcome(response, 406, "not-supported", "application/fhir+xml")


async def test_accept_json_answers_with_application_json(client, stored):
    response = await client.get("Patient/p1", headers={"Accept": "application/json"})

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=utf-8"
    assert response.json()["id"] == "p1"


@pytest.mark.parametrize(
    "accept",
    [
        "application/fhir+json",
        "*/*",
        "application/*",
        "application/xml, application/fhir+json;q=0.9",
    ],
)
async def test_accept_that_allows_fhir_json_answers_with_fhir_json(client, stored, accept):
    response = await client.get("Patient/p1", headers={"Accept": accept})

    assert response.status_code == 200
    assert response.headers["content-type"] == FHIR_JSON


async def test_format_parameter_wins_over_accept(client, stored):
    response = await client.get(
        "Patient/p1", params={"_format": "json"}, headers={"Accept": "application/xml"}
    )

    assert response.status_code == 200
    assert response.headers["content-type"] == FHIR_JSON


async def test_pretty_true_indents_the_output(client, stored):
    response = await client.get("Patient/p1", params={"_pretty": "true"})

    assert response.status_code == 200
    assert b'\n  "resourceType": "Patient"' in response.content
    assert response.json() == json.loads(stored.content)


async def test_pretty_false_returns_the_stored_bytes(client, stored):
    response = await client.get("Patient/p1", params={"_pretty": "false"})

    assert response.content == stored.content
    assert b"\n" not in response.content


async def test_pretty_applies_to_bundles_and_outcomes(client, stored):
    search = await client.get("Patient", params={"_pretty": "true"})
    created = await client.post(
        "Patient",
        params={"_pretty": "true"},
        json=patient(),
        headers={"Prefer": "return=OperationOutcome"},
    )

    assert b'\n  "resourceType": "Bundle"' in search.content
    assert b'\n  "resourceType": "OperationOutcome"' in created.content


async def test_post_with_an_xml_body_returns_415(client):
    response = await client.post(
        "Patient",
        content=b'<Patient xmlns="http://hl7.org/fhir"><gender value="female"/></Patient>',
        headers={"Content-Type": "application/fhir+xml"},
    )

    assert_outcome(response, 415, "not-supported", "application/fhir+xml")


@pytest.mark.parametrize(
    "content_type", ["application/xml", "text/plain", "application/x-www-form-urlencoded"]
)
async def test_post_with_an_unsupported_content_type_returns_415(client, content_type):
    response = await client.post(
        "Patient", content=json.dumps(patient()), headers={"Content-Type": content_type}
    )

    assert_outcome(response, 415, "not-supported", content_type)
    assert (await client.get("Patient", params={"_summary": "count"})).json()["total"] == 0


async def test_put_with_an_unsupported_content_type_returns_415(client):
    response = await client.put(
        "Patient/p1", content=json.dumps(patient(id="p1")), headers={"Content-Type": "text/plain"}
    )

    assert_outcome(response, 415, "not-supported", "text/plain")


async def test_bundle_with_an_unsupported_content_type_returns_415(client):
    body = json.dumps({"resourceType": "Bundle", "type": "batch"})

    response = await client.post("", content=body, headers={"Content-Type": "application/xml"})

    assert_outcome(response, 415, "not-supported", "application/xml")


@pytest.mark.parametrize(
    "content_type",
    [
        "application/fhir+json",
        "application/json",
        "application/fhir+json; charset=utf-8",
        "application/json;fhirVersion=4.0",
    ],
)
async def test_post_with_a_json_content_type_is_accepted(client, content_type):
    response = await client.post(
        "Patient", content=json.dumps(patient()), headers={"Content-Type": content_type}
    )

    assert response.status_code == 201
