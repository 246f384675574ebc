"""The FHIR centres end to end: st-thomas and royal-brompton transaction Bundles and
hammersmith polled resources posted to ``/ingest/<centre>`` through their mappings, read back
with FHIR searches. Inputs follow docs/centres.md ("FHIR centres")."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import orjson
import pytest

from app.ingest.mapping.engine import NAMESPACE

FHIR_JSON = {"content-type": "application/fhir+json"}
NHS_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
ODS_ORG = "https://fhir.nhs.uk/Id/ods-organization-code"
ODS_SITE = "https://fhir.nhs.uk/Id/ods-site-code"
SNOMED = "http://snomed.info/sct"
OPCS = "http://fhir.hl7.org.uk/CodeSystem/OPCS-4"
ICD10 = "http://hl7.org/fhir/sid/icd-10-uk"
MV = "https://fhir.southlondon-mitral.nhs.uk/StructureDefinition/"
REGIONAL = "https://fhir.southlondon-mitral.nhs.uk/CodeSystem/"

GSTT = "https://fhir.gstt.nhs.uk/Id/"
EPIC = "http://epic.gstt.nhs.uk/codes/"
RBHT = "https://fhir.rbht.nhs.uk/Id/"
RBHT_CS = "https://fhir.rbht.nhs.uk/CodeSystem/"
IMP = "https://fhir.imperial.nhs.uk/Id/"
IMP_CS = "https://fhir.imperial.nhs.uk/CodeSystem/"

NHS = "9434765919"
OTHER_NHS = "4857773457"
PATIENT_URL = "urn:uuid:5a0c1f5e-8d43-4f55-9a52-3e4c3b0f6a01"


def ods_id(code: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"ods|{code}"))


def patient_id(nhs: str = NHS) -> str:
    return str(uuid.uuid5(NAMESPACE, f"nhs-number|{nhs}"))


def local_id(centre: str, res_type: str, key: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{centre}|{res_type}|{key}"))


def subject(nhs: str = NHS, reference: str = PATIENT_URL) -> dict[str, Any]:
    return {"reference": reference, "identifier": {"system": NHS_SYSTEM, "value": nhs}}


def patient(
    mrn_system: str,
    mrn: str,
    *,
    nhs: str = NHS,
    family: str = "Okonkwo",
    born: str = "1948-03-14",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [
            {"system": NHS_SYSTEM, "value": nhs},
            {"system": mrn_system, "value": mrn},
        ],
        "name": [{"use": "official", "family": family, "given": ["Adaeze"], "prefix": ["Mrs"]}],
        "gender": "female",
        "birthDate": born,
        "address": [{"line": ["12 Acre Lane"], "city": "London", "postalCode": "SW2 5SG"}],
        "telecom": [{"system": "phone", "value": "020 7946 0000"}],
        **extra,
    }


def referral(
    ids: str,
    codes: str,
    ref_id: str,
    *,
    reason: str,
    status: str = "active",
    nhs: str = NHS,
    reference: str = PATIENT_URL,
    authored: str = "2026-03-12T09:30:00+00:00",
) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "identifier": [
            {"system": ids + "referral", "value": ref_id},
            {"system": "https://fhir.nhs.uk/Id/UBRN", "value": "000012345678"},
        ],
        "status": status,
        "intent": "order",
        "priority": "routine",
        "category": [{"coding": [{"system": codes + "referral-source", "code": "GP"}]}],
        "subject": subject(nhs, reference),
        "authoredOn": authored,
        "requester": {
            "identifier": {"system": ODS_ORG, "value": "G85011"},
            "display": "Lambeth Walk Group Practice",
        },
        "reasonCode": [{"coding": [{"system": codes + "referral-reason", "code": reason}]}],
    }


def entry(resource: dict[str, Any], full_url: str | None = None) -> dict[str, Any]:
    if resource["resourceType"] == "Patient":
        mrn = resource["identifier"][1]
        url = f"Patient?identifier={mrn['system']}|{mrn['value']}"
        request = {"method": "PUT", "url": url}
    else:
        request = {"method": "POST", "url": resource["resourceType"]}
    return {
        "fullUrl": full_url
        or f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, orjson.dumps(resource).decode())}",
        "resource": resource,
        "request": request,
    }


def bundle(bundle_system: str, number: int, *entries: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "identifier": {"system": bundle_system, "value": f"B{number:06d}"},
            "timestamp": "2026-03-12T09:31:00+00:00",
            "entry": list(entries),
        }
    )


async def post(client: httpx.AsyncClient, centre: str, body: bytes) -> dict[str, Any]:
    response = await client.post(
        f"http://testserver/ingest/{centre}", content=body, headers=FHIR_JSON
    )
    assert response.status_code == 200, response.text
    receipt: dict[str, Any] = response.json()
    assert receipt["units"] == receipt["mapped"] + receipt["quarantined"]
    return receipt


async def one(client: httpx.AsyncClient, query: str) -> dict[str, Any]:
    found = (await client.get(query)).json()
    assert found.get("total", len(found.get("entry", []))) == 1, found
    resource: dict[str, Any] = found["entry"][0]["resource"]
    return resource


async def versions(client: httpx.AsyncClient, res_type: str, res_id: str) -> int:
    history = (await client.get(f"{res_type}/{res_id}/_history")).json()
    return len(history["entry"])


def diagnostics(unit: dict[str, Any]) -> str:
    return " | ".join(i.get("diagnostics", "") for i in unit["outcome"]["issue"])


def assert_clean(receipt: dict[str, Any]) -> None:
    """Every unit mapped with no warning: nothing unread and undeclared, all valid."""
    assert receipt["quarantined"] == 0, receipt
    for unit in receipt["detail"]:
        assert "outcome" not in unit, diagnostics(unit)


def codes_of(concept: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for c in concept["coding"]}


# -- st-thomas ------------------------------------------------------------------------------

ST_PATIENT = patient(GSTT + "mrn", "GST4471203")
GST_REF = "GST-REF-000123"
GST_ORDER = "GST-ORD-000078"


def st_referral(number: int = 1, **changes: Any) -> bytes:
    reason = changes.pop("reason", "RR-MR")
    return bundle(
        GSTT + "bundle",
        number,
        entry(changes.pop("patient", ST_PATIENT), PATIENT_URL),
        entry(referral(GSTT, EPIC, GST_REF, reason=reason, **changes)),
    )


def st_mdt(outcome: str = "TRANSCATHETER_REPAIR", procedure: str = "MV-TEER") -> bytes:
    encounter = {
        "resourceType": "Encounter",
        "extension": [
            {
                "url": "http://epic.gstt.nhs.uk/fhir/StructureDefinition/mdt-outcome",
                "valueCodeableConcept": {
                    "coding": [{"system": EPIC + "mdt-outcome", "code": outcome}]
                },
            },
            {
                "url": "http://epic.gstt.nhs.uk/fhir/StructureDefinition/mr-aetiology",
                "valueCodeableConcept": {
                    "coding": [{"system": EPIC + "mr-aetiology", "code": "PRIMARY"}]
                },
            },
        ],
        "identifier": [{"system": GSTT + "encounter", "value": "GST-ENC-000311"}],
        "status": "finished",
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "AMB",
        },
        "type": [{"coding": [{"system": EPIC + "clinic", "code": "CL-MDT"}]}],
        "subject": subject(),
        "basedOn": [{"identifier": {"system": GSTT + "referral", "value": GST_REF}}],
        "period": {"start": "2026-04-02T14:00:00+01:00", "end": "2026-04-02T14:30:00+01:00"},
    }
    order = {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": GSTT + "order", "value": GST_ORDER}],
        "status": "active",
        "intent": "order",
        "code": {"coding": [{"system": EPIC + "procedure", "code": procedure}]},
        "subject": subject(),
        "basedOn": [{"identifier": {"system": GSTT + "referral", "value": GST_REF}}],
        "authoredOn": "2026-04-02T15:30:00+01:00",
        "performer": [{"identifier": {"system": ODS_SITE, "value": "RJ181"}}],
    }
    return bundle(
        GSTT + "bundle",
        2,
        entry(ST_PATIENT, PATIENT_URL),
        entry(encounter),
        entry(order),
    )


def st_procedure(
    code: str = "MV-TEER", *, order: tuple[str, str] = (GSTT + "order", GST_ORDER)
) -> bytes:
    procedure = {
        "resourceType": "Procedure",
        "identifier": [{"system": GSTT + "procedure", "value": "GST-PRC-000045"}],
        "status": "completed",
        "code": {"coding": [{"system": EPIC + "procedure", "code": code}]},
        "subject": subject(),
        "performedDateTime": "2026-04-14T09:30:00+01:00",
        "basedOn": [{"identifier": {"system": order[0], "value": order[1]}}],
    }
    return bundle(GSTT + "bundle", 3, entry(ST_PATIENT, PATIENT_URL), entry(procedure))


async def test_st_thomas_referral_bundle_maps_patient_referral_and_diagnosis(
    client: httpx.AsyncClient,
) -> None:
    receipt = await post(client, "st-thomas", st_referral())
    assert_clean(receipt)
    assert receipt["mapped"] == 1

    found = await one(client, f"Patient?identifier={NHS_SYSTEM}|{NHS}")
    assert found["id"] == patient_id()
    assert found["meta"]["profile"] == [MV + "MV-Patient"]
    assert {"system": GSTT + "mrn", "value": "GST4471203"} in found["identifier"]
    assert found["name"][0]["family"] == "Okonkwo"
    assert (found["birthDate"], found["gender"]) == ("1948-03-14", "female")
    assert "telecom" not in found

    request = await one(client, f"ServiceRequest?identifier={GSTT}referral|{GST_REF}")
    assert request["id"] == local_id("st-thomas", "ServiceRequest", GST_REF)
    assert request["meta"]["profile"] == [MV + "MV-Referral"]
    assert {"system": "https://fhir.nhs.uk/Id/UBRN", "value": "000012345678"} in (
        request["identifier"]
    )
    assert request["subject"]["reference"] == f"Patient/{patient_id()}"
    assert request["authoredOn"] == "2026-03-12T09:30:00+00:00"
    assert request["requester"]["reference"] == f"Organization/{ods_id('G85011')}"
    assert request["performer"] == [{"reference": f"Organization/{ods_id('RJ1')}"}]
    categories = set().union(*(codes_of(c) for c in request["category"]))
    assert categories == {
        (REGIONAL + "pathway-stage", "referred"),
        (REGIONAL + "referral-source", "gp"),
    }
    assert codes_of(request["reasonCode"][0]) == {(SNOMED, "48724000"), (ICD10, "I34.0")}

    condition = await one(client, f"Condition?subject=Patient/{patient_id()}")
    assert request["reasonReference"] == [{"reference": f"Condition/{condition['id']}"}]
    assert (SNOMED, "48724000") in codes_of(condition["code"])

    provenance = await one(client, f"Provenance?target=ServiceRequest/{request['id']}")
    assert provenance["agent"][0]["who"]["reference"] == f"Organization/{ods_id('RJ1')}"


async def test_st_thomas_same_bundle_twice_is_a_repeat_and_a_resend_updates_in_place(
    client: httpx.AsyncClient,
) -> None:
    await post(client, "st-thomas", st_referral())
    again = await post(client, "st-thomas", st_referral())
    assert again["repeats"] == again["units"] == 1
    referral_id = local_id("st-thomas", "ServiceRequest", GST_REF)
    assert await versions(client, "ServiceRequest", referral_id) == 1
    assert await versions(client, "Patient", patient_id()) == 1

    # The same content in a new Bundle (new identifier): mapped again, nothing changes.
    resent = await post(client, "st-thomas", st_referral(5))
    assert resent["repeats"] == 0 and resent["resources"]["updated"] == 0
    assert await versions(client, "ServiceRequest", referral_id) == 1

    # The referral closed after treatment: the same ServiceRequest, version 2.
    closed = await post(client, "st-thomas", st_referral(6, status="completed"))
    assert_clean(closed)
    assert closed["detail"][0]["updated"] == [f"ServiceRequest/{referral_id}"]
    current = (await client.get(f"ServiceRequest/{referral_id}")).json()
    assert (current["status"], current["meta"]["versionId"]) == ("completed", "2")
    assert await versions(client, "Patient", patient_id()) == 1


async def test_st_thomas_mdt_bundle_maps_encounter_and_intervention_order(
    client: httpx.AsyncClient,
) -> None:
    assert_clean(await post(client, "st-thomas", st_referral()))
    assert_clean(await post(client, "st-thomas", st_mdt()))
    referral_ref = f"ServiceRequest/{local_id('st-thomas', 'ServiceRequest', GST_REF)}"

    encounter = await one(client, f"Encounter?identifier={GSTT}encounter|GST-ENC-000311")
    stages = set().union(*(codes_of(t) for t in encounter["type"]))
    assert (REGIONAL + "pathway-stage", "heart-team-review") in stages
    assert ("https://fhir.southlondon-mitral.nhs.uk/CodeSystem/local-st-thomas", "CL-MDT") in (
        stages
    )
    assert encounter["class"]["code"] == "AMB"
    assert encounter["basedOn"] == [{"reference": referral_ref}]
    assert encounter["serviceProvider"]["reference"] == f"Organization/{ods_id('RJ1')}"
    assert encounter["period"]["start"] == "2026-04-02T14:00:00+01:00"
    outcome = {
        e["url"].rsplit("-", 1)[-1]: e["valueCodeableConcept"] for e in encounter["extension"]
    }
    assert codes_of(outcome["MdtOutcome"]) == {(REGIONAL + "mdt-outcome", "transcatheter-repair")}
    assert codes_of(outcome["MrAetiology"]) == {(REGIONAL + "mr-aetiology", "primary")}

    order = await one(client, f"ServiceRequest?identifier={GSTT}order|{GST_ORDER}")
    assert order["meta"]["profile"] == [MV + "MV-InterventionRequest"]
    assert order["basedOn"] == [{"reference": referral_ref}]
    assert codes_of(order["category"][0]) == {(REGIONAL + "pathway-stage", "decision")}
    assert {(SNOMED, "865051000000105"), (OPCS, "K35.8")} <= codes_of(order["code"])
    assert order["performer"] == [{"reference": f"Organization/{ods_id('RJ181')}"}]
    assert order["requester"]["reference"] == f"Organization/{ods_id('RJ1')}"


async def test_st_thomas_procedure_has_snomed_and_opcs_and_its_order(
    client: httpx.AsyncClient,
) -> None:
    assert_clean(await post(client, "st-thomas", st_procedure()))
    found = await one(client, f"Procedure?identifier={GSTT}procedure|GST-PRC-000045")
    assert found["meta"]["profile"] == [MV + "MV-Procedure"]
    assert {(SNOMED, "865051000000105"), (OPCS, "K35.8"), (OPCS, "Z32.1")} <= codes_of(
        found["code"]
    )
    order_id = local_id("st-thomas", "ServiceRequest", GST_ORDER)
    assert found["basedOn"] == [{"reference": f"ServiceRequest/{order_id}"}]
    assert found["performedDateTime"] == "2026-04-14T09:30:00+01:00"
    [performer] = found["performer"]
    assert performer["actor"]["reference"] == f"Organization/{ods_id('RJ122')}"
    assert performer["onBehalfOf"]["reference"] == f"Organization/{ods_id('RJ1')}"


async def test_st_thomas_surgical_repair_maps_with_opcs_only(client: httpx.AsyncClient) -> None:
    """Mitral valve repair has no SNOMED CT code in the ConceptMap: OPCS-4 K25.5 alone."""
    assert_clean(await post(client, "st-thomas", st_procedure("MVR-REP")))
    found = await one(client, f"Procedure?identifier={GSTT}procedure|GST-PRC-000045")
    systems = {c["system"] for c in found["code"]["coding"]}
    assert SNOMED not in systems
    assert (OPCS, "K25.5") in codes_of(found["code"])


async def test_st_thomas_procedure_for_another_hubs_order_keeps_its_identifier(
    client: httpx.AsyncClient,
) -> None:
    order = ("https://fhir.kch.nhs.uk/Id/order", "KCH-ORD-000078")
    assert_clean(await post(client, "st-thomas", st_procedure(order=order)))
    found = await one(client, f"Procedure?identifier={GSTT}procedure|GST-PRC-000045")
    assert found["basedOn"] == [{"identifier": {"system": order[0], "value": order[1]}}]


def _entry_without_resource() -> bytes:
    body = orjson.loads(st_referral())
    del body["entry"][1]["resource"]
    return orjson.dumps(body)


def _document_bundle() -> bytes:
    body = orjson.loads(st_referral())
    body["type"] = "document"
    return orjson.dumps(body)


BAD = [
    pytest.param(b'{"resourceType": "Bundle", "type": "trans', "not JSON", id="not-json"),
    pytest.param(_document_bundle(), "Bundle.type 'document'", id="wrong-bundle-type"),
    pytest.param(_entry_without_resource(), "Bundle.entry[1] has no resource", id="no-resource"),
    pytest.param(
        st_procedure("MVR-TAVI"),
        "'MVR-TAVI' is not a st-thomas local code",
        id="unknown-code",
    ),
    pytest.param(
        st_referral(reason="RR-AS"), "'RR-AS' is not a st-thomas local code", id="unknown-reason"
    ),
    pytest.param(
        st_referral(patient=patient(GSTT + "mrn", "GST4471203", nhs="9434765918")),
        "identifier.where(system = 'https://fhir.nhs.uk/Id/nhs-number').value",
        id="invalid-nhs-number",
    ),
    pytest.param(
        st_referral(patient=patient(GSTT + "mrn", "GST4471203", born="1948-02-30")),
        "1948-02-30",
        id="invalid-date",
    ),
    pytest.param(
        st_referral(authored="2026-13-01T09:30:00+00:00"),
        "authoredOn",
        id="invalid-datetime",
    ),
]


@pytest.mark.parametrize(("body", "detail"), BAD)
async def test_st_thomas_bad_bundle_is_quarantined_whole_with_the_reason(
    client: httpx.AsyncClient, body: bytes, detail: str
) -> None:
    receipt = await post(client, "st-thomas", body)
    assert receipt["quarantined"] == receipt["units"] == 1
    [unit] = receipt["detail"]
    text = diagnostics(unit)
    assert detail in text, text
    # All or nothing: the Bundle's good Patient entry was not written either.
    assert not (await client.get("Patient")).json().get("entry")

    listed = (await client.get("http://testserver/ingest/quarantine?centre=st-thomas")).json()
    assert [u["unit"] for u in listed["units"]] == [unit["unit"]]
    replay = await client.post(f"http://testserver/ingest/units/{unit['unit']}/replay")
    assert replay.status_code == 200, replay.text
    [again] = replay.json()["units"]
    assert again["status"] == "quarantined"
    assert detail in diagnostics(again)


async def test_st_thomas_patient_update_bundle_updates_the_patient(
    client: httpx.AsyncClient,
) -> None:
    assert_clean(await post(client, "st-thomas", st_referral()))
    died = patient(GSTT + "mrn", "GST4471203", deceasedDateTime="2026-06-11T04:10:00+01:00")
    update = await post(client, "st-thomas", bundle(GSTT + "bundle", 7, entry(died, PATIENT_URL)))
    assert_clean(update)
    assert update["detail"][0]["updated"] == [f"Patient/{patient_id()}"]
    current = (await client.get(f"Patient/{patient_id()}")).json()
    assert (current["deceasedDateTime"], current["meta"]["versionId"]) == (
        "2026-06-11T04:10:00+01:00",
        "2",
    )


async def test_st_thomas_element_nobody_maps_is_reported_not_dropped_silently(
    client: httpx.AsyncClient,
) -> None:
    with_note = patient(GSTT + "mrn", "GST4471203", maritalStatus={"text": "Widowed"})
    receipt = await post(client, "st-thomas", bundle(GSTT + "bundle", 8, entry(with_note)))
    assert receipt["mapped"] == 1
    text = diagnostics(receipt["detail"][0])
    assert "not declared ignored in mappings/st-thomas.yaml: Patient.maritalStatus" in text


async def test_st_thomas_unknown_resource_type_is_quarantined(client: httpx.AsyncClient) -> None:
    flag = {"resourceType": "Flag", "status": "active", "code": {"text": "x"}, "subject": subject()}
    receipt = await post(client, "st-thomas", bundle(GSTT + "bundle", 9, entry(flag)))
    assert receipt["quarantined"] == 1
    assert "resource type 'Flag' is not mapped" in diagnostics(receipt["detail"][0])


async def test_st_thomas_good_and_bad_bundles_keep_count(client: httpx.AsyncClient) -> None:
    for body in (st_referral(), st_procedure("MVR-TAVI"), st_mdt()):
        await post(client, "st-thomas", body)
    log = (await client.get("http://testserver/ingest/units?centre=st-thomas")).json()
    assert log["counts"].get("mapped") == 2 and log["counts"].get("quarantined") == 1


# -- royal-brompton -------------------------------------------------------------------------

RB_PATIENT = patient(RBHT + "mrn", "RBH447120", nhs=OTHER_NHS, family="Shah")
RB_REF = "RBH-REF-000042"


def rb_bundle(number: int, *resources: dict[str, Any]) -> bytes:
    return bundle(
        RBHT + "bundle",
        number,
        entry(RB_PATIENT, PATIENT_URL),
        *(entry(r) for r in resources),
    )


def rb_procedure(code: str = "RBH-TEER", performed: str = "2026-05-20T08:45:00Z") -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "identifier": [{"system": RBHT + "procedure", "value": "RBH-PRC-000007"}],
        "status": "completed",
        "code": {"coding": [{"system": RBHT_CS + "procedure", "code": code}]},
        "subject": subject(OTHER_NHS),
        "performedDateTime": performed,
        "basedOn": [{"display": GST_ORDER}],
    }


async def test_royal_brompton_referral_clinic_and_procedure(client: httpx.AsyncClient) -> None:
    ref = referral(RBHT, RBHT_CS, RB_REF, reason="RBH-R-MVTV", nhs=OTHER_NHS)
    clinic = {
        "resourceType": "Encounter",
        "identifier": [{"system": RBHT + "encounter", "value": "RBH-ENC-000019"}],
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "type": [{"coding": [{"system": RBHT_CS + "clinic", "code": "RBH-C-VLV"}]}],
        "subject": subject(OTHER_NHS),
        "basedOn": [{"identifier": {"system": RBHT + "referral", "value": RB_REF}}],
        "period": {"start": "2026-04-01T10:00:00Z", "end": "2026-04-01T10:40:00Z"},
    }
    for body in (rb_bundle(1, ref), rb_bundle(2, clinic), rb_bundle(3, rb_procedure())):
        assert_clean(await post(client, "royal-brompton", body))

    found = await one(client, f"Patient?identifier={NHS_SYSTEM}|{OTHER_NHS}")
    assert {"system": RBHT + "mrn", "value": "RBH447120"} in found["identifier"]
    request = await one(client, f"ServiceRequest?identifier={RBHT}referral|{RB_REF}")
    assert codes_of(request["reasonCode"][0]) == {
        (SNOMED, "48724000"),
        (SNOMED, "111287006"),
        (ICD10, "I08.1"),
    }
    assert request["performer"] == [{"reference": f"Organization/{ods_id('RJ1')}"}]

    encounter = await one(client, f"Encounter?identifier={RBHT}encounter|RBH-ENC-000019")
    assert encounter["basedOn"] == [{"reference": f"ServiceRequest/{request['id']}"}]
    assert [codes_of(t) for t in encounter["type"]] == [
        {("https://fhir.southlondon-mitral.nhs.uk/CodeSystem/local-royal-brompton", "RBH-C-VLV")}
    ]

    procedure = await one(client, f"Procedure?identifier={RBHT}procedure|RBH-PRC-000007")
    assert procedure["basedOn"] == [
        {"identifier": {"system": GSTT + "order", "value": GST_ORDER}, "display": GST_ORDER}
    ]
    assert (SNOMED, "865051000000105") in codes_of(procedure["code"])
    assert procedure["performer"][0]["actor"]["reference"] == f"Organization/{ods_id('RJ182')}"


async def test_royal_brompton_historic_code_still_maps(client: httpx.AsyncClient) -> None:
    body = rb_bundle(4, rb_procedure("RT3-MCLIP", "2024-05-02T09:00:00Z"))
    assert_clean(await post(client, "royal-brompton", body))
    procedure = await one(client, f"Procedure?identifier={RBHT}procedure|RBH-PRC-000007")
    assert {(SNOMED, "865051000000105"), (OPCS, "K35.8")} <= codes_of(procedure["code"])


async def test_royal_brompton_unknown_code_quarantines_the_bundle(
    client: httpx.AsyncClient,
) -> None:
    receipt = await post(client, "royal-brompton", rb_bundle(5, rb_procedure("RBH-TAVI")))
    assert receipt["quarantined"] == 1
    assert "'RBH-TAVI' is not a royal-brompton local code" in diagnostics(receipt["detail"][0])
    assert not (await client.get("Procedure")).json().get("entry")


# -- hammersmith ----------------------------------------------------------------------------

IMP_REF = "IMP-REF-000210"
IMP_ORDER = "IMP-ORD-000033"


def polled(resource: dict[str, Any], vendor_id: str, version: int = 1) -> dict[str, Any]:
    return {
        **resource,
        "id": vendor_id,
        "meta": {"versionId": str(version), "lastUpdated": "2026-03-12T10:00:00+00:00"},
    }


def imp_patient(version: int = 1, family: str = "Okonkwo", nhs: str = NHS) -> dict[str, Any]:
    return polled(patient(IMP + "mrn", "IMP4471203", family=family, nhs=nhs), "p-881", version)


def imp_subject() -> dict[str, Any]:
    return subject(reference="Patient/p-881")


def imp_referral(reason: str = "IMP-CV-R01") -> dict[str, Any]:
    found = referral(IMP, IMP_CS, IMP_REF, reason=reason, reference="Patient/p-881")
    found["reasonCode"][0]["coding"][0]["system"] = IMP_CS + "cardiology"
    return polled(found, "sr-12")


def searchset(*resources: dict[str, Any]) -> bytes:
    base = "https://fhir.imperial.nhs.uk/R4/"
    return orjson.dumps(
        {
            "resourceType": "Bundle",
            "type": "searchset",
            "total": len(resources),
            "link": [{"relation": "self", "url": base + "Encounter?_count=100"}],
            "entry": [
                {
                    "fullUrl": f"{base}{r['resourceType']}/{r['id']}",
                    "resource": r,
                    "search": {"mode": "match"},
                }
                for r in resources
            ],
        }
    )


async def test_hammersmith_polled_resources_map_one_by_one(client: httpx.AsyncClient) -> None:
    assert_clean(await post(client, "hammersmith", orjson.dumps(imp_patient())))
    assert_clean(await post(client, "hammersmith", orjson.dumps(imp_referral())))

    found = await one(client, f"Patient?identifier={NHS_SYSTEM}|{NHS}")
    assert {"system": IMP + "mrn", "value": "IMP4471203"} in found["identifier"]
    request = await one(client, f"ServiceRequest?identifier={IMP}referral|{IMP_REF}")
    # The subject came from the NHS number: the regional Patient, not the vendor's id.
    assert request["subject"]["reference"] == f"Patient/{patient_id()}"
    assert codes_of(request["reasonCode"][0]) == {(SNOMED, "48724000"), (ICD10, "I34.0")}

    # A corrected Patient polled again (higher versionId): a new unit, version 2 in place.
    corrected = await post(client, "hammersmith", orjson.dumps(imp_patient(2, "Okonkwo-Bello")))
    assert corrected["detail"][0]["updated"] == [f"Patient/{patient_id()}"]
    current = (await client.get(f"Patient/{patient_id()}")).json()
    assert current["name"][0]["family"] == "Okonkwo-Bello"

    again = await post(client, "hammersmith", orjson.dumps(imp_patient(2, "Okonkwo-Bello")))
    assert again["repeats"] == 1
    assert await versions(client, "Patient", patient_id()) == 2


async def test_hammersmith_searchset_page_with_mdt_and_order(client: httpx.AsyncClient) -> None:
    mdt = polled(
        {
            "resourceType": "Encounter",
            "extension": [
                {
                    "url": "https://fhir.imperial.nhs.uk/StructureDefinition/mdt-outcome",
                    "valueCodeableConcept": {
                        "coding": [{"system": IMP_CS + "mdt-outcome", "code": "MEDICAL_THERAPY"}]
                    },
                }
            ],
            "identifier": [{"system": IMP + "encounter", "value": "IMP-ENC-000077"}],
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
            "type": [{"coding": [{"system": IMP_CS + "cardiology", "code": "IMP-CV-C02"}]}],
            "subject": imp_subject(),
            "basedOn": [{"identifier": {"system": IMP + "referral", "value": IMP_REF}}],
            "period": {"start": "2026-04-09T13:00:00+01:00", "end": "2026-04-09T13:20:00+01:00"},
        },
        "enc-5",
    )
    order = polled(
        {
            "resourceType": "ServiceRequest",
            "identifier": [{"system": IMP + "order", "value": IMP_ORDER}],
            "status": "active",
            "intent": "order",
            "code": {"coding": [{"system": IMP_CS + "cardiology", "code": "IMP-CV-0111"}]},
            "subject": imp_subject(),
            "basedOn": [{"identifier": {"system": IMP + "referral", "value": IMP_REF}}],
            "authoredOn": "2026-04-09T14:00:00+01:00",
            "performer": [{"identifier": {"system": ODS_SITE, "value": "RYJ03"}}],
        },
        "sr-13",
    )
    page = await post(client, "hammersmith", searchset(imp_patient(), mdt, order))
    assert_clean(page)
    assert page["units"] == 3  # a page of a search API: one unit per resource, as polled
    encounter = await one(client, f"Encounter?identifier={IMP}encounter|IMP-ENC-000077")
    assert encounter["subject"]["reference"] == f"Patient/{patient_id()}"
    assert (REGIONAL + "pathway-stage", "heart-team-review") in set().union(
        *(codes_of(t) for t in encounter["type"])
    )
    assert codes_of(encounter["extension"][0]["valueCodeableConcept"]) == {
        (REGIONAL + "mdt-outcome", "medical-therapy")
    }
    found = await one(client, f"ServiceRequest?identifier={IMP}order|{IMP_ORDER}")
    assert {(SNOMED, "720583008"), (OPCS, "K25.4")} <= codes_of(found["code"])
    referral_id = local_id("hammersmith", "ServiceRequest", IMP_REF)
    assert found["basedOn"] == [{"reference": f"ServiceRequest/{referral_id}"}]


@pytest.mark.parametrize(
    ("resource", "detail"),
    [
        pytest.param(imp_patient(nhs="9434765918"), "check digit", id="invalid-nhs-number"),
        pytest.param(imp_referral("IMP-CV-R09"), "'IMP-CV-R09' is not a hammersmith", id="code"),
        pytest.param(
            {**imp_referral(), "authoredOn": "2025-02-30T09:15:00+00:00"},
            "ServiceRequest.authoredOn",
            id="invalid-date",
        ),
        pytest.param(
            {**imp_referral(), "intent": "proposal"},
            "'proposal' is not one of the mapped values",
            id="unmapped-intent",
        ),
    ],
)
async def test_hammersmith_bad_resource_is_quarantined(
    client: httpx.AsyncClient, resource: dict[str, Any], detail: str
) -> None:
    receipt = await post(client, "hammersmith", orjson.dumps(resource))
    assert receipt["quarantined"] == 1
    assert detail in diagnostics(receipt["detail"][0])
    listed = (await client.get("http://testserver/ingest/quarantine?centre=hammersmith")).json()
    assert listed["counts"].get("quarantined") == 1
