"""King's (HL7 v2.4) end to end: ER7 posted to ``/ingest/kings`` through ``mappings/kings.yaml``
to regional resources read back with FHIR searches. Messages follow docs/centres.md."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.ingest.mapping.engine import NAMESPACE
from tests.ingest.mappings.reads import diagnostics, mapped_cleanly, read, search, versions

INGEST = "http://testserver/ingest/kings"
HL7 = {"content-type": "x-application/hl7-v2+er7"}
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
MRN_SYSTEM = "https://fhir.kch.nhs.uk/Id/mrn"
REFERRAL_SYSTEM = "https://fhir.kch.nhs.uk/Id/referral"
ORDER_SYSTEM = "https://fhir.kch.nhs.uk/Id/order"
APPOINTMENT_SYSTEM = "https://fhir.kch.nhs.uk/Id/appointment"
SNOMED = "http://snomed.info/sct"
OPCS = "http://fhir.hl7.org.uk/CodeSystem/OPCS-4"
PUBLIC_SAMPLES = Path(__file__).resolve().parents[4] / "shared" / "test-data" / "hl7v2"
"""Public HL7 v2 example messages (other versions and facilities), kept beside the repository."""

NHS = "9434765919"
MRN = "K4471203"
REF_ID = "KCH-REF-000123"
ORDER_ID = "KCH-ORD-000078"


def ods_id(code: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"ods|{code}"))


def patient_id(nhs: str = NHS) -> str:
    return str(uuid.uuid5(NAMESPACE, f"nhs-number|{nhs}"))


def kings_id(res_type: str, *key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "|".join(("kings", res_type, *key))))


def message(kind: str, control: str, *segments: str, version: str = "2.4") -> bytes:
    msh = (
        f"MSH|^~\\&|KCH-EPR|KCH|MITRAL-FHIR|SLMVN|20260312093015||{kind}|{control}|P|{version}"
        "|||AL|NE|GBR|UNICODE UTF-8"
    )
    return ("\r".join((msh, *segments)) + "\r\n").encode()


def pid(
    nhs: str = NHS,
    mrn: str = MRN,
    *,
    family: str = "OKONKWO",
    born: str = "19480314",
    death: str = "",
) -> str:
    tail = f"||||||||||||||||||{death}|Y" if death else ""
    return (
        f"PID|1||{nhs}^^^NHS^NH~{mrn}^^^KCH^MR||{family}^Adaeze^^^Mrs||{born}|F|||"
        f"12 Acre Lane^^London^^SW2 5SG^GBR^H{tail}"
    )


def referral(
    control: str = "KCH00000001",
    *,
    status: str = "A^Accepted^HL70283",
    received: str = "20260312093000",
    reason: str = "52010^MR - severe^99KCH",
    nhs: str = NHS,
    born: str = "19480314",
) -> bytes:
    return message(
        "REF^I12^REF_I12",
        control,
        f"RF1|{status}|R^Routine^HL70280|GP^General practice^99KCHSRC||O^Outpatient^HL70284|"
        f"{REF_ID}^KCH|{received}||20260313||000012345678^eRS",
        "PRD|RP^Referring provider^HL70286|HUSSAIN^Amir^^^Dr|Lambeth Walk Group Practice^^London"
        "||||G85011^ODS",
        pid(nhs, born=born),
        f"DG1|1||{reason}||20260312|W",
        "NTE|1|P|Breathless on exertion. TTE: severe MR.",
    )


def order(control: str = "KCH00000002", *, code: str = "40130^MitraClip^99KCH") -> bytes:
    return message(
        "ORM^O01^ORM_O01",
        control,
        pid(),
        "PV1|1|O",
        f"ORC|NW|{ORDER_ID}^KCH||{REF_ID}^KCH|SC||||20260402153000|||C4471203^PATEL^Nina^^^Dr"
        "|||||||||Harefield Hospital^^^^^^^^^RJ181",
        f"OBR|1|{ORDER_ID}^KCH||{code}",
    )


def appointment(
    control: str,
    appointment_id: str,
    service: str,
    for_id: str,
    *,
    status: str = "Complete",
    zkc: str = "",
) -> bytes:
    segments = [
        f"SCH|{appointment_id}^KCH|{appointment_id}^KCH|||||^Heart team discussion||||"
        f"^^^20260402140000^20260402143000||||||||||||||{status}|{for_id}^KCH",
        pid(),
        "RGS|1|A",
        f"AIS|1|A|{service}|20260402140000|||30|min",
        "AIL|1|A|SHMDT^^^KCH",
    ]
    if zkc:
        segments.append(zkc)
    return message("SIU^S12^SIU_S12", control, *segments)


def procedure(control: str = "KCH00000006", *, code: str = "40130^MitraClip^99KCH") -> bytes:
    return message(
        "ADT^A08^ADT_A01",
        control,
        "EVN|A08|20260415110000",
        pid(),
        "PV1|1|I|CARDIAC^^^KCH||||||||||||||||KCH-V-000311"
        + "|" * 25
        + "20260414073000|20260417120000",
        f"PR1|1||{code}||20260414093000|P||||||||||TS^Transseptal",
    )


async def post(client: httpx.AsyncClient, body: bytes) -> dict[str, Any]:
    response = await client.post(INGEST, content=body, headers=HL7)
    assert response.status_code == 200, response.text
    receipt: dict[str, Any] = response.json()
    assert receipt["units"] == receipt["mapped"] + receipt["quarantined"]
    return receipt


def codes(concept: dict[str, Any], system: str) -> list[str]:
    return [c["code"] for c in concept.get("coding", []) if c.get("system") == system]


async def test_referral_maps_patient_referral_and_diagnosis(client: httpx.AsyncClient) -> None:
    receipt = await post(client, referral())
    mapped_cleanly(receipt)

    [patient] = await search(client, f"Patient?identifier={NHS_SYSTEM}|{NHS}")
    assert patient["id"] == patient_id()
    assert {"system": MRN_SYSTEM, "value": MRN} in patient["identifier"]
    assert patient["name"][0]["family"] == "OKONKWO"
    assert patient["name"][0]["given"] == ["Adaeze"]
    assert patient["birthDate"] == "1948-03-14"
    assert patient["gender"] == "female"
    assert patient["address"][0]["postalCode"] == "SW2 5SG"

    [ref] = await search(client, f"ServiceRequest?identifier={REFERRAL_SYSTEM}|{REF_ID}")
    assert ref["id"] == kings_id("ServiceRequest", REF_ID)
    assert ref["status"] == "active"
    assert ref["meta"]["profile"][0].endswith("/MV-Referral")
    assert {"system": "https://fhir.nhs.uk/Id/UBRN", "value": "000012345678"} in ref["identifier"]
    assert ref["subject"]["reference"] == f"Patient/{patient_id()}"
    assert ref["authoredOn"].startswith("2026-03-12T09:30:00")
    assert ref["requester"]["reference"] == f"Organization/{ods_id('G85011')}"
    assert ref["performer"] == [{"reference": f"Organization/{ods_id('RJZ')}"}]
    categories = [c for cat in ref["category"] for c in cat["coding"]]
    assert {c["code"] for c in categories} == {"referred", "gp"}
    assert codes(ref["reasonCode"][0], SNOMED) == ["48724000"]

    [condition] = await search(client, f"Condition?subject=Patient/{patient_id()}")
    assert codes(condition["code"], SNOMED) == ["48724000"]
    assert codes(condition["code"], "http://hl7.org/fhir/sid/icd-10-uk") == ["I34.0"]
    assert ref["reasonReference"] == [{"reference": f"Condition/{condition['id']}"}]

    provenance = await search(client, f"Provenance?target=ServiceRequest/{ref['id']}")
    assert len(provenance) == 1
    assert provenance[0]["entity"][0]["what"]["identifier"]["value"] == receipt["detail"][0]["unit"]


async def test_same_message_again_is_a_repeat_with_no_new_versions(
    client: httpx.AsyncClient,
) -> None:
    mapped_cleanly(await post(client, referral()))
    again = await post(client, referral())
    assert again["repeats"] == again["units"] == 1
    assert again["resources"] == {"created": 0, "updated": 0, "unchanged": 0}
    assert await versions(client, "ServiceRequest", kings_id("ServiceRequest", REF_ID)) == 1

    # The same content in a new message (new control id) maps again but changes nothing.
    resent = await post(client, referral("KCH00000099"))
    mapped_cleanly(resent)
    assert resent["resources"]["created"] == resent["resources"]["updated"] == 0
    assert await versions(client, "Patient", patient_id()) == 1


async def test_corrections_update_in_place(client: httpx.AsyncClient) -> None:
    mapped_cleanly(await post(client, referral()))
    closed = await post(client, referral("KCH00000010", status="E^Expired^HL70283"))
    mapped_cleanly(closed)
    ref = await read(client, "ServiceRequest", kings_id("ServiceRequest", REF_ID))
    assert ref["status"] == "completed"
    assert ref["meta"]["versionId"] == "2"

    a08 = message(
        "ADT^A08^ADT_A01",
        "KCH00000011",
        "EVN|A08|20260415110000",
        pid(family="OKONKWO-BELL", born="19480315"),
        "PV1|1|O|CARDIAC^^^KCH",
    )
    mapped_cleanly(await post(client, a08))
    patient = await read(client, "Patient", patient_id())
    assert patient["meta"]["versionId"] == "2"
    assert patient["name"][0]["family"] == "OKONKWO-BELL"
    assert patient["birthDate"] == "1948-03-15"

    death = message(
        "ADT^A08^ADT_A01",
        "KCH00000012",
        "EVN|A08|20260612090000",
        pid(family="OKONKWO-BELL", born="19480315", death="20260611"),
        "PV1|1|O|CARDIAC^^^KCH",
    )
    mapped_cleanly(await post(client, death))
    patient = await read(client, "Patient", patient_id())
    assert patient["deceasedDateTime"] == "2026-06-11"


async def test_pathway_order_mdt_booking_clinic_and_procedure(client: httpx.AsyncClient) -> None:
    mdt_outcome = "ZKC|1|TEER^Transcatheter edge-to-edge repair|P|SEV|TOE \\T\\ CT reviewed"
    mdt = appointment(
        "KCH00000003", "KCH-APT-000456", "71002^Structural heart MDT^99KCH", REF_ID, zkc=mdt_outcome
    )
    booking_message = appointment(
        "KCH00000004", "KCH-APT-000457", "40130^MitraClip^99KCH", ORDER_ID, status="Booked"
    )
    clinic_message = appointment(
        "KCH00000005", "KCH-APT-000455", "71001^Valve clinic^99KCH", REF_ID
    )
    feed = referral() + mdt + order() + booking_message + clinic_message + procedure()
    receipt = await post(client, feed)
    mapped_cleanly(receipt)
    assert receipt["mapped"] == 6

    referral_ref = f"ServiceRequest/{kings_id('ServiceRequest', REF_ID)}"
    [intervention] = await search(client, f"ServiceRequest?identifier={ORDER_SYSTEM}|{ORDER_ID}")
    assert intervention["meta"]["profile"][0].endswith("/MV-InterventionRequest")
    assert intervention["basedOn"] == [{"reference": referral_ref}]
    assert intervention["status"] == "active"
    assert codes(intervention["code"], SNOMED) == ["865051000000105"]
    assert "K35.8" in codes(intervention["code"], OPCS)
    assert intervention["performer"] == [{"reference": f"Organization/{ods_id('RJ181')}"}]
    assert intervention["authoredOn"].startswith("2026-04-02T15:30:00+01:00")

    meeting = await read(client, "Encounter", kings_id("Encounter", "KCH-APT-000456"))
    assert meeting["status"] == "finished"
    assert meeting["class"]["code"] == "AMB"
    assert "heart-team-review" in [c["code"] for t in meeting["type"] for c in t["coding"]]
    assert meeting["basedOn"] == [{"reference": referral_ref}]
    assert meeting["serviceProvider"] == {"reference": f"Organization/{ods_id('RJZ')}"}
    assert meeting["period"]["start"].startswith("2026-04-02T14:00:00+01:00")
    outcome = {e["url"].rsplit("-", 1)[-1]: e["valueCodeableConcept"] for e in meeting["extension"]}
    assert outcome["MdtOutcome"]["coding"][0]["code"] == "transcatheter-repair"
    assert outcome["MrAetiology"]["coding"][0]["code"] == "primary"

    clinic = await read(client, "Encounter", kings_id("Encounter", "KCH-APT-000455"))
    assert [c["code"] for t in clinic["type"] for c in t["coding"]] == ["71001"]

    booking = await read(client, "Appointment", kings_id("Appointment", "KCH-APT-000457"))
    assert booking["status"] == "booked"
    assert booking["identifier"] == [{"system": APPOINTMENT_SYSTEM, "value": "KCH-APT-000457"}]
    assert booking["basedOn"] == [{"reference": f"ServiceRequest/{intervention['id']}"}]
    assert codes(booking["serviceType"][0], SNOMED) == ["865051000000105"]
    missing = await client.get(f"Encounter/{kings_id('Encounter', 'KCH-APT-000457')}")
    assert missing.status_code == 404  # a procedure booking is no encounter

    [done] = await search(client, f"Procedure?subject=Patient/{patient_id()}")
    assert done["id"] == kings_id("Procedure", "KCH-V-000311", "40130")
    assert done["status"] == "completed"
    assert codes(done["code"], SNOMED) == ["865051000000105"]
    assert codes(done["code"], OPCS)[0] == "K35.8"
    assert done["performedDateTime"].startswith("2026-04-14T09:30:00+01:00")
    assert done["performer"][0]["onBehalfOf"] == {"reference": f"Organization/{ods_id('RJZ')}"}
    assert done["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "transseptal"


async def test_surgical_repair_is_coded_in_opcs_only(client: httpx.AsyncClient) -> None:
    receipt = await post(client, procedure(code="40110^MV repair - conventional^99KCH"))
    mapped_cleanly(receipt)
    [done] = await search(client, f"Procedure?subject=Patient/{patient_id()}")
    assert codes(done["code"], SNOMED) == []
    assert codes(done["code"], OPCS) == ["K25.5"]


async def test_merge_moves_the_retired_mrn_to_the_survivor(client: httpx.AsyncClient) -> None:
    duplicate = message(
        "ADT^A04^ADT_A01",
        "KCH00000020",
        "EVN|A04|20260301100000",
        pid(mrn="K9901234"),
        "PV1|1|O|CARDIAC^^^KCH",
    )
    mapped_cleanly(await post(client, duplicate))
    mapped_cleanly(await post(client, referral()))
    merge = message(
        "ADT^A40^ADT_A39",
        "KCH00000021",
        "EVN|A40|20260320100000",
        pid(),
        "MRG|K9901234^^^KCH^MR",
    )
    mapped_cleanly(await post(client, merge))
    patient = await read(client, "Patient", patient_id())
    idents = {(i["system"], i["value"]): i.get("use") for i in patient["identifier"]}
    assert idents[(MRN_SYSTEM, "K9901234")] == "old"
    assert idents[(MRN_SYSTEM, MRN)] is None


BAD = [
    pytest.param(referral(nhs="9434765918"), "PID-3.1", "check digit", id="invalid-nhs-number"),
    pytest.param(referral(born="19481341"), "PID-7", "19481341", id="invalid-birth-date"),
    pytest.param(referral(received="20261301093000"), "RF1-7", "20261301", id="invalid-date"),
    pytest.param(referral(reason="52099^MR - other^99KCH"), "DG1-3.1", "52099", id="unknown-code"),
    pytest.param(order(code="40199^Mitral other^99KCH"), "OBR-4.1", "40199", id="unknown-proc"),
    pytest.param(
        appointment("KCH00000030", "KCH-APT-000999", "71009^Clinic^99KCH", REF_ID),
        "AIS-3.1",
        "71009",
        id="unknown-clinic",
    ),
    pytest.param(
        appointment("KCH00000031", "KCH-APT-000998", "71002^MDT^99KCH", REF_ID, zkc="ZKC|1|XX"),
        "ZKC-2.1",
        "XX",
        id="unknown-mdt-outcome",
    ),
    pytest.param(
        message("ADT^A31^ADT_A05", "KCH00000032", "EVN|A31|20260301", pid()),
        "ADT^A31",
        "not mapped",
        id="unknown-message-type",
    ),
    pytest.param(
        message("ADT^A04^ADT_A01", "KCH00000033", pid(), version="2.5"),
        "MSH-12",
        "2.5",
        id="wrong-version",
    ),
    pytest.param(
        b"MSH|^~\\&|KCH-EPR|KCH|MITRAL-FHIR|SLMVN|20260312093015||REF^I12^REF_I12|KCH00000034"
        b"|P|2.4\rRF1|A\rPID|1||94347\n",
        "PID-3.1",
        "no value for the Patient key",
        id="truncated",
    ),
]


@pytest.mark.parametrize(("body", "field", "detail"), BAD)
async def test_bad_input_is_quarantined_with_the_field_named(
    client: httpx.AsyncClient, body: bytes, field: str, detail: str
) -> None:
    receipt = await post(client, body)
    assert receipt["quarantined"] == receipt["units"] == 1
    [unit] = receipt["detail"]
    text = diagnostics(unit)
    assert field in text and detail in text, text

    listed = (await client.get("http://testserver/ingest/quarantine?centre=kings")).json()
    assert [u["unit"] for u in listed["units"]] == [unit["unit"]]
    assert listed["units"][0]["outcome"]["issue"][0]["diagnostics"]

    replay = await client.post(f"http://testserver/ingest/units/{unit['unit']}/replay")
    assert replay.status_code == 200, replay.text
    [again] = replay.json()["units"]
    assert again["status"] == "quarantined"
    assert field in diagnostics(again)


async def test_good_and_bad_in_one_file_keep_count(client: httpx.AsyncClient) -> None:
    body = referral() + referral("KCH00000040", nhs="9434765918") + order()
    receipt = await post(client, body)
    assert (receipt["units"], receipt["mapped"], receipt["quarantined"]) == (3, 2, 1)
    assert [u["status"] for u in receipt["detail"]] == ["mapped", "quarantined", "mapped"]


def as_if_from_kings(data: bytes) -> bytes:
    """The sample with King's MSH-4 and MSH-12, so it gets past the version check into the
    mapping itself."""
    lines = re.split(rb"(\r\n|\r|\n)", data)
    for n, line in enumerate(lines):
        if line.lstrip(b"\xef\xbb\xbf").startswith(b"MSH|"):
            fields = line.split(b"|")
            fields[3] = b"KCH"
            if len(fields) > 11:
                fields[11] = b"2.4"
            lines[n] = b"|".join(fields)
    return b"".join(lines)


@pytest.mark.skipif(not PUBLIC_SAMPLES.is_dir(), reason="public HL7 v2 samples not present")
async def test_public_samples_are_mapped_or_quarantined_with_a_reason(
    client: httpx.AsyncClient,
) -> None:
    files = sorted(PUBLIC_SAMPLES.glob("*.hl7"))
    assert files
    for path in files:
        for body in (path.read_bytes(), as_if_from_kings(path.read_bytes())):
            receipt = await post(client, body)
            assert receipt["units"] >= 1, path.name
            for unit in receipt["detail"]:
                if unit["status"] != "quarantined":
                    continue
                found = unit
                if unit.get("repeat"):  # the same message in an earlier file: read its outcome
                    logged = await client.get(f"http://testserver/ingest/units/{unit['unit']}")
                    found = logged.json()
                # Each reason says where: "MSH-12 (message MSG00001): version '2.8' is not ..."
                assert re.match(r"[A-Z0-9]{3}-[\d.]+ \(|message |segment ", diagnostics(found)), (
                    path.name,
                    found,
                )


def synthetic_feed(tmp_path: Path) -> Path:
    """The committed King's samples, or a small feed from the same generator."""
    committed = Path(__file__).parents[2] / "fixtures" / "feeds"
    if (committed / "kings").is_dir() and (committed / "manifest.json").is_file():
        return committed
    from app.ingest.synth import generate

    generate(patients=12, seed=7, out=tmp_path)
    return tmp_path


async def test_synthetic_feed_maps_cleanly_and_quarantines_only_the_bad_units(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    feeds = synthetic_feed(tmp_path)
    manifest = json.loads((feeds / "manifest.json").read_text())["centres"]["kings"]
    bad = {u["position"] for u in manifest["bad_units"]}
    units = mapped = 0
    quarantined: set[str] = set()
    for path in sorted((feeds / "kings").glob("*.hl7")):
        receipt = await post(client, path.read_bytes())
        units += receipt["units"]
        for unit in receipt["detail"]:
            if unit["status"] == "quarantined":
                named = re.search(r"message (KCH\d+)", diagnostics(unit))
                assert named, diagnostics(unit)
                quarantined.add(f"message {named.group(1)}")
            else:
                mapped += 1
                assert "outcome" not in unit, unit["outcome"]  # nothing unread, nothing invalid
    assert units == manifest["units"] == mapped + len(quarantined)
    assert quarantined == bad
