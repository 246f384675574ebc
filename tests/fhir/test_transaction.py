"""transaction Bundles: spec processing order, reference resolution, all-or-nothing."""

from __future__ import annotations

import json
from typing import Any

from httpx import AsyncClient, Response

from tests.factories import (
    NHS_NUMBER,
    assert_outcome,
    bundle_of,
    organization,
    patch_entry,
    patient,
    post_entry,
    put_entry,
    referral,
    request_entry,
)

PATIENT_URN = "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"
ORG_URN = "urn:uuid:0d1c5a64-3a5e-4a63-9d3e-6f0a9d7d3a11"


async def _transaction(
    client: AsyncClient, entries: list[dict[str, Any]], **kwargs: Any
) -> Response:
    return await client.post("", json=bundle_of("transaction", entries), **kwargs)


async def _assert_store_is_empty(client: AsyncClient) -> None:
    history = (await client.get("_history")).json()
    assert "entry" not in history, history
    for res_type in ("Patient", "ServiceRequest", "Organization"):
        assert (await client.get(res_type, params={"_summary": "count"})).json()["total"] == 0


def _new_id(entry: dict[str, Any]) -> str:
    """The id from a response entry's location (Type/id/_history/n)."""
    return str(entry["response"]["location"].split("/")[1])


async def test_transaction_creates_everything_and_answers_in_request_order(client):
    response = await _transaction(
        client,
        [
            post_entry(patient(), PATIENT_URN),
            post_entry(organization(), ORG_URN),
            put_entry(patient("9000000017", id="p2")),
        ],
    )

    assert response.status_code == 200
    bundle = response.json()
    assert bundle["type"] == "transaction-response"
    statuses = [e["response"]["status"] for e in bundle["entry"]]
    assert statuses == ["201 Created", "201 Created", "201 Created"]
    first, second, third = bundle["entry"]
    assert first["response"]["location"].startswith("Patient/")
    assert first["response"]["location"].endswith("/_history/1")
    assert first["response"]["etag"] == 'W/"1"'
    assert second["response"]["location"].startswith("Organization/")
    assert third["response"]["location"] == "Patient/p2/_history/1"
    assert "resource" not in first
    assert (await client.get(f"Patient/{_new_id(first)}")).status_code == 200


async def test_transaction_with_prefer_representation_returns_the_resources(client):
    response = await _transaction(
        client, [post_entry(patient())], headers={"Prefer": "return=representation"}
    )

    [entry] = response.json()["entry"]
    assert entry["resource"]["resourceType"] == "Patient"
    assert entry["resource"]["id"] == _new_id(entry)


async def test_transaction_processes_delete_post_put_get_in_spec_order(client):
    await client.put("Patient/old", json=patient("9000000017", id="old"))
    same_nhs = f"identifier={NHS_NUMBER}|9000000017"

    response = await _transaction(
        client,
        [
            request_entry("GET", f"Patient?{same_nhs}"),
            request_entry("GET", "Patient/put1"),
            put_entry(patient("9000000025", id="put1")),
            post_entry(patient("9000000017", family="Newcomer")),
            # If this ran after the POST it would match two patients and fail with 412.
            request_entry("DELETE", f"Patient?{same_nhs}"),
        ],
    )

    assert response.status_code == 200, response.text
    search, read, put, post, delete = response.json()["entry"]
    assert [e["response"]["status"][:3] for e in (search, read, put, post, delete)] == [
        "200",
        "200",
        "201",
        "201",
        "204",
    ]
    assert [e["resource"]["id"] for e in search["resource"].get("entry", [])] == [_new_id(post)]
    assert read["resource"]["id"] == "put1"
    assert (await client.get("Patient/old")).status_code == 410
    assert (await client.get(f"Patient/{_new_id(post)}")).json()["name"][0]["family"] == "Newcomer"


async def test_transaction_resolves_urn_uuid_references_to_the_new_ids(client):
    response = await _transaction(
        client,
        [
            post_entry(referral(PATIENT_URN, requester=ORG_URN)),
            post_entry(patient(), PATIENT_URN),
            post_entry(organization(), ORG_URN),
        ],
    )

    assert response.status_code == 200, response.text
    referral_entry, patient_entry, org_entry = response.json()["entry"]
    stored = (await client.get(f"ServiceRequest/{_new_id(referral_entry)}")).json()
    assert stored["subject"]["reference"] == f"Patient/{_new_id(patient_entry)}"
    assert stored["requester"]["reference"] == f"Organization/{_new_id(org_entry)}"
    assert (await client.get(f"Patient/{_new_id(patient_entry)}")).status_code == 200


