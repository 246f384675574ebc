"""_include and _revinclude end to end: targets, *, :iterate, de-duplication, errors."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient

from tests.factories import assert_outcome, procedure, put_resource


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
    await put_resource(
        client, {"resourceType": "Organization", "id": "org", "name": "Barts Heart Centre"}
    )
    await put_resource(
        client,
        {
            "resourceType": "Patient",
            "id": "p1",
            "managingOrganization": {"reference": "Organization/org"},
        },
    )
    await put_resource(client, {"resourceType": "Patient", "id": "p2"})
    await put_resource(client, {"resourceType": "Practitioner", "id": "dr"})
    await put_resource(client, referral("sr1", "Patient/p1", "Practitioner/dr"))
    await put_resource(client, referral("sr2", "Patient/p1"))
    await put_resource(client, referral("sr3", "Patient/p2"))
    await put_resource(
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


async def test_iterate_deeper_than_the_round_limit_says_it_was_cut_short(client):
    for level in range(11):
        body = {**procedure("Patient/deep"), "id": f"proc-{level}"}
        if level:
            body["partOf"] = [{"reference": f"Procedure/proc-{level - 1}"}]
        response = await client.put(f"Procedure/proc-{level}", json=body)
        assert response.status_code == 201, response.text

    bundle = (
        await client.get(
            "Procedure", params={"_id": "proc-10", "_include:iterate": "Procedure:part-of"}
        )
    ).json()

    included = [e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "include"]
    outcomes = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert len(included) == 8
    assert "proc-1" not in included
    assert outcomes and ":iterate follows at most 8 levels" in str(outcomes[0]["resource"])


async def test_iterate_that_ends_within_the_round_limit_is_complete(client):
    for level in range(3):
        body = {**procedure("Patient/shallow"), "id": f"proc-{level}"}
        if level:
            body["partOf"] = [{"reference": f"Procedure/proc-{level - 1}"}]
        await client.put(f"Procedure/proc-{level}", json=body)

    bundle = (
        await client.get(
            "Procedure", params={"_id": "proc-2", "_include:iterate": "Procedure:part-of"}
        )
    ).json()

    modes = [e["search"]["mode"] for e in bundle["entry"]]
    assert modes == ["match", "include", "include"]
