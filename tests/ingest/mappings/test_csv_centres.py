"""The CSV centres end to end: St George's referral extracts and Harefield procedure extracts
posted to ``/ingest/<centre>`` through their mappings, read back with FHIR searches. Files
follow docs/centres.md ("CSV centres"): St George's UTF-8 with a BOM, ``,``, ``\\n``;
Harefield Windows-1252, ``;``, ``\\r\\n``."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.ingest.mapping.engine import NAMESPACE
from tests.ingest.mappings.reads import diagnostics, mapped_cleanly, read, search, versions

CSV = {"content-type": "text/csv"}
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
SNOMED = "http://snomed.info/sct"
OPCS = "http://fhir.hl7.org.uk/CodeSystem/OPCS-4"
ICD10 = "http://hl7.org/fhir/sid/icd-10-uk"
REGIONAL = "https://fhir.southlondon-mitral.nhs.uk/CodeSystem/"
FEEDS = Path(__file__).parents[2] / "fixtures" / "feeds"

NHS = "9434765919"
BOM = b"\xef\xbb\xbf"

SG_HEADER = (
    "Referral ID,NHS No,Hosp No,Surname,Forename,DOB,Sex,Postcode,Date of Referral,"
    "Referral Source,Referring Org Code,Reason Code,Reason,Aetiology,Priority,Referred To,"
    "Status,Last Updated,Clinic Notes"
)
SG_REFERRAL = "SGH-R-000123"
SG_FIELDS: dict[str, str] = {
    "Referral ID": SG_REFERRAL,
    "NHS No": "943 476 5919",
    "Hosp No": "G4471203",
    "Surname": "Okonkwo",
    "Forename": "Adaeze",
    "DOB": "14/03/1948",
    "Sex": "Female",
    "Postcode": "SW17 0QT",
    "Date of Referral": "12/03/2026",
    "Referral Source": "GP",
    "Referring Org Code": "H85026",
    "Reason Code": "SG.REF.MR.SEVERE",
    "Reason": "Referral: severe mitral regurgitation",
    "Aetiology": "Primary",
    "Priority": "Routine",
    "Referred To": "",
    "Status": "Open",
    "Last Updated": "19/03/2026 16:42",
    "Clinic Notes": '"Seen in valve clinic, for TOE"',
}

HF_HEADER = (
    "PROC_ID;NHS_NUMBER;MRN;SURNAME;FORENAME;DATE_OF_BIRTH;GENDER;PROC_CODE;PROC_DESC;"
    "PROC_DATE;APPROACH;DEVICE;REFERRING_HOSP;REFERRAL_REF;CONSULTANT;THEATRE;OUTCOME;COMMENTS"
)
HF_PROC = "HFP000045"
HF_FIELDS: dict[str, str] = {
    "PROC_ID": HF_PROC,
    "NHS_NUMBER": NHS,
    "MRN": "HH447120",
    "SURNAME": "OKONKWO",
    "FORENAME": "Zoë",
    "DATE_OF_BIRTH": "14-Mar-1948",
    "GENDER": "F",
    "PROC_CODE": "HF/MV/TEER",
    "PROC_DESC": "Mitral transcatheter edge-to-edge repair",
    "PROC_DATE": "14-Apr-2026 09:30",
    "APPROACH": "TRANSSEPTAL",
    "DEVICE": "MitraClip G4",
    "REFERRING_HOSP": "RJ122",
    "REFERRAL_REF": "GST-ORD-000078",
    "CONSULTANT": "Mr A Shah",
    "THEATRE": "CATH LAB 1",
    "OUTCOME": "Completed",
    "COMMENTS": "",
}


def ods_id(code: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"ods|{code}"))


def patient_id(nhs: str = NHS) -> str:
    return str(uuid.uuid5(NAMESPACE, f"nhs-number|{nhs}"))


def local_id(centre: str, res_type: str, key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{centre}|{res_type}|{key}"))


def nhs_number(n: int) -> str:
    """The n-th valid NHS number in the 999 test range (a modulus 11 check digit)."""
    while True:
        base = f"999{n:06d}"
        check = 11 - sum(int(d) * (10 - i) for i, d in enumerate(base)) % 11
        if check == 11:
            return base + "0"
        if check != 10:
            return base + str(check)
        n += 500_000  # no check digit for this one: take one from an unused block


def sg_row(**changes: str) -> str:
    fields = {**SG_FIELDS, **{k.replace("_", " "): v for k, v in changes.items()}}
    return ",".join(fields.values())


def sg_file(*rows: str, header: str = SG_HEADER, bom: bool = True, end: str = "\n") -> bytes:
    text = end.join((header, *rows)) + end
    return (BOM if bom else b"") + text.encode("utf-8")


def hf_row(**changes: str) -> str:
    return ";".join({**HF_FIELDS, **changes}.values())


def hf_file(*rows: str, header: str = HF_HEADER, end: str = "\r\n") -> bytes:
    return (end.join((header, *rows)) + end).encode("cp1252")


async def post(
    client: httpx.AsyncClient, centre: str, body: bytes, name: str | None = None
) -> dict[str, Any]:
    headers = {**CSV, **({"x-source-name": name} if name else {})}
    response = await client.post(
        f"http://testserver/ingest/{centre}", content=body, headers=headers
    )
    assert response.status_code == 200, response.text
    receipt: dict[str, Any] = response.json()
    assert receipt["units"] == receipt["mapped"] + receipt["quarantined"]
    return receipt


def codes(concept: dict[str, Any], system: str) -> list[str]:
    return [c["code"] for c in concept.get("coding", []) if c.get("system") == system]


# ---------------------------------------------------------------------------- St George's


async def test_referral_row_maps_patient_referral_and_diagnosis(
    client: httpx.AsyncClient,
) -> None:
    receipt = await post(client, "st-georges", sg_file(sg_row(Referred_To="RJZ01")))
    mapped_cleanly(receipt)
    assert receipt["detail"][0]["position"] == "line 2"

    [patient] = await search(client, f"Patient?identifier={NHS_SYSTEM}|{NHS}")
    assert patient["id"] == patient_id()
    assert patient["meta"]["profile"][0].endswith("/MV-Patient")
    assert {"system": NHS_SYSTEM, "value": NHS} in patient["identifier"]  # spaces stripped
    assert {"system": "https://fhir.stgeorges.nhs.uk/Id/mrn", "value": "G4471203"} in patient[
        "identifier"
    ]
    assert patient["name"] == [{"family": "Okonkwo", "given": ["Adaeze"]}]
    assert (patient["birthDate"], patient["gender"]) == ("1948-03-14", "female")
    assert patient["address"] == [{"use": "home", "postalCode": "SW17 0QT"}]

    ref = await read(
        client, "ServiceRequest", local_id("st-georges", "ServiceRequest", SG_REFERRAL)
    )
    assert ref["meta"]["profile"][0].endswith("/MV-Referral")
    assert ref["identifier"] == [
        {"system": "https://fhir.stgeorges.nhs.uk/Id/referral", "value": SG_REFERRAL}
    ]
    assert (ref["status"], ref["intent"], ref["priority"]) == ("active", "order", "routine")
    assert ref["authoredOn"] == "2026-03-12"  # a date only: no time invented
    assert ref["subject"] == {"reference": f"Patient/{patient_id()}"}
    assert ref["requester"] == {"reference": f"Organization/{ods_id('H85026')}"}
    assert ref["performer"] == [
        {"reference": f"Organization/{ods_id('RJ7')}"},
        {"reference": f"Organization/{ods_id('RJZ01')}"},
    ]
    categories = {(c["system"], c["code"]) for cat in ref["category"] for c in cat["coding"]}
    assert categories == {
        (REGIONAL + "pathway-stage", "referred"),
        (REGIONAL + "referral-source", "gp"),
    }
    assert codes(ref["code"], SNOMED) == ["308471005"]
    assert codes(ref["reasonCode"][0], SNOMED) == ["48724000"]
    assert codes(ref["reasonCode"][0], ICD10) == ["I34.0"]

    condition = await read(client, "Condition", local_id("st-georges", "Condition", SG_REFERRAL))
    assert ref["reasonReference"] == [{"reference": f"Condition/{condition['id']}"}]
    assert codes(condition["code"], SNOMED) == ["48724000"]
    assert condition["recordedDate"] == "2026-03-12"
    [aetiology] = condition["extension"]
    assert aetiology["url"].endswith("/Extension-MV-MrAetiology")
    assert aetiology["valueCodeableConcept"]["coding"][0]["code"] == "primary"

    [provenance] = await search(client, f"Provenance?target=ServiceRequest/{ref['id']}")
    assert provenance["entity"][0]["what"]["identifier"]["value"] == receipt["detail"][0]["unit"]
    assert provenance["agent"][0]["who"]["identifier"]["value"] == "RJ7"
    trust = await read(client, "Organization", ods_id("RJ7"))
    assert trust["identifier"][0]["value"] == "RJ7"


async def test_same_file_again_is_all_repeats_whatever_its_line_ends(
    client: httpx.AsyncClient,
) -> None:
    rows = (sg_row(), sg_row(Referral_ID="SGH-R-000124", Reason_Code="SG.REF.TR", Aetiology=""))
    first = await post(client, "st-georges", sg_file(*rows))
    mapped_cleanly(first)
    assert first["resources"]["created"] == 5  # one Patient, two referrals and diagnoses
    ref_id = local_id("st-georges", "ServiceRequest", SG_REFERRAL)

    # The same rows without the BOM and with Windows line ends: the same units.
    for body in (sg_file(*rows), sg_file(*rows, bom=False, end="\r\n")):
        again = await post(client, "st-georges", body)
        assert again["repeats"] == again["units"] == 2
        assert again["resources"] == {"created": 0, "updated": 0, "unchanged": 0}
    assert await versions(client, "ServiceRequest", ref_id) == 1
    assert await versions(client, "Patient", patient_id()) == 1
    assert len(await search(client, f"Provenance?target=ServiceRequest/{ref_id}")) == 1


async def test_revised_row_updates_in_place(client: httpx.AsyncClient) -> None:
    mapped_cleanly(await post(client, "st-georges", sg_file(sg_row())))
    revised = sg_row(
        Status="Referred On",
        Referred_To="RJ122",
        Last_Updated="26/03/2026 10:05",
        Priority="Urgent",
    )
    receipt = await post(client, "st-georges", sg_file(revised))
    mapped_cleanly(receipt)
    ref_id = local_id("st-georges", "ServiceRequest", SG_REFERRAL)
    assert receipt["detail"][0]["updated"] == [f"ServiceRequest/{ref_id}"]
    ref = await read(client, "ServiceRequest", ref_id)
    assert ref["meta"]["versionId"] == "2"
    assert (ref["status"], ref["priority"]) == ("active", "urgent")
    assert ref["performer"][1] == {"reference": f"Organization/{ods_id('RJ122')}"}
    assert await versions(client, "Patient", patient_id()) == 1  # unchanged content

    closed = await post(client, "st-georges", sg_file(sg_row(Status="Closed")))
    mapped_cleanly(closed)
    ref = await read(client, "ServiceRequest", ref_id)
    assert (ref["status"], ref["meta"]["versionId"]) == ("completed", "3")
    assert (
        len(await search(client, f"ServiceRequest?identifier={ref['identifier'][0]['value']}")) == 1
    )
    assert len(await search(client, f"Provenance?target=ServiceRequest/{ref_id}")) == 3


SG_BAD = [
    pytest.param({"NHS_No": "943 476 5918"}, "NHS No", "check digit", id="invalid-nhs-number"),
    pytest.param({"Date_of_Referral": "31/02/2026"}, "Date of Referral", "31/02/2026", id="date"),
    pytest.param({"DOB": "14/13/1948"}, "DOB", "14/13/1948", id="invalid-birth-date"),
    pytest.param({"Reason_Code": "SG.REF.AS"}, "Reason Code", "SG.REF.AS", id="unknown-code"),
    pytest.param({"Status": "Pending"}, "Status", "Pending", id="unknown-status"),
    pytest.param({"Referral_Source": "A&E"}, "Referral Source", "A&E", id="unknown-source"),
    pytest.param({"Aetiology": "Rheumatic"}, "Aetiology", "Rheumatic", id="unknown-aetiology"),
    pytest.param({"Referral_ID": ""}, "Referral ID", "required", id="no-referral-id"),
    pytest.param({"Referring_Org_Code": ""}, "Referring Org Code", "required", id="no-referrer"),
]


@pytest.mark.parametrize(("changes", "column", "detail"), SG_BAD)
async def test_bad_referral_row_is_quarantined_with_the_column_named(
    client: httpx.AsyncClient, changes: dict[str, str], column: str, detail: str
) -> None:
    receipt = await post(client, "st-georges", sg_file(sg_row(**changes)))
    assert receipt["quarantined"] == receipt["units"] == 1
    [unit] = receipt["detail"]
    text = diagnostics(unit)
    assert f"{column} (line 2)" in text and detail in text, text
    assert await search(client, "ServiceRequest") == []

    listed = (await client.get("http://testserver/ingest/quarantine?centre=st-georges")).json()
    assert [u["unit"] for u in listed["units"]] == [unit["unit"]]
    replay = await client.post(f"http://testserver/ingest/units/{unit['unit']}/replay")
    assert replay.status_code == 200, replay.text
    [again] = replay.json()["units"]
    assert again["status"] == "quarantined"
    assert column in diagnostics(again)


async def test_file_level_problems_quarantine_the_file_as_one_unit(
    client: httpx.AsyncClient,
) -> None:
    renamed = SG_HEADER.replace("NHS No", "NHS Number")
    cases = [
        (sg_file(sg_row(), header=renamed), "lacks required column(s) NHS No"),
        (sg_file(sg_row().replace(",", ";"), header=SG_HEADER.replace(",", ";")), "';'"),
        (BOM + b"\n \n", "the file is empty"),
        (b"", "the file is empty"),
    ]
    for body, detail in cases:
        receipt = await post(client, "st-georges", body)
        assert receipt["quarantined"] == receipt["units"] == 1, receipt
        assert detail in diagnostics(receipt["detail"][0]), diagnostics(receipt["detail"][0])
        assert "line 1" in diagnostics(receipt["detail"][0])
    listed = (await client.get("http://testserver/ingest/quarantine?centre=st-georges")).json()
    assert len(listed["units"]) == 4
    assert await search(client, "Patient") == []


async def test_short_row_is_quarantined_alone_and_counts_add_up(
    client: httpx.AsyncClient,
) -> None:
    short = ",".join(sg_row(Referral_ID="SGH-R-000125").split(",")[:12])
    body = sg_file(
        sg_row(),
        short,
        sg_row(Referral_ID="SGH-R-000126", NHS_No="943 476 5918"),
        sg_row(Referral_ID="SGH-R-000127", Reason_Code="SG.REF.MVP"),
    )
    receipt = await post(client, "st-georges", body)
    assert (receipt["units"], receipt["mapped"], receipt["quarantined"]) == (4, 2, 2)
    statuses = [(u["position"], u["status"]) for u in receipt["detail"]]
    assert statuses == [
        ("line 2", "mapped"),
        ("line 3", "quarantined"),
        ("line 4", "quarantined"),
        ("line 5", "mapped"),
    ]
    assert "line 3 has 12 cells, fewer than the 19 columns" in diagnostics(receipt["detail"][1])
    assert len(await search(client, "ServiceRequest")) == 2

    # The short row, replayed alone from the log, is still short.
    replay = await client.post(
        f"http://testserver/ingest/units/{receipt['detail'][1]['unit']}/replay"
    )
    [again] = replay.json()["units"]
    assert again["status"] == "quarantined"
    assert "12 cells" in diagnostics(again)


async def test_extra_column_maps_but_is_reported_unread(client: httpx.AsyncClient) -> None:
    body = sg_file(sg_row() + ",Ward 3", header=SG_HEADER + ",Ward")
    receipt = await post(client, "st-georges", body)
    assert receipt["mapped"] == 1
    text = diagnostics(receipt["detail"][0])
    assert "not mapped and not declared ignored" in text and "Ward" in text, text
    assert len(await search(client, "ServiceRequest")) == 1


async def test_missing_optional_column_reads_as_empty(client: httpx.AsyncClient) -> None:
    header = SG_HEADER.replace(",Postcode", "")
    row = ",".join(v for k, v in SG_FIELDS.items() if k != "Postcode")
    mapped_cleanly(await post(client, "st-georges", sg_file(row, header=header)))
    patient = await read(client, "Patient", patient_id())
    assert "address" not in patient
    assert patient["birthDate"] == "1948-03-14"


async def test_wrong_content_type_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "http://testserver/ingest/st-georges",
        content=sg_file(sg_row()),
        headers={"content-type": "x-application/hl7-v2+er7"},
    )
    assert response.status_code == 415
    assert "st-georges sends csv" in response.text


# ------------------------------------------------------------------------------ Harefield


async def test_procedure_row_maps_patient_and_procedure(client: httpx.AsyncClient) -> None:
    receipt = await post(client, "harefield", hf_file(hf_row()))
    mapped_cleanly(receipt)

    patient = await read(client, "Patient", patient_id())
    assert patient["name"] == [{"family": "OKONKWO", "given": ["Zoë"]}]  # Windows-1252 read
    assert {"system": "https://fhir.harefield.nhs.uk/Id/mrn", "value": "HH447120"} in patient[
        "identifier"
    ]
    assert (patient["birthDate"], patient["gender"]) == ("1948-03-14", "female")

    done = await read(client, "Procedure", local_id("harefield", "Procedure", HF_PROC))
    assert done["meta"]["profile"][0].endswith("/MV-Procedure")
    assert done["identifier"] == [
        {"system": "https://fhir.harefield.nhs.uk/Id/procedure", "value": HF_PROC}
    ]
    assert done["status"] == "completed"
    assert codes(done["code"], SNOMED) == ["865051000000105"]
    assert codes(done["code"], OPCS)[0] == "K35.8"
    assert codes(done["code"], REGIONAL + "local-harefield") == ["HF/MV/TEER"]
    assert done["performedDateTime"] == "2026-04-14T09:30:00+01:00"  # BST
    assert done["subject"] == {"reference": f"Patient/{patient_id()}"}
    operator = local_id("harefield", "Practitioner", "Mr A Shah")
    assert done["performer"] == [
        {
            "actor": {"reference": f"Organization/{ods_id('RJ181')}"},
            "onBehalfOf": {"reference": f"Organization/{ods_id('RJ1')}"},
        },
        {
            "actor": {"reference": f"Practitioner/{operator}"},
            "onBehalfOf": {"reference": f"Organization/{ods_id('RJ1')}"},
        },
    ]
    surgeon = await read(client, "Practitioner", operator)
    assert surgeon["name"] == [{"text": "Mr A Shah"}]
    assert surgeon["identifier"] == [
        {"system": "https://fhir.harefield.nhs.uk/Id/consultant-name", "value": "Mr A Shah"}
    ]
    assert done["basedOn"] == [
        {
            "identifier": {
                "system": "https://fhir.gstt.nhs.uk/Id/order",
                "value": "GST-ORD-000078",
            },
            "display": "GST-ORD-000078",
        }
    ]
    [approach] = done["extension"]
    assert approach["url"].endswith("/Extension-MV-SurgicalApproach")
    assert approach["valueCodeableConcept"]["coding"][0]["code"] == "transseptal"
    assert codes(done["usedCode"][0], SNOMED) == ["464887003"]

    [provenance] = await search(client, f"Provenance?target=Procedure/{done['id']}")
    assert provenance["entity"][0]["what"]["identifier"]["value"] == receipt["detail"][0]["unit"]


async def test_surgical_repair_and_tricuspid_annuloplasty(client: httpx.AsyncClient) -> None:
    repair = hf_row(
        PROC_ID="HFP000046",
        PROC_CODE="HF/MV/REPAIR",
        PROC_DATE="02-Dec-2025 10:15",
        APPROACH="STERNOTOMY",
        DEVICE="Physio II ring",
        REFERRING_HOSP="RJZ01",
        REFERRAL_REF="KCH-ORD-000023",
    )
    annuloplasty = hf_row(
        PROC_ID="HFP000047",
        PROC_CODE="HF/TV/ANNULO/TC",
        APPROACH="",
        DEVICE="",
        REFERRING_HOSP="R1H",
        REFERRAL_REF="BHC-ORD-000009",
        OUTCOME="Abandoned",
        COMMENTS="Converted to sternotomy",
    )
    mapped_cleanly(await post(client, "harefield", hf_file(repair, annuloplasty)))

    done = await read(client, "Procedure", local_id("harefield", "Procedure", "HFP000046"))
    assert codes(done["code"], SNOMED) == []  # no SNOMED CT code for surgical repair
    assert codes(done["code"], OPCS) == ["K25.5"]
    assert done["performedDateTime"] == "2025-12-02T10:15:00+00:00"  # GMT
    assert done["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "sternotomy"
    assert codes(done["usedCode"][0], SNOMED) == ["716779003"]
    assert done["basedOn"][0]["identifier"]["system"] == "https://fhir.kch.nhs.uk/Id/order"

    stopped = await read(client, "Procedure", local_id("harefield", "Procedure", "HFP000047"))
    assert stopped["status"] == "stopped"
    assert codes(stopped["code"], SNOMED) == ["1255141008"]
    assert "extension" not in stopped and "usedCode" not in stopped
    assert (
        stopped["basedOn"][0]["identifier"]["system"] == "https://fhir.bartshealth.nhs.uk/Id/order"
    )


async def test_corrected_procedure_updates_in_place(client: httpx.AsyncClient) -> None:
    mapped_cleanly(await post(client, "harefield", hf_file(hf_row())))
    again = await post(client, "harefield", hf_file(hf_row()))
    assert again["repeats"] == 1
    proc_id = local_id("harefield", "Procedure", HF_PROC)
    assert await versions(client, "Procedure", proc_id) == 1

    corrected = hf_row(PROC_DATE="15-Apr-2026 08:45", APPROACH="TRANSFEMORAL")
    receipt = await post(client, "harefield", hf_file(corrected))
    mapped_cleanly(receipt)
    assert receipt["detail"][0]["updated"] == [f"Procedure/{proc_id}"]
    done = await read(client, "Procedure", proc_id)
    assert done["meta"]["versionId"] == "2"
    assert done["performedDateTime"] == "2026-04-15T08:45:00+01:00"
    assert done["extension"][0]["valueCodeableConcept"]["coding"][0]["code"] == "transfemoral"
    assert await versions(client, "Patient", patient_id()) == 1


HF_BAD = [
    pytest.param({"NHS_NUMBER": "9434765918"}, "NHS_NUMBER", "check digit", id="invalid-nhs"),
    pytest.param({"PROC_DATE": "31-Feb-2026 09:30"}, "PROC_DATE", "31-Feb-2026", id="date"),
    pytest.param({"DATE_OF_BIRTH": "1948-03-14"}, "DATE_OF_BIRTH", "1948-03-14", id="dob-format"),
    pytest.param({"PROC_CODE": "HF/AV/TAVI"}, "PROC_CODE", "HF/AV/TAVI", id="unknown-code"),
    pytest.param({"OUTCOME": "Postponed"}, "OUTCOME", "Postponed", id="unknown-outcome"),
    pytest.param({"APPROACH": "TRANSAORTIC"}, "APPROACH", "TRANSAORTIC", id="unknown-approach"),
    pytest.param({"DEVICE": "Evoque"}, "DEVICE", "Evoque", id="unknown-device"),
    pytest.param({"REFERRING_HOSP": "RAX"}, "REFERRING_HOSP", "RAX", id="unknown-hub"),
]


@pytest.mark.parametrize(("changes", "column", "detail"), HF_BAD)
async def test_bad_procedure_row_is_quarantined_with_the_column_named(
    client: httpx.AsyncClient, changes: dict[str, str], column: str, detail: str
) -> None:
    body = hf_file(hf_row(PROC_ID="HFP000050"), hf_row(**changes))
    receipt = await post(client, "harefield", body)
    assert (receipt["mapped"], receipt["quarantined"]) == (1, 1)
    bad = receipt["detail"][1]
    text = diagnostics(bad)
    assert f"{column} (line 3)" in text and detail in text, text
    assert [p["id"] for p in await search(client, "Procedure")] == [
        local_id("harefield", "Procedure", "HFP000050")
    ]
    listed = (await client.get("http://testserver/ingest/quarantine?centre=harefield")).json()
    assert [u["unit"] for u in listed["units"]] == [bad["unit"]]
    replay = await client.post(f"http://testserver/ingest/units/{bad['unit']}/replay")
    assert replay.json()["units"][0]["status"] == "quarantined"


async def test_harefield_file_problems(client: httpx.AsyncClient) -> None:
    cases = [
        # Sent as UTF-8 with a BOM: read as Windows-1252, the first column is not PROC_ID.
        (BOM + hf_file(hf_row()), "lacks required column(s) PROC_ID"),
        (hf_file(hf_row().replace(";", ","), header=HF_HEADER.replace(";", ",")), "','"),
        (hf_file(hf_row(), header=HF_HEADER.replace("OUTCOME", "RESULT")), "OUTCOME"),
    ]
    for body, detail in cases:
        receipt = await post(client, "harefield", body)
        assert receipt["quarantined"] == receipt["units"] == 1, receipt
        assert detail in diagnostics(receipt["detail"][0]), diagnostics(receipt["detail"][0])

    # Unix line ends are read the same as Windows ones.
    mapped_cleanly(await post(client, "harefield", hf_file(hf_row(), end="\n")))
    assert len(await search(client, "Procedure")) == 1


async def test_a_large_extract_maps_every_row(client: httpx.AsyncClient) -> None:
    # 1,000 rows (~200 KB, under the test app's body limit): twenty write chunks and five log
    # batches; throughput is the benchmark's job.
    rows = [
        hf_row(
            PROC_ID=f"HFP{n:06d}",
            NHS_NUMBER=nhs_number(n % 200),
            MRN=f"HH{n % 200:06d}",
            PROC_DATE=f"{1 + n % 28:02d}-Mar-2026 {8 + n % 9:02d}:15",
        )
        for n in range(1_000)
    ]
    receipt = await post(client, "harefield", hf_file(*rows))
    assert (receipt["units"], receipt["mapped"], receipt["quarantined"]) == (1_000, 1_000, 0)
    assert receipt["resources"]["created"] == 1_201  # procedures, patients, one consultant
    response = await client.get("Procedure?_summary=count")
    assert response.json()["total"] == 1_000


# ------------------------------------------------------------------------ synthetic feeds


@pytest.mark.parametrize("centre", ["st-georges", "harefield"])
async def test_synthetic_feed_maps_cleanly_and_quarantines_only_the_bad_rows(
    client: httpx.AsyncClient, centre: str
) -> None:
    manifest = json.loads((FEEDS / "manifest.json").read_text())["centres"][centre]
    bad = {(u["file"], u["position"]) for u in manifest["bad_units"]}
    units = 0
    quarantined: set[tuple[str, str]] = set()
    for name in manifest["files"]:
        receipt = await post(client, centre, (FEEDS / centre / name).read_bytes(), name)
        units += receipt["units"]
        for unit in receipt["detail"]:
            if unit["status"] == "quarantined":
                assert unit["position"] in diagnostics(unit)
                quarantined.add((name, unit["position"]))
            else:
                assert "outcome" not in unit, unit["outcome"]  # nothing unread or invalid
    assert units == manifest["units"]
    assert quarantined == bad
