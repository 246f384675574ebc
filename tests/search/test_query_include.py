"""_include and _revinclude end to end: targets, *, :iterate, de-duplication, errors."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient

from tests.factories import assert_outcome


async def put(client: AsyncClient, resource: dict[str, Any]) -> None:
    response = await client.put(f"{resource['resourceType']}/{resource['id']}", json=resource)
    assert response.status_code in (200, 201), response.text


def modes(bundle: dict[str, Any]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for entry in bundle.get("entry", []):
        key = entry["fullUrl"].removeprefix("http://testserver/fhir/")
        out.setdefault(entry["search"]["mode"], []).append(key)
    return {mode: sorted(keys) for mode, keys in out.items()}


async def search(client: AsyncClient, url: str, *pairs: tuple[str, str]) -> dict[str, Any]:
    response = await client.get(url, params=list(pairs))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def referral(res_id: str, patient: str, requester: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "id": res_id,
        "status": "active",
        "intent": "order",
        "subject": {"reference": patient},
    }
    if requester:
        resource["requester"] = {"reference": requester}
    return resource


@pytest.fixture
async def pathway(client):
    await put(client, {"resourceType": "Organization", "id": "org"})
    await put(
        client,
        {
            "resourceType": "Patient",
            "id": "p1",
            "managingOrganization": {"reference": "Organization/org"},
        },
    )
    await put(client, {"resourceType": "Patient", "id": "p2"})
    await put(client, {"resourceType": "Practitioner", "id": "dr"})
    await put(client, referral("sr1", "Patient/p1", "Practitioner/dr"))
    await put(client, referral("sr2", "Patient/p1"))
    await put(client, referral("sr3", "Patient/p2"))
    await put(
        client,
        {
            "resourceType": "Procedure",
            "id": "proc",
            "status": "completed",
            "subject": {"reference": "Patient/p1"},
            "basedOn": [{"reference": "ServiceRequest/sr1"}],
        },
    )


async def test_include_follows_a_reference_once_per_resource(client, pathway):
    bundle = await search(
        client, "ServiceRequest", ("_id", "sr1,sr2"), ("_include", "ServiceRequest:subject")
    )

    assert modes(bundle) == {
        "match": ["ServiceRequest/sr1", "ServiceRequest/sr2"],
        "include": ["Patient/p1"],
    }
    assert bundle["total"] == 2


async def test_include_with_a_target_type_and_star(client, pathway):
    typed = await search(
        client, "ServiceRequest", ("_id", "sr1"), ("_include", "ServiceRequest:subject:Group")
    )
    star = await search(client, "ServiceRequest", ("_id", "sr1"), ("_include", "ServiceRequest:*"))

    assert "include" not in modes(typed)
    assert modes(star)["include"] == ["Patient/p1", "Practitioner/dr"]


async def test_include_iterate_follows_included_resources(client, pathway):
    plain = await search(
        client,
        "Procedure",
        ("_include", "Procedure:based-on"),
        ("_include", "ServiceRequest:subject"),
    )
    iterated = await search(
        client,
        "Procedure",
        ("_include", "Procedure:based-on"),
        ("_include:iterate", "ServiceRequest:subject"),
        ("_include:iterate", "Patient:organization"),
    )

    assert modes(plain)["include"] == ["ServiceRequest/sr1"]
    assert modes(iterated)["include"] == ["Organization/org", "Patient/p1", "ServiceRequest/sr1"]


async def test_revinclude(client, pathway):
    bundle = await search(
        client, "Patient", ("_id", "p1"), ("_revinclude", "ServiceRequest:subject")
    )
    everything = await search(client, "Patient", ("_id", "p1"), ("_revinclude", "*"))

    assert modes(bundle)["include"] == ["ServiceRequest/sr1", "ServiceRequest/sr2"]
    assert modes(everything)["include"] == [
        "Procedure/proc",
        "ServiceRequest/sr1",
        "ServiceRequest/sr2",
    ]


async def test_revinclude_iterate(client, pathway):
    bundle = await search(
        client,
        "Patient",
        ("_id", "p1"),
        ("_revinclude", "ServiceRequest:subject"),
        ("_revinclude:iterate", "Procedure:based-on"),
    )

    assert modes(bundle)["include"] == [
        "Procedure/proc",
        "ServiceRequest/sr1",
        "ServiceRequest/sr2",
    ]


async def test_matches_are_not_repeated_as_includes(client, pathway):
    bundle = await search(client, "Patient", ("_revinclude", "Patient:organization"))

    assert "include" not in modes(bundle)


async def test_includes_follow_each_page(client, pathway):
    first = await search(
        client,
        "ServiceRequest",
        ("_include", "ServiceRequest:subject"),
        ("_count", "2"),
    )
    assert modes(first)["include"] == ["Patient/p1"]
    next_url = next(link["url"] for link in first["link"] if link["relation"] == "next")
    assert "_include=ServiceRequest%3Asubject" in next_url
    second = (await client.get(next_url)).json()
    assert modes(second) == {"match": ["ServiceRequest/sr3"], "include": ["Patient/p2"]}


async def test_unknown_include_parameter_is_reported(client, pathway):
    lenient = await client.get("Patient", params={"_include": "Patient:colour"})
    strict = await client.get(
        "Patient", params={"_include": "Patient:colour"}, headers={"Prefer": "handling=strict"}
    )

    assert lenient.status_code == 200
    assert strict.status_code == 400


@pytest.mark.parametrize(
    ("name", "value"),
    [("_include", "subject"), ("_include", "Starship:subject"), ("_revinclude:deep", "*")],
)
async def test_malformed_includes_are_400(client, name, value):
    assert_outcome(await client.get("Patient", params={name: value}), 400, "invalid")