async def test_transaction_resolves_urn_uuid_references_to_put_resources(client):
    response = await _transaction(
        client,
        [
            post_entry(referral(PATIENT_URN)),
            {**put_entry(patient(id="p1")), "fullUrl": PATIENT_URN},
        ],
    )

    assert response.status_code == 200, response.text
    stored = (await client.get(f"ServiceRequest/{_new_id(response.json()['entry'][0])}")).json()
    assert stored["subject"]["reference"] == "Patient/p1"


async def test_transaction_resolves_conditional_references(client):
    existing = (await client.post("Patient", json=patient())).json()

    response = await _transaction(
        client, [post_entry(referral(f"Patient?identifier={NHS_NUMBER}|9000000009"))]
    )

    assert response.status_code == 200, response.text
    stored = (await client.get(f"ServiceRequest/{_new_id(response.json()['entry'][0])}")).json()
    assert stored["subject"]["reference"] == f"Patient/{existing['id']}"


async def test_transaction_with_an_unresolvable_conditional_reference_fails_whole(client):
    response = await _transaction(
        client,
        [
            post_entry(patient("9000000017")),
            post_entry(referral(f"Patient?identifier={NHS_NUMBER}|9000000009")),
        ],
    )

    assert_outcome(response, 404, "not-found", "matches no resource", "Bundle.entry[1]")
    await _assert_store_is_empty(client)


async def test_transaction_with_an_ambiguous_conditional_reference_returns_412(client):
    await client.post("Patient", json=patient())
    await client.post("Patient", json=patient())

    response = await _transaction(
        client, [post_entry(referral(f"Patient?identifier={NHS_NUMBER}|9000000009"))]
    )

    assert_outcome(response, 412, "multiple-matches", "Bundle.entry[0]", "Bundle.entry[0]")
    assert (await client.get("ServiceRequest", params={"_summary": "count"})).json()["total"] == 0


async def test_transaction_conditional_create_with_several_matches_names_the_entry(client):
    await client.post("Patient", json=patient())
    await client.post("Patient", json=patient())

    response = await _transaction(
        client,
        [
            post_entry(organization()),
            post_entry(patient(), ifNoneExist=f"identifier={NHS_NUMBER}|9000000009"),
        ],
    )

    assert_outcome(response, 412, "multiple-matches", "Bundle.entry[1]", "Bundle.entry[1]")
    assert (await client.get("Organization", params={"_summary": "count"})).json()["total"] == 0


async def test_transaction_conditional_create_reuses_the_existing_resource(client):
    existing = (await client.post("Patient", json=patient())).json()

    response = await _transaction(
        client,
        [
            post_entry(patient(), PATIENT_URN, ifNoneExist=f"identifier={NHS_NUMBER}|9000000009"),
            post_entry(referral(PATIENT_URN)),
        ],
    )

    assert response.status_code == 200, response.text
    patient_entry, referral_entry = response.json()["entry"]
    assert patient_entry["response"]["status"].startswith("200")
    assert _new_id(patient_entry) == existing["id"]
    stored = (await client.get(f"ServiceRequest/{_new_id(referral_entry)}")).json()
    assert stored["subject"]["reference"] == f"Patient/{existing['id']}"
    assert (await client.get("Patient", params={"_summary": "count"})).json()["total"] == 1


async def test_transaction_conditional_create_without_a_match_creates(client):
    response = await _transaction(
        client,
        [post_entry(patient(), PATIENT_URN, ifNoneExist=f"identifier={NHS_NUMBER}|9000000009")],
    )

    assert response.status_code == 200, response.text
    [entry] = response.json()["entry"]
    assert entry["response"]["status"] == "201 Created"
    assert (await client.get(f"Patient/{_new_id(entry)}")).status_code == 200


async def test_transaction_with_an_invalid_entry_fails_whole_and_names_the_entry(client):
    response = await _transaction(
        client,
        [
            post_entry(patient(), PATIENT_URN),
            post_entry(referral(PATIENT_URN)),
            post_entry(patient("9000000017", birthDate="2020-02-30")),
        ],
    )

    assert_outcome(response, 400, "value", "2020-02-30", "Bundle.entry[2].resource.birthDate")
    await _assert_store_is_empty(client)


async def test_transaction_failing_while_writing_rolls_back_the_earlier_writes(client):
    response = await _transaction(
        client,
        [
            post_entry(patient(), PATIENT_URN),
            post_entry(referral(PATIENT_URN)),
            put_entry(patient("9000000017", id="p2"), ifMatch='W/"3"'),
        ],
    )

    issue = assert_outcome(response, 412, "conflict", "Bundle.entry[2]")
    assert issue["expression"] == ["Bundle.entry[2]"]
    await _assert_store_is_empty(client)


