"""Barts Heart Centre (HL7 v2.5) through the real app and the shipped mappings/barts.yaml:
every message type of docs/centres.md, idempotence, corrections, the A40 merge, quarantine
with reasons, replay, broken HL7 and public sample messages (none lost, none a 500)."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.ingest.mapping.engine import NAMESPACE, resource_id
from tests.ingest.mappings import barts_messages as m

INGEST = "http://testserver/ingest/barts"
HL7 = {"content-type": "x-application/hl7-v2+er7"}
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
MRN_SYSTEM = "https://fhir.bartshealth.nhs.uk/Id/mrn"
SNOMED = "http://snomed.info/sct"
OPCS = "http://fhir.hl7.org.uk/CodeSystem/OPCS-4"
ICD10 = "http://hl7.org/fhir/sid/icd-10-uk"
STAGE = "https://fhir.southlondon-mitral.nhs.uk/CodeSystem/pathway-stage"
LOCAL = "https://fhir.southlondon-mitral.nhs.uk/CodeSystem/local-barts"
PROFILE = "https://fhir.southlondon-mitral.nhs.uk/StructureDefinition/"
SAMPLES = Path("/work/shared/test-data/hl7v2")


def organization(ods: str) -> str:
    return f"Organization/{uuid.uuid5(NAMESPACE, f'ods|{ods}')}"


def patient_ref(nhs: str = m.NHS) -> str:
    return f"Patient/{resource_id('barts', 'Patient', 'nhs-number', [nhs])}"


async def push(client: httpx.AsyncClient, body: str | bytes) -> dict[str, Any]:
    content = body.encode() if isinstance(body, str) else body
    response = await client.post(INGEST, content=content, headers=HL7)
    assert response.status_code == 200, response.text
    receipt: dict[str, Any] = response.json()
    assert receipt["units"] == receipt["mapped"] + receipt["quarantined"], receipt
    return receipt


async def one(client: httpx.AsyncClient, query: str) -> dict[str, Any]:
    response = await client.get(query)
    assert response.status_code == 200, response.text
    bundle = response.json()
    assert bundle["total"] == 1, (query, bundle)
    resource: dict[str, Any] = bundle["entry"][0]["resource"]
    return resource


def codes(concept: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for c in concept["coding"]}


def diagnostics(unit: dict[str, Any]) -> str:
    return " | ".join(i.get("diagnostics", "") for i in unit["outcome"]["issue"])


async def test_a_months_batch_maps_every_message_type_without_unread_parts(
    client: httpx.AsyncClient,
) -> None:
    receipt = await push(client, m.month())
    assert (receipt["units"], receipt["mapped"], receipt["quarantined"]) == (6, 6, 0), receipt
    for unit in receipt["detail"]:
        assert "outcome" not in unit, unit  # no warnings: nothing unread, nothing undeclared

    patient = await one(client, f"Patient?identifier={NHS_SYSTEM}|{m.NHS}")
    assert patient["meta"]["profile"] == [PROFILE + "MV-Patient"]
    assert {"system": MRN_SYSTEM, "value": m.MRN} in patient["identifier"]
    assert patient["birthDate"] == "1948-03-14" and patient["gender"] == "female"
    assert patient["name"][0]["family"] == "OKONKWO" and patient["name"][0]["prefix"] == ["Mrs"]
    assert patient["address"][0]["postalCode"] == "E1 1BB"

    referral = await one(
        client,
        f"ServiceRequest?identifier=https://fhir.bartshealth.nhs.uk/Id/referral|{m.REFERRAL}",
    )
    assert referral["meta"]["profile"] == [PROFILE + "MV-Referral"]
    assert referral["status"] == "active" and referral["priority"] == "routine"
    assert referral["authoredOn"] == "2026-03-12T09:30:00+00:00"  # GMT in March
    assert (STAGE, "referred") in codes(referral["category"][0])
    assert referral["category"][1]["coding"][0]["code"] == "gp"
    assert {(SNOMED, "48724000"), (ICD10, "I34.0")} <= codes(referral["reasonCode"][0])
    assert referral["requester"]["reference"] == organization("F84003")
    assert referral["performer"] == [{"reference": organization("R1H")}]
    assert {"system": "https://fhir.nhs.uk/Id/UBRN", "value": "000012345678"} in referral[
        "identifier"
    ]
    condition = await one(client, f"Condition?subject={patient_ref()}")
    assert (SNOMED, "48724000") in codes(condition["code"])
    assert referral["reasonReference"] == [{"reference": f"Condition/{condition['id']}"}]

    order = await one(
        client, f"ServiceRequest?identifier=https://fhir.bartshealth.nhs.uk/Id/order|{m.ORDER}"
    )
    assert order["meta"]["profile"] == [PROFILE + "MV-InterventionRequest"]
    assert order["basedOn"] == [{"reference": f"ServiceRequest/{referral['id']}"}]
    assert {(SNOMED, "865051000000105"), (OPCS, "K35.8")} <= codes(order["code"])
    assert (STAGE, "decision") in codes(order["category"][0])
    assert order["performer"] == [{"reference": organization("RJ181")}]
    assert order["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "transseptal"
    assert order["orderDetail"][0]["coding"][0]["code"] == "464887003"

    mdt = await one(
        client, "Encounter?identifier=https://fhir.bartshealth.nhs.uk/Id/appointment|BHC-APT-000456"
    )
    assert mdt["status"] == "finished" and mdt["class"]["code"] == "AMB"
    assert (STAGE, "heart-team-review") in codes(mdt["type"][0])
    assert mdt["basedOn"] == [{"reference": f"ServiceRequest/{referral['id']}"}]
    assert mdt["serviceProvider"] == {"reference": organization("R1H")}
    assert mdt["period"] == {
        "start": "2026-04-02T14:00:00+01:00",
        "end": "2026-04-02T14:30:00+01:00",
    }
    outcomes = {e["valueCodeableConcept"]["coding"][0]["code"] for e in mdt["extension"]}
    assert outcomes == {"transcatheter-repair", "primary"}

    booked = await one(
        client, "Encounter?identifier=https://fhir.bartshealth.nhs.uk/Id/appointment|BHC-APT-000457"
    )
    assert booked["status"] == "planned"
    assert (STAGE, "treatment-scheduled") in codes(booked["type"][0])
    assert booked["basedOn"] == [{"reference": f"ServiceRequest/{order['id']}"}]

    stay = await one(
        client, f"Encounter?identifier=https://fhir.bartshealth.nhs.uk/Id/visit|{m.VISIT}"
    )
    assert stay["class"]["code"] == "IMP" and stay["status"] == "finished"
    assert stay["period"] == {
        "start": "2026-04-14T07:30:00+01:00",
        "end": "2026-04-17T12:00:00+01:00",
    }

    procedure = await one(client, f"Procedure?subject={patient_ref()}")
    assert procedure["meta"]["profile"] == [PROFILE + "MV-Procedure"]
    assert {(SNOMED, "865051000000105"), (OPCS, "K35.8"), (OPCS, "Z32.1")} <= codes(
        procedure["code"]
    )
    assert procedure["performedDateTime"] == "2026-04-14T09:30:00+01:00"
    assert procedure["usedCode"][0]["coding"][0]["code"] == "464887003"
    assert procedure["encounter"] == {"reference": f"Encounter/{stay['id']}"}
    assert procedure["performer"][0]["onBehalfOf"] == {"reference": organization("R1H")}

    provenance = await client.get(f"Provenance?target=Procedure/{procedure['id']}")
    assert provenance.json()["total"] == 1
    entity = provenance.json()["entry"][0]["resource"]["entity"][0]
    assert entity["what"]["identifier"]["value"] == receipt["detail"][5]["unit"]


async def test_the_same_file_again_is_all_repeats_and_writes_no_versions(
    client: httpx.AsyncClient,
) -> None:
    first = await push(client, m.month())
    again = await push(client, m.month())
    assert first["mapped"] == 6
    assert again["repeats"] == 6
    assert again["resources"] == {"created": 0, "updated": 0, "unchanged": 0}
    history = await client.get(f"{patient_ref()}/_history")
    assert len(history.json()["entry"]) == 1
    provenance = await client.get("Provenance?_summary=count")
    assert provenance.json()["total"] == 6


async def test_a_demographic_a08_corrects_the_patient_in_place(client: httpx.AsyncClient) -> None:
    await push(client, m.batch(m.referral()))
    receipt = await push(client, m.batch(m.correction(dob="19480413", family="OKONKWO-BELL")))
    assert receipt["detail"][0]["updated"] == [patient_ref()]
    patient = await one(client, f"Patient?identifier={NHS_SYSTEM}|{m.NHS}")
    assert patient["meta"]["versionId"] == "2"
    assert patient["birthDate"] == "1948-04-13" and patient["name"][0]["family"] == "OKONKWO-BELL"
    died = await push(client, m.batch(m.correction("BHC000000109", died="20260611")))
    assert died["mapped"] == 1
    assert (await client.get(patient_ref())).json()["deceasedDateTime"] == "2026-06-11"


async def test_a_referral_resent_with_a_new_status_updates_it(client: httpx.AsyncClient) -> None:
    await push(client, m.referral())
    receipt = await push(client, m.referral("BHC000000190", status="E^Expired^HL70283"))
    assert receipt["resources"]["updated"] == 1, receipt
    referral = await one(
        client,
        f"ServiceRequest?identifier=https://fhir.bartshealth.nhs.uk/Id/referral|{m.REFERRAL}",
    )
    assert referral["status"] == "completed" and referral["meta"]["versionId"] == "2"


async def test_an_a40_merge_retires_the_duplicate_mrn(client: httpx.AsyncClient) -> None:
    await push(client, m.batch(m.referral(), m.admission("BHC000000150", mrn="BH00999999")))
    receipt = await push(client, m.merge())
    assert receipt["mapped"] == 1, receipt
    patient = await one(client, f"Patient?identifier={NHS_SYSTEM}|{m.NHS}")
    assert {"use": "old", "system": MRN_SYSTEM, "value": "BH00999999"} in patient["identifier"]
    assert {"system": MRN_SYSTEM, "value": m.MRN} in patient["identifier"]


async def test_a_clinic_for_another_hubs_order_keeps_a_logical_reference(
    client: httpx.AsyncClient,
) -> None:
    receipt = await push(client, m.follow_up())
    assert receipt["mapped"] == 1 and "outcome" not in receipt["detail"][0], receipt
    clinic = await one(
        client, "Encounter?identifier=https://fhir.bartshealth.nhs.uk/Id/appointment|BHC-APT-000020"
    )
    assert clinic["basedOn"] == [
        {
            "type": "ServiceRequest",
            "identifier": {"value": "KCH-ORD-000011", "assigner": {"display": "KCH"}},
        }
    ]
    assert clinic["type"] == [
        {"coding": [{"system": LOCAL, "code": "BHC_CLN_001", "display": "VALVE CLINIC"}]}
    ]
    assert clinic["period"]["start"] == "2026-05-08T11:45:00+01:00"  # minute precision kept


BAD_MESSAGES = [
    (m.referral("BHC000000201", nhs="9434765918"), "PID-3.1", "check digit"),
    (m.referral("BHC000000202", dob="20261301"), "PID-7", "20261301"),
    (m.referral("BHC000000203", received="20260231093000"), "RF1-7", "20260231093000"),
    (m.referral("BHC000000204", reason="BHC_REF_009^UNKNOWN^99BHC"), "DG1-3.1", "BHC_REF_009"),
    (m.order("BHC000000205", procedure="BHC_PROC_099"), "OBR-4.1", "BHC_PROC_099"),
    (m.booking("BHC000000206", service="BHC_CLN_009"), "AIS-3.1", "BHC_CLN_009"),
    (m.procedure("BHC000000207", device="STENT^CORONARY STENT"), "ZBH-4.1", "STENT"),
    (m.mdt("BHC000000208", outcome="MDT_MAYBE^UNDECIDED"), "ZBH-2.1", "MDT_MAYBE"),
    (m.message(m.msh("ADT^A31^ADT_A05", "BHC000000209"), m.pid()), "ADT^A31", "not mapped"),
]


async def test_bad_messages_are_quarantined_naming_the_field_and_can_be_replayed(
    client: httpx.AsyncClient,
) -> None:
    receipt = await push(client, m.batch(m.referral(), *(bad for bad, _, _ in BAD_MESSAGES)))
    assert (receipt["units"], receipt["mapped"], receipt["quarantined"]) == (10, 1, 9), receipt
    for unit, (_, field, detail) in zip(receipt["detail"][1:], BAD_MESSAGES, strict=True):
        assert unit["status"] == "quarantined"
        text = diagnostics(unit)
        assert field in text and detail in text, text

    listed = await client.get("http://testserver/ingest/quarantine?centre=barts")
    assert listed.status_code == 200
    assert listed.json()["counts"]["quarantined"] == 9
    quarantined = {u["unit"] for u in listed.json()["units"]}
    assert quarantined == {u["unit"] for u in receipt["detail"][1:]}

    unit_id = receipt["detail"][1]["unit"]
    before = (await client.get(f"http://testserver/ingest/units/{unit_id}")).json()
    replayed = await client.post(f"http://testserver/ingest/units/{unit_id}/replay")
    assert replayed.status_code == 200
    again = replayed.json()["units"][0]
    assert again["status"] == "quarantined" and "check digit" in diagnostics(again)
    shown = (await client.get(f"http://testserver/ingest/units/{unit_id}")).json()
    assert shown["attempts"] > before["attempts"] and shown["status"] == "quarantined"


def _cut_inside_pid() -> str:
    text = m.referral("BHC000000301")
    return text[: text.index("PID|") + 14]


BROKEN = [
    ("truncated", _cut_inside_pid(), "PID-3.1"),
    ("segment cut off", m.referral("BHC000000302").replace("DG1|", "D"), "not a segment"),
    ("wrong encoding characters", m.referral("BHC000000303").replace("^~\\&", "^~#&", 1), "MSH-2"),
    ("missing MSH", m.referral("BHC000000304").split("\r\n", 1)[1], "no MSH segment"),
    (
        "unknown message type",
        m.referral("BHC000000305").replace("REF^I12^REF_I12", "REF^I15^REF_I12"),
        "REF^I15",
    ),
    ("version 2.3", m.referral("BHC000000306").replace("|P|2.5|", "|P|2.3|"), "MSH-12"),
    (
        "another centre's facility",
        m.referral("BHC000000307").replace("|BHC|MITRAL", "|KCH|MITRAL"),
        "MSH-4",
    ),
    ("invalid birth date", m.referral("BHC000000308", dob="19480230"), "PID-7"),
]


@pytest.mark.parametrize(("label", "body", "named"), BROKEN, ids=[b[0] for b in BROKEN])
async def test_broken_hl7_is_kept_and_quarantined_with_a_reason(
    client: httpx.AsyncClient, label: str, body: str, named: str
) -> None:
    receipt = await push(client, body)
    assert receipt["units"] >= 1 and receipt["mapped"] == 0, (label, receipt)
    for unit in receipt["detail"]:
        assert unit["status"] == "quarantined"
    assert any(named in diagnostics(u) for u in receipt["detail"]), receipt


async def test_line_endings_and_framing_do_not_matter(client: httpx.AsyncClient) -> None:
    windows = m.referral()
    assert "\r\n" in windows
    receipt = await push(client, windows)
    assert receipt["mapped"] == 1 and "outcome" not in receipt["detail"][0]
    unix = m.referral("BHC000000401").replace("\r\n", "\n")
    mllp = b"\x0b" + m.referral("BHC000000402").replace("\r\n", "\r").encode() + b"\x1c\r"
    assert (await push(client, unix))["mapped"] == 1
    assert (await push(client, mllp))["mapped"] == 1
    empty = await push(client, b"")
    assert empty["units"] == 0


async def control_id(client: httpx.AsyncClient, unit_id: str) -> str:
    """MSH-10 of a logged unit (the manifest names bad messages by control id)."""
    shown = (await client.get(f"http://testserver/ingest/units/{unit_id}")).json()
    header: str = shown["content"].split("\n", 1)[0]
    return header.split("|")[9]


def synthetic_feed(tmp_path: Path) -> Path:
    """The committed samples (tests/fixtures/feeds), or a feed from the same generator."""
    committed = Path(__file__).parents[2] / "fixtures" / "feeds"
    if (committed / "barts").is_dir() and (committed / "manifest.json").is_file():
        return committed
    from app.ingest.synth.generate import generate

    generate(patients=60, seed=7, out=tmp_path)
    return tmp_path


async def test_the_synthetic_feed_maps_cleanly_and_quarantines_only_the_bad_units(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    feeds = synthetic_feed(tmp_path)
    manifest = json.loads((feeds / "manifest.json").read_text())["centres"]["barts"]
    quarantined: set[str] = set()
    units = 0
    for name in manifest["files"]:
        receipt = await push(client, (feeds / "barts" / name).read_bytes())
        units += receipt["units"]
        for unit in receipt["detail"]:
            if unit["status"] == "quarantined":
                quarantined.add(await control_id(client, unit["unit"]))
            else:  # mapped with no warning: every part read or declared ignored
                assert "outcome" not in unit, (name, unit)
    assert units == manifest["units"]
    assert quarantined == {b["position"].split()[-1] for b in manifest["bad_units"]}
    listed = await client.get("http://testserver/ingest/quarantine?centre=barts&_count=500")
    counts = listed.json()["counts"]
    assert counts["quarantined"] == len(quarantined)
    assert counts["mapped"] == manifest["units"] - len(quarantined)


@pytest.mark.skipif(not SAMPLES.is_dir(), reason="public HL7 v2 samples not available")
async def test_public_sample_messages_are_each_quarantined_with_a_reason(
    client: httpx.AsyncClient,
) -> None:
    """As sent (other facilities, v2.6 / v2.8) they are refused by MSH-12; rewritten as if
    Barts had sent them, the mapping reads them and names what is missing or unknown (they
    carry no NHS number and no Barts codes). Never a 500, never lost."""
    files = sorted(SAMPLES.glob("*.hl7"))
    assert len(files) >= 20
    sent = 0
    for path in files:
        for body, reason in ((path.read_bytes(), "MSH-12"), (as_barts(path.read_bytes()), "")):
            receipt = await push(client, body)
            assert receipt["units"] >= 1 and receipt["mapped"] == 0, (path.name, receipt)
            sent += receipt["units"]
            for unit in receipt["detail"]:
                text = diagnostics(unit)
                if reason:
                    assert reason in text, (path.name, text)
                else:  # read by the mapping: the reason names a field or the message type
                    assert "MSH-12" not in text, (path.name, text)
                    assert re.search(r"\b[A-Z][A-Z0-9]{2}-\d+|message type", text), text
    logged = (await client.get("http://testserver/ingest/units?centre=barts&_count=500")).json()
    assert logged["counts"] == {"received": 0, "mapped": 0, "quarantined": sent}


def as_barts(raw: bytes) -> bytes:
    """A sample as if Barts had sent it (MSH-4 BHC, MSH-12 2.5), so the mapping itself reads it."""
    lines = raw.replace(b"\r\n", b"\r").replace(b"\n", b"\r").split(b"\r")
    out: list[bytes] = []
    for line in lines:
        fields = line.split(b"|")
        if fields[0].lstrip(b"\xef\xbb\xbf") == b"MSH" and len(fields) > 11:
            fields[3], fields[11] = b"BHC", b"2.5"
        out.append(b"|".join(fields))
    return b"\r".join(out)
