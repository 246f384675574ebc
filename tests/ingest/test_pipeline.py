"""The ingest pipeline over HTTP: the ingest log, receipts, idempotence, corrections,
Provenance, the quarantine and replay after a mapping fix. Runs on every backend.

A cut-down King's mapping (tests/ingest/feed_messages.py) pins the pipeline's behaviour
independently of the shipped centre mappings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from app.ingest.mapping.spec import load_specs
from app.ingest.pipeline import Ingestor
from tests.ingest.feed_messages import HL7, SPEC, feed, push, referral

NHS = "9434765919"


async def search(http: httpx.AsyncClient, query: str) -> dict[str, Any]:
    response = await http.get(f"/fhir/{query}")
    assert response.status_code == 200, response.text
    bundle: dict[str, Any] = response.json()
    return bundle


async def test_a_referral_creates_the_patient_referral_organizations_and_provenance(
    http: httpx.AsyncClient,
) -> None:
    receipt = await push(http, referral(1, nhs=NHS))
    assert (receipt["units"], receipt["mapped"], receipt["quarantined"]) == (1, 1, 0)
    unit = receipt["detail"][0]
    assert len(unit["created"]) == 2 and "outcome" not in unit, unit

    patients = await search(http, f"Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|{NHS}")
    assert patients["total"] == 1
    patient = patients["entry"][0]["resource"]
    assert {"system": "https://fhir.kch.nhs.uk/Id/mrn", "value": "K0000001"} in patient[
        "identifier"
    ]
    referrals = await search(http, f"ServiceRequest?subject=Patient/{patient['id']}")
    sr = referrals["entry"][0]["resource"]
    assert sr["authoredOn"] == "2026-03-12T09:30:00+00:00"
    assert sr["reasonCode"][0]["coding"][0]["code"] == "48724000"

    trust = await search(
        http, "Organization?identifier=https://fhir.nhs.uk/Id/ods-organization-code|RJZ"
    )
    assert trust["total"] == 1
    provenance = await search(http, f"Provenance?target=ServiceRequest/{sr['id']}")
    assert provenance["total"] == 1
    prov = provenance["entry"][0]["resource"]
    assert prov["entity"][0]["what"]["identifier"]["value"] == unit["unit"]
    assert (
        prov["agent"][0]["who"]["reference"]
        == f"Organization/{trust['entry'][0]['resource']['id']}"
    )
    raw = await http.get(f"/ingest/units/{unit['unit']}/raw")
    assert raw.content == (referral(1, nhs=NHS) + "\r").encode()  # segments end in \r


async def test_the_same_input_twice_changes_nothing(http: httpx.AsyncClient) -> None:
    body = feed(5)
    first = await push(http, body)
    again = await push(http, body)
    assert first["mapped"] == 5
    assert again["repeats"] == 5 and again["resources"] == {
        "created": 0,
        "updated": 0,
        "unchanged": 0,
    }
    history = await http.get("/fhir/ServiceRequest/_history")
    assert len(history.json()["entry"]) == 5
    provenance = await search(http, "Provenance?_summary=count")
    assert provenance["total"] == 5


async def test_a_corrected_message_updates_in_place_with_its_own_provenance(
    http: httpx.AsyncClient,
) -> None:
    await push(http, referral(2, nhs=NHS))
    corrected = await push(http, referral(2, nhs=NHS, status="R"))
    assert corrected["resources"]["updated"] == 1 and corrected["resources"]["unchanged"] == 1
    srs = await search(
        http, "ServiceRequest?identifier=https://fhir.kch.nhs.uk/Id/referral|KCH-REF-000002"
    )
    sr = srs["entry"][0]["resource"]
    assert sr["status"] == "revoked" and sr["meta"]["versionId"] == "2"
    provenance = await search(http, f"Provenance?target=ServiceRequest/{sr['id']}")
    assert provenance["total"] == 2


async def test_a_second_centre_message_keeps_one_patient_with_every_mrn(
    http: httpx.AsyncClient,
) -> None:
    await push(http, referral(3, nhs=NHS))
    await push(http, referral(4, nhs=NHS))
    patients = await search(http, f"Patient?identifier=https://fhir.nhs.uk/Id/nhs-number|{NHS}")
    assert patients["total"] == 1
    mrns = {
        i["value"]
        for i in patients["entry"][0]["resource"]["identifier"]
        if i["system"] == "https://fhir.kch.nhs.uk/Id/mrn"
    }
    assert mrns == {"K0000003", "K0000004"}


async def test_bad_messages_are_quarantined_with_reasons_and_nothing_is_lost(
    http: httpx.AsyncClient,
) -> None:
    bad = [
        referral(10, nhs="9434765918"),  # check digit
        referral(11, nhs=NHS, received="20261341"),  # month 13
        referral(12, nhs=NHS, reason="99999"),  # not a King's code
        referral(13, nhs=NHS, version="2.3"),
        "MSH|^~\\&|KCH-EPR|KCH|MITRAL-FHIR|SLMVN|2026031209",  # truncated
    ]
    no_msh = "PID|1||9434765919^^^NHS^NH"  # before the first MSH: a unit of its own
    receipt = await push(http, "\n".join([no_msh, referral(14, nhs=NHS), *bad]) + "\n")
    assert receipt["units"] == 7
    assert receipt["mapped"] + receipt["quarantined"] == receipt["units"]
    assert receipt["quarantined"] == 6
    reasons = [
        " ".join(i["diagnostics"] for i in u["outcome"]["issue"])
        for u in receipt["detail"]
        if u["status"] == "quarantined"
    ]
    assert "MSH" in reasons[0]
    assert "check digit" in reasons[1] and "PID-3.1" in reasons[1]
    assert "RF1-7" in reasons[2]
    assert "'99999' is not a kings local code" in reasons[3]
    assert "'2.3'" in reasons[4]
    assert reasons[5]

    listing = (await http.get("/ingest/quarantine", params={"centre": "kings"})).json()
    assert listing["counts"] == {"received": 0, "mapped": 1, "quarantined": 6}
    assert len(listing["units"]) == 6


async def test_replay_after_a_mapping_fix_maps_the_quarantined_unit(
    http: httpx.AsyncClient, ingest_app: FastAPI, mappings: Path, tmp_path: Path
) -> None:
    ack_type = referral(20, nhs=NHS, trigger="REF^I14^REF_I12")
    receipt = await push(http, ack_type)
    unit = receipt["detail"][0]
    assert unit["status"] == "quarantined"
    assert "'REF^I14' is not mapped" in unit["outcome"]["issue"][0]["diagnostics"]

    fixed = tmp_path / "fixed"
    fixed.mkdir()
    (fixed / "kings.yaml").write_text(
        SPEC.replace("  REF^I12:\n", "  REF^I12: &ref\n") + "  REF^I14: *ref\n"
    )
    original: Ingestor = ingest_app.state.ingestor
    ingest_app.state.ingestor = Ingestor(original.ctx, load_specs(fixed), original.local)
    try:
        replayed = await http.post(f"/ingest/units/{unit['unit']}/replay")
    finally:
        ingest_app.state.ingestor = original
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["units"][0]["status"] == "mapped"
    shown = (await http.get(f"/ingest/units/{unit['unit']}")).json()
    assert shown["status"] == "mapped" and shown["attempts"] == 2


async def test_unknown_centre_and_wrong_content_type_are_operation_outcomes(
    http: httpx.AsyncClient,
) -> None:
    unknown = await http.post("/ingest/nowhere", content=b"MSH|", headers=HL7)
    assert unknown.status_code == 404
    assert unknown.json()["resourceType"] == "OperationOutcome"
    wrong = await http.post("/ingest/kings", content=b"a,b\n", headers={"content-type": "text/csv"})
    assert wrong.status_code == 415
    assert "kings sends hl7v2" in wrong.json()["issue"][0]["diagnostics"]
    nothing = await http.get("/ingest/units/0000")
    assert nothing.status_code == 404
    huge = await http.post("/ingest/kings", content=b"x" * (300 * 1024), headers=HL7)
    assert huge.status_code == 413  # the test app's MITRAL_FHIR_MAX_BODY_BYTES is 256 KiB
    assert huge.json()["issue"][0]["code"] == "too-costly"