async def test_transaction_with_a_failing_read_rolls_back(client):
    response = await _transaction(
        client, [post_entry(patient()), request_entry("GET", "Patient/nobody")]
    )

    assert_outcome(response, 404, "not-found", "Bundle.entry[1]", "Bundle.entry[1]")
    await _assert_store_is_empty(client)


async def test_transaction_with_a_put_whose_id_differs_from_the_url_returns_400(client):
    entry = put_entry(patient(id="p2"), url="Patient/p1")

    response = await _transaction(client, [post_entry(patient()), entry])

    assert_outcome(response, 400, "invalid", "differs", "Bundle.entry[1].resource.id")
    await _assert_store_is_empty(client)


async def test_transaction_of_1000_entries_commits(client):
    entries = [
        post_entry(
            {
                "resourceType": "Patient",
                "identifier": [{"system": NHS_NUMBER, "value": f"T{n:05d}"}],
            }
        )
        for n in range(1000)
    ]

    response = await client.post(
        "",
        content=json.dumps(bundle_of("transaction", entries), separators=(",", ":")),
        headers={"Content-Type": "application/fhir+json"},
    )

    assert response.status_code == 200, response.text[:500]
    results = response.json()["entry"]
    assert len(results) == 1000
    assert {e["response"]["status"] for e in results} == {"201 Created"}
    assert len({_new_id(e) for e in results}) == 1000
    assert (await client.get("Patient", params={"_summary": "count"})).json()["total"] == 1000
    found = (await client.get("Patient", params={"identifier": f"{NHS_NUMBER}|T00999"})).json()
    assert found["total"] == 1


async def test_transaction_over_the_entry_limit_returns_413(client):
    entries = [request_entry("GET", f"Patient/p{n}") for n in range(1501)]

    response = await client.post(
        "",
        content=json.dumps(bundle_of("transaction", entries), separators=(",", ":")),
        headers={"Content-Type": "application/fhir+json"},
    )

    assert_outcome(response, 413, "too-costly", "the limit is 1500")


async def test_transaction_touching_the_same_resource_twice_returns_400(client):
    response = await _transaction(
        client,
        [put_entry(patient(id="p1")), put_entry(patient(id="p1", active=True))],
    )

    assert_outcome(response, 400, "invalid", "Patient/p1", "Bundle.entry[1]")
    await _assert_store_is_empty(client)


async def test_transaction_with_a_repeated_full_url_returns_400(client):
    response = await _transaction(
        client,
        [post_entry(patient(), PATIENT_URN), post_entry(patient("9000000017"), PATIENT_URN)],
    )

    assert_outcome(response, 400, "invalid", PATIENT_URN, "Bundle.entry[1]")
    await _assert_store_is_empty(client)


async def test_transaction_patch_entry_applies_a_binary_json_patch(client):
    await client.put("Patient/p1", json=patient(id="p1"))

    response = await _transaction(
        client, [patch_entry("Patient/p1", [{"op": "replace", "path": "/gender", "value": "male"}])]
    )

    assert response.status_code == 200, response.text
    [entry] = response.json()["entry"]
    assert entry["response"]["status"] == "200 OK"
    assert entry["response"]["etag"] == 'W/"2"'
    assert (await client.get("Patient/p1")).json()["gender"] == "male"


async def test_transaction_patch_entry_without_a_binary_returns_400(client):
    await client.put("Patient/p1", json=patient(id="p1"))
    entry = {"resource": patient(), "request": {"method": "PATCH", "url": "Patient/p1"}}

    response = await _transaction(client, [entry])

    assert_outcome(response, 400, "invalid", "Binary", "Bundle.entry[0].resource")


async def test_transaction_entry_without_a_request_returns_400(client):
    response = await _transaction(client, [{"resource": patient()}])

    assert_outcome(response, 400, "invalid", "request is required", "Bundle.entry[0].request")


async def test_transaction_entry_with_an_unknown_method_returns_400(client):
    response = await _transaction(client, [request_entry("TRACE", "Patient/p1")])

    assert_outcome(response, 400, "invalid", "request.method", "Bundle.entry[0].request.method")


async def test_transaction_entry_with_an_unknown_type_in_the_url_returns_400(client):
    response = await _transaction(client, [request_entry("GET", "Starship/1")])

    assert_outcome(response, 400, "invalid", "Starship", "Bundle.entry[0].request.url")


async def test_bundle_of_another_type_returns_400(client):
    response = await client.post("", json=bundle_of("collection", []))

    assert_outcome(response, 400, "invalid", "batch or transaction", "Bundle.type")


async def test_posting_something_other_than_a_bundle_to_the_base_returns_400(client):
    response = await client.post("", json=patient())

    assert_outcome(response, 400, "structure", "Bundle")


async def test_empty_transaction_returns_an_empty_response(client):
    response = await _transaction(client, [])

    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "transaction-response"
    assert body.get("entry", []) == []
