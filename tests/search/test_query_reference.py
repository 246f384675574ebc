"""Reference search, chaining and reverse chaining (_has) end to end."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import NHS_NUMBER, assert_outcome, put_resource, search_ids

LOINC = "http://loinc.org"


def obs(res_id: str, subject: dict[str, Any] | None, code: str = "10230-1") -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": res_id,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
    }
    if subject is not None:
        resource["subject"] = subject
    return resource


@pytest.fixture
async def world(client):
    await put_resource(
        client, {"resourceType": "Organization", "id": "gstt", "name": "Guy's and St Thomas'"}
    )
    await put_resource(
        client, {"resourceType": "Organization", "id": "kch", "name": "King's College"}
    )
    await put_resource(
        client,
        {
            "resourceType": "Patient",
            "id": "ada",
            "identifier": [{"system": NHS_NUMBER, "value": "9000000009"}],
            "name": [{"family": "Okafor"}],
            "managingOrganization": {"reference": "Organization/gstt"},
        },
    )
    await put_resource(
        client,
        {
            "resourceType": "Patient",
            "id": "ben",
            "name": [{"family": "Obi"}],
            "managingOrganization": {"reference": "Organization/kch"},
        },
    )
    await put_resource(
        client, {"resourceType": "Group", "id": "ada", "type": "person", "actual": True}
    )
    await put_resource(client, obs("o-ada", {"reference": "Patient/ada"}))
    await put_resource(client, obs("o-ben", {"reference": "Patient/ben"}, code="80071-4"))
    await put_resource(client, obs("o-group", {"reference": "Group/ada"}))
    await put_resource(client, obs("o-abs", {"reference": "http://other.org/fhir/Patient/zed"}))
    await put_resource(
        client,
        obs("o-ident", {"identifier": {"system": NHS_NUMBER, "value": "9000000017"}}),
    )
    await put_resource(client, obs("o-none", None))


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("subject", "ada")], ["o-ada", "o-group"]),
        ([("subject", "Patient/ada")], ["o-ada"]),
        ([("subject:Patient", "ada")], ["o-ada"]),
        ([("subject:Group", "ada")], ["o-group"]),
        ([("patient", "ada")], ["o-ada"]),
        ([("subject", "Patient/ada,Patient/ben")], ["o-ada", "o-ben"]),
        ([("subject", "http://other.org/fhir/Patient/zed")], ["o-abs"]),
        ([("subject", "zed")], ["o-abs"]),
        ([("subject:identifier", f"{NHS_NUMBER}|9000000017")], ["o-ident"]),
        ([("subject:identifier", "9000000017")], ["o-ident"]),
        ([("subject:missing", "true")], ["o-none"]),
        ([("subject", "Patient/ada"), ("subject", "Patient/ben")], []),
    ],
)
async def test_reference_forms(client, world, pairs, expected):
    assert await search_ids(client, "Observation", *pairs) == expected


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("subject:Patient.name", "okafor")], ["o-ada"]),
        ([("subject:Patient.identifier", f"{NHS_NUMBER}|9000000009")], ["o-ada"]),
        ([("patient.name", "ob")], ["o-ben"]),
        ([("subject:Patient.organization.name", "king")], ["o-ben"]),
        ([("subject:Patient.organization._id", "gstt")], ["o-ada"]),
        ([("subject:Patient.name:exact", "Okafor")], ["o-ada"]),
        ([("subject:Patient.name:missing", "false")], ["o-ada", "o-ben"]),
        ([("subject:Patient.identifier:missing", "true")], ["o-ben"]),
        ([("subject:Patient.name", "okafor"), ("code", "80071-4")], []),
    ],
)
async def test_chaining(client, world, pairs, expected):
    assert await search_ids(client, "Observation", *pairs) == expected


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("_has:Observation:subject:code", "10230-1")], ["ada"]),
        ([("_has:Observation:patient:code", "80071-4")], ["ben"]),
        ([("_has:Observation:subject:code", "10230-1,80071-4")], ["ada", "ben"]),
        ([("_has:Observation:subject:code", "0000-0")], []),
        ([("_has:Observation:subject:code:not", "10230-1")], ["ben"]),
        ([("_has:Observation:subject:_id", "o-ben")], ["ben"]),
    ],
)
async def test_reverse_chaining(client, world, pairs, expected):
    assert await search_ids(client, "Patient", *pairs) == expected


async def test_nested_reverse_chaining_and_chain_inside_has(client, world):
    # Organisations managing a patient who has a systolic observation.
    has = ("_has:Patient:organization:_has:Observation:subject:code", "10230-1")
    assert await search_ids(client, "Organization", has) == ["gstt"]
    chained = ("_has:Patient:organization:name", "obi")
    assert await search_ids(client, "Organization", chained) == ["kch"]


async def test_deleted_resources_do_not_match_through_chains(client, world):
    assert (await client.delete("Observation/o-ben")).status_code in (200, 204)

    assert await search_ids(client, "Patient", ("_has:Observation:subject:code", "80071-4")) == []


async def test_unknown_chain_end_is_reported_not_applied(client, world):
    response = await client.get("Observation", params={"subject:Patient.colour": "x"})

    assert response.status_code == 200
    outcome = [e for e in response.json()["entry"] if e["search"]["mode"] == "outcome"]
    assert "subject:Patient.colour" in outcome[0]["resource"]["issue"][0]["diagnostics"]


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("code.name", "cannot be chained"),
        ("subject:Starship.name", "not a resource type"),
        ("_has:Observation", "_has"),
    ],
)
async def test_malformed_chains_are_400(client, name, fragment):
    response = await client.get("Observation", params={name: "x"})

    assert_outcome(response, 400, "invalid", fragment)


async def test_an_absolute_url_on_this_server_matches_relative_references(client, world):
    own = "http://testserver/fhir/Patient/ada"

    assert await search_ids(client, "Observation", ("subject", own)) == ["o-ada"]
    assert await search_ids(client, "Observation", ("subject:Patient", own)) == ["o-ada"]
    assert (
        await search_ids(
            client, "Observation", ("subject", "http://elsewhere.org/fhir/Patient/ada")
        )
        == []
    )
