"""The real server, driven over TCP by an independent FHIR client (fhirpy) and by httpx."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fhirpy import AsyncFHIRClient
from fhirpy.base.exceptions import ResourceNotFound

from tests.factories import GSTT_MRN, organization, patient, referral
from tests.server.conftest import Server

pytestmark = pytest.mark.server


def _unique_patient(**extra: Any) -> tuple[dict[str, Any], str]:
    """A patient with an MRN no other test uses (the server's database lives all session)."""
    mrn = f"T{uuid.uuid4().hex[:10]}"
    resource = patient(**extra)
    resource["identifier"][1]["value"] = mrn
    return resource, f"{GSTT_MRN}|{mrn}"


@pytest.fixture
def fhir(server: Server) -> AsyncFHIRClient:
    return AsyncFHIRClient(server.base)


@pytest.fixture
async def http(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.base + "/", timeout=30.0) as client:
        yield client


async def test_fhirpy_reads_the_capability_statement(fhir, server):
    statement = await fhir.execute("metadata", method="get")

    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["implementation"]["url"] == server.base


async def test_fhirpy_create_read_update_and_versions(fhir):
    data, _ = _unique_patient()
    created = fhir.resource("Patient", **data)

    await created.save()

    assert created.id
    assert created["meta"]["versionId"] == "1"
    read = await fhir.reference("Patient", created.id).to_resource()
    assert read["name"][0]["family"] == "Okafor"

    read["active"] = True
    await read.save()

    assert read["meta"]["versionId"] == "2"
    again = await fhir.reference("Patient", created.id).to_resource()
    assert again["active"] is True
    first = await fhir.execute(f"Patient/{created.id}/_history/1", method="get")
    assert first["meta"]["versionId"] == "1"
    assert "active" not in first
    history = await fhir.execute(f"Patient/{created.id}/_history", method="get")
    assert [e["response"]["etag"] for e in history["entry"]] == ['W/"2"', 'W/"1"']


async def test_fhirpy_search_by_identifier_follows_the_pages(fhir):
    data, criteria = _unique_patient()
    for family in ("Okafor", "Adeyemi", "Nwosu"):
        await fhir.resource("Patient", **{**data, "name": [{"family": family}]}).save()

    found = await fhir.resources("Patient").search(identifier=criteria).limit(2).fetch_all()
    total = await fhir.resources("Patient").search(identifier=criteria).count()

    assert sorted(p["name"][0]["family"] for p in found) == ["Adeyemi", "Nwosu", "Okafor"]
    assert len({p.id for p in found}) == 3
    assert total == 3


async def test_fhirpy_delete_then_read_is_gone(fhir):
    data, criteria = _unique_patient()
    created = fhir.resource("Patient", **data)
    await created.save()

    await created.delete()

    with pytest.raises(ResourceNotFound):
        await fhir.reference("Patient", created.id).to_resource()
    assert await fhir.resources("Patient").search(identifier=criteria).fetch() == []


async def test_fhirpy_transaction_bundle(fhir):
    data, criteria = _unique_patient()
    patient_urn = f"urn:uuid:{uuid.uuid4()}"
    org_urn = f"urn:uuid:{uuid.uuid4()}"
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": patient_urn,
                "resource": data,
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "fullUrl": org_urn,
                "resource": organization(ods=f"X{uuid.uuid4().hex[:4]}"),
                "request": {"method": "POST", "url": "Organization"},
            },
            {
                "resource": referral(patient_urn, requester=org_urn),
                "request": {"method": "POST", "url": "ServiceRequest"},
            },
        ],
    }

    response = await fhir.execute("", method="post", data=bundle)

    assert response["type"] == "transaction-response"
    assert [e["response"]["status"] for e in response["entry"]] == ["201 Created"] * 3
    stored_patient = await fhir.resources("Patient").search(identifier=criteria).get()
    referral_id = response["entry"][2]["response"]["location"].split("/")[1]
    stored = await fhir.reference("ServiceRequest", referral_id).to_resource()
    assert stored["subject"]["reference"] == f"Patient/{stored_patient.id}"
    assert stored["requester"]["reference"].startswith("Organization/")


async def test_concurrent_conditional_creates_on_a_real_server_make_one_resource(http):
    data, criteria = _unique_patient()

    async def create() -> Any:
        return await http.post(
            "Patient", json=data, headers={"If-None-Exist": f"identifier={criteria}"}
        )

    responses = await asyncio.gather(*(create() for _ in range(20)))

    assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    search = (
        await http.get("Patient", params={"identifier": criteria, "_summary": "count"})
    ).json()
    assert search["total"] == 1


async def test_concurrent_updates_with_one_if_match_on_a_real_server_let_one_through(http):
    data, _ = _unique_patient()
    res_id = f"race-{uuid.uuid4().hex[:12]}"
    assert (await http.put(f"Patient/{res_id}", json={**data, "id": res_id})).status_code == 201

    async def update(n: int) -> Any:
        body = {**data, "id": res_id, "name": [{"family": f"Writer-{n}"}]}
        return await http.put(f"Patient/{res_id}", json=body, headers={"If-Match": 'W/"1"'})

    responses = await asyncio.gather(*(update(n) for n in range(20)))

    assert sorted(r.status_code for r in responses) == [200] + [412] * 19
    assert all(
        r.json()["resourceType"] == "OperationOutcome" for r in responses if r.status_code == 412
    )
    stored = (await http.get(f"Patient/{res_id}")).json()
    assert stored["meta"]["versionId"] == "2"
    history = (await http.get(f"Patient/{res_id}/_history")).json()
    assert len(history["entry"]) == 2


async def test_errors_on_a_real_server_are_operation_outcomes(http):
    missing = await http.get("Patient/does-not-exist")
    wrong_method = await http.delete("metadata")
    too_big = await http.post(
        "Patient",
        content=b'{"resourceType": "Patient", "x": "' + b"y" * (17 * 1024 * 1024) + b'"}',
        headers={"Content-Type": "application/fhir+json"},
    )

    assert missing.status_code == 404
    assert wrong_method.status_code == 405
    assert too_big.status_code == 413
    for response in (missing, wrong_method, too_big):
        assert response.json()["resourceType"] == "OperationOutcome"
