"""Compartment search: GET [base]/Patient/{id}/{type} (R4 Patient CompartmentDefinition)."""

from __future__ import annotations

from typing import Any

from tests.factories import patient, procedure, referral


async def _store(client, path: str, body: dict[str, Any]) -> str:
    response = await client.put(path, json={**body, "id": path.split("/")[1]})
    assert response.status_code in (200, 201), response.text
    return path.split("/")[1]


async def test_compartment_search_finds_resources_linked_by_any_compartment_param(client):
    await _store(client, "Patient/pat-a", patient("9000000009"))
    await _store(client, "Patient/pat-b", patient("9000000017", family="Patel"))
    await _store(client, "ServiceRequest/sr-subject", referral("Patient/pat-a"))
    performer = referral("Patient/pat-b", local_id="REF-2")
    performer["performer"] = [{"reference": "Patient/pat-a"}]
    await _store(client, "ServiceRequest/sr-performer", performer)
    await _store(client, "ServiceRequest/sr-other", referral("Patient/pat-b", local_id="REF-3"))

    bundle = (await client.get("Patient/pat-a/ServiceRequest")).json()

    assert [e["resource"]["id"] for e in bundle["entry"]] == ["sr-performer", "sr-subject"]
    assert bundle["link"][0]["url"].endswith("/fhir/Patient/pat-a/ServiceRequest")


async def test_compartment_search_applies_further_parameters_and_keeps_them_in_links(client):
    await _store(client, "Patient/pat-a", patient("9000000009"))
    await _store(client, "ServiceRequest/sr-1", referral("Patient/pat-a", local_id="REF-1"))
    await _store(client, "ServiceRequest/sr-2", referral("Patient/pat-a", local_id="REF-2"))
    await _store(client, "Procedure/proc-1", procedure("Patient/pat-a"))

    bundle = (
        await client.get(
            "Patient/pat-a/ServiceRequest",
            params={"identifier": "https://fhir.gstt.nhs.uk/Id/referral|REF-2"},
        )
    ).json()
    procedures = (await client.get("Patient/pat-a/Procedure")).json()

    assert [e["resource"]["id"] for e in bundle["entry"]] == ["sr-2"]
    assert "identifier=" in bundle["link"][0]["url"]
    assert [e["resource"]["id"] for e in procedures["entry"]] == ["proc-1"]


async def test_a_type_outside_the_compartment_is_404(client):
    response = await client.get("Patient/pat-a/Organization")

    assert response.status_code == 404
    issue = response.json()["issue"][0]
    assert issue["code"] == "not-supported"
    assert "not in the Patient compartment" in issue["diagnostics"]


async def test_an_unsupported_compartment_is_404(client):
    response = await client.get("Encounter/enc-1/Observation")

    assert response.status_code == 404
    assert "only Patient" in response.json()["issue"][0]["diagnostics"]


async def test_history_and_operations_are_not_taken_for_compartments(client):
    await _store(client, "Patient/pat-a", patient("9000000009"))

    history = await client.get("Patient/pat-a/_history")

    assert history.status_code == 200
    assert history.json()["type"] == "history"
