"""batch Bundles: every entry on its own, each with its own status and outcome."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient

from tests.factories import (
    NHS_NUMBER,
    assert_outcome,
    bundle_of,
    patch_entry,
    patient,
    post_entry,
    put_entry,
    request_entry,
)


async def _batch(client: AsyncClient, entries: list[dict[str, Any]], **kwargs: Any) -> Any:
    response = await client.post("", json=bundle_of("batch", entries), **kwargs)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "batch-response"
    assert len(body["entry"]) == len(entries)
    return body["entry"]


def _issue(entry: dict[str, Any]) -> Any:
    outcome = entry["response"]["outcome"]
    assert outcome["resourceType"] == "OperationOutcome"
    return outcome["issue"][0]


async def test_batch_entries_succeed_or_fail_independently(client):
    await client.put("Patient/gone", json=patient("9000000033", id="gone"))

    entries = await _batch(
        client,
        [
            post_entry(patient()),
            post_entry(patient("9000000017", birthDate="2020-02-30")),
            request_entry("GET", "Patient/nobody"),
            put_entry(patient("9000000025", id="p3")),
            request_entry("DELETE", "Patient/gone"),
        ],
    )

    created, invalid, missing, put, deleted = entries
    assert created["response"]["status"] == "201 Created"
    assert invalid["response"]["status"].startswith("400")
    assert _issue(invalid)["code"] == "value"
    assert "2020-02-30" in _issue(invalid)["diagnostics"]
    assert "Bundle.entry[1].resource.birthDate" in _issue(invalid)["expression"]
    assert missing["response"]["status"].startswith("404")
    assert _issue(missing)["code"] == "not-found"
    assert put["response"]["status"] == "201 Created"
    assert put["response"]["location"] == "Patient/p3/_history/1"
    assert deleted["response"]["status"].startswith("204")
    assert (
        await client.get(created["response"]["location"].rsplit("/_history", 1)[0])
    ).status_code == 200
    assert (await client.get("Patient/p3")).status_code == 200
    assert (await client.get("Patient/gone")).status_code == 410
    found = (await client.get("Patient", params={"identifier": f"{NHS_NUMBER}|9000000017"})).json()
    assert found["total"] == 0


async def test_batch_entry_failing_while_writing_does_not_undo_the_others(client):
    await client.put("Patient/p1", json=patient(id="p1"))

    entries = await _batch(
        client,
        [
            put_entry(patient(id="p1", active=True), ifMatch='W/"5"'),
            post_entry(patient("9000000017")),
        ],
    )

    conflict, created = entries
    assert conflict["response"]["status"].startswith("412")
    assert _issue(conflict)["code"] == "conflict"
    assert "current version is 1" in _issue(conflict)["diagnostics"]
    assert created["response"]["status"] == "201 Created"
    assert "active" not in (await client.get("Patient/p1")).json()


async def test_batch_read_and_search_entries_return_resources(client):
    await client.put("Patient/p1", json=patient(id="p1"))

    read, search = await _batch(
        client,
        [
            request_entry("GET", "Patient/p1"),
            request_entry("GET", f"Patient?identifier={NHS_NUMBER}|9000000009"),
        ],
    )

    assert read["response"]["status"] == "200 OK"
    assert read["response"]["etag"] == 'W/"1"'
    assert read["resource"] == (await client.get("Patient/p1")).json()
    assert search["resource"]["type"] == "searchset"
    assert [e["resource"]["id"] for e in search["resource"]["entry"]] == ["p1"]


async def test_batch_read_entries_honour_summary_and_elements(client):
    await client.put("Patient/p1", json=patient(id="p1"))

    summary, elements, bad = await _batch(
        client,
        [
            request_entry("GET", "Patient/p1?_summary=text"),
            request_entry("GET", "Patient/p1?_elements=identifier"),
            request_entry("GET", "Patient/p1?_summary=count"),
        ],
    )

    assert summary["response"]["status"] == "200 OK"
    assert summary["resource"] == (await client.get("Patient/p1?_summary=text")).json()
    assert "name" not in summary["resource"]
    assert elements["resource"] == (await client.get("Patient/p1?_elements=identifier")).json()
    assert elements["resource"]["identifier"] and "name" not in elements["resource"]
    assert any(t["code"] == "SUBSETTED" for t in elements["resource"]["meta"]["tag"])
    assert bad["response"]["status"].startswith("400")


async def test_batch_conditional_create_matches_existing_resources(client):
    existing = (await client.post("Patient", json=patient())).json()
    criteria = f"identifier={NHS_NUMBER}|9000000009"

    matched, created = await _batch(
        client,
        [
            post_entry(patient(), ifNoneExist=criteria),
            post_entry(patient("9000000017"), ifNoneExist=f"identifier={NHS_NUMBER}|9000000017"),
        ],
    )

    assert matched["response"]["status"] == "200 OK"
    assert matched["response"]["location"].startswith(f"Patient/{existing['id']}/")
    assert created["response"]["status"] == "201 Created"
    assert (await client.get("Patient", params={"_summary": "count"})).json()["total"] == 2


async def test_batch_conditional_create_with_several_matches_fails_only_that_entry(client):
    await client.post("Patient", json=patient())
    await client.post("Patient", json=patient())

    ambiguous, created = await _batch(
        client,
        [
            post_entry(patient(), ifNoneExist=f"identifier={NHS_NUMBER}|9000000009"),
            post_entry(patient("9000000017")),
        ],
    )

    assert ambiguous["response"]["status"].startswith("412")
    assert _issue(ambiguous)["code"] == "multiple-matches"
    assert created["response"]["status"] == "201 Created"


async def test_batch_patch_entry_applies_a_binary_json_patch(client):
    await client.put("Patient/p1", json=patient(id="p1"))

    applied, broken = await _batch(
        client,
        [
            patch_entry("Patient/p1", [{"op": "replace", "path": "/gender", "value": "male"}]),
            patch_entry(
                "Patient/p1", [{"op": "replace", "path": "/birthDate", "value": "1948-02-30"}]
            ),
        ],
    )

    assert applied["response"]["status"] == "200 OK"
    assert applied["response"]["etag"] == 'W/"2"'
    assert broken["response"]["status"].startswith("400")
    assert _issue(broken)["code"] == "value"
    stored = (await client.get("Patient/p1")).json()
    assert stored["gender"] == "male"
    assert stored["birthDate"] == "1948-07-19"


async def test_batch_entry_with_a_bad_request_fails_only_that_entry(client):
    bad_url, no_request, created = await _batch(
        client,
        [
            request_entry("GET", "Starship/1"),
            {"resource": patient()},
            post_entry(patient("9000000017")),
        ],
    )

    assert bad_url["response"]["status"].startswith("400")
    assert _issue(bad_url)["expression"] == ["Bundle.entry[0].request.url"]
    assert no_request["response"]["status"].startswith("400")
    assert _issue(no_request)["expression"] == ["Bundle.entry[1].request"]
    assert created["response"]["status"] == "201 Created"


async def test_batch_with_prefer_representation_returns_written_resources(client):
    [entry] = await _batch(
        client, [post_entry(patient())], headers={"Prefer": "return=representation"}
    )

    assert entry["resource"]["resourceType"] == "Patient"
    assert entry["response"]["location"].startswith(f"Patient/{entry['resource']['id']}/")


async def test_batch_over_the_entry_limit_returns_413(client):
    entries = [request_entry("GET", "Patient/p1")] * 1501

    response = await client.post("", json=bundle_of("batch", entries))

    assert_outcome(response, 413, "too-costly", "1501 entries")


async def test_batch_bundle_type_must_be_batch_or_transaction(client):
    response = await client.post("", json=bundle_of("searchset", []))

    assert_outcome(response, 400, "invalid", "'searchset'", "Bundle.type")
