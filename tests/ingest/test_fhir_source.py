"""Vendor FHIR Bundles as source records: what is read, what is refused, what is reported
unread, and that the direct JSON walk agrees with fhirpathpy."""

from __future__ import annotations

import copy
from typing import Any

import fhirpathpy
import orjson
import pytest
from fhirpathpy.models import models

from app.ingest.fhir_source import FhirRecord, compile_path, read_bundle
from app.ingest.records import SourceError

NHS = "https://fhir.nhs.uk/Id/nhs-number"
MRN = "https://fhir.gstt.nhs.uk/Id/mrn"

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "pat-4417",
    "meta": {"lastUpdated": "2026-03-02T09:14:00Z"},
    "text": {"status": "generated", "div": "<div xmlns='http://www.w3.org/1999/xhtml'>x</div>"},
    "identifier": [
        {"system": NHS, "value": "9434765919"},
        {"system": MRN, "value": "GST0041877"},
    ],
    "name": [{"family": "Okafor", "given": ["Adaeze", "Ngozi"]}],
    "gender": "female",
    "birthDate": "1951-07-23",
    "_birthDate": {"extension": [{"url": "https://example.org/precision", "valueCode": "day"}]},
    "deceasedBoolean": False,
    "multipleBirthInteger": 2,
}

REFERRAL: dict[str, Any] = {
    "resourceType": "ServiceRequest",
    "id": "ref-20260302-0007",
    "status": "active",
    "intent": "order",
    "priority": "urgent",
    "code": {
        "coding": [
            {"system": "http://snomed.info/sct", "code": "394579002", "display": "Cardiology"},
            {"system": "https://fhir.gstt.nhs.uk/CodeSystem/clinic", "code": "MVC"},
        ]
    },
    "subject": {"reference": "urn:uuid:6f1c6a52-94a4-4c3e-b0d4-2f5e0c1a9b11"},
    "occurrenceDateTime": "2026-03-16T10:30:00+00:00",
    "authoredOn": "2026-03-02T09:12:44+00:00",
    "reasonCode": [
        {"coding": [{"system": "http://snomed.info/sct", "code": "48724000"}]},
        {"coding": [{"system": "http://snomed.info/sct", "code": "111287006"}]},
    ],
    "note": [{"text": "Severe MR on TTE, NYHA III"}],
}

OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "10230-1"}]},
    "valueQuantity": {"value": 1.5, "unit": "cm", "system": "http://unitsofmeasure.org"},
    "component": [
        {"code": {"text": "grade"}, "valueString": "severe"},
        {"code": {"text": "flail"}, "valueBoolean": True},
    ],
}


def transaction(*resources: dict[str, Any]) -> bytes:
    return orjson.dumps(
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": f"urn:uuid:00000000-0000-4000-8000-00000000000{n}",
                    "resource": r,
                    "request": {"method": "POST", "url": r["resourceType"]},
                }
                for n, r in enumerate(resources)
            ],
        }
    )


def record(resource: dict[str, Any]) -> FhirRecord:
    return FhirRecord(copy.deepcopy(resource), "Bundle.entry[0]")


def test_every_entry_of_a_transaction_becomes_a_record_with_its_place():
    records = read_bundle(transaction(PATIENT, REFERRAL))

    assert [r.rule_key for r in records] == ["Patient", "ServiceRequest"]
    assert [r.position for r in records] == ["Bundle.entry[0]", "Bundle.entry[1]"]
    assert records[1].full_url == "urn:uuid:00000000-0000-4000-8000-000000000001"
    assert records[1].local_ref == "ServiceRequest/ref-20260302-0007"
    assert records[1].request == {"method": "POST", "url": "ServiceRequest"}
    assert records[0].kind == "fhir"
    assert records[0].resource["birthDate"] == "1951-07-23"


def test_a_single_resource_is_one_record_and_a_byte_order_mark_is_accepted():
    (only,) = read_bundle(b"\xef\xbb\xbf" + orjson.dumps(OBSERVATION))

    assert only.position == "resource"
    assert only.local_ref is None
    assert only.full_url is None


@pytest.mark.parametrize("kind", ["batch", "collection", "searchset"])
def test_other_bundle_types_carrying_resources_are_read(kind):
    data = orjson.dumps({"resourceType": "Bundle", "type": kind, "entry": [{"resource": PATIENT}]})

    assert [r.rule_key for r in read_bundle(data)] == ["Patient"]


@pytest.mark.parametrize(
    ("data", "location", "message"),
    [
        (b"{'resourceType': 'Patient'", "", "not JSON"),
        (b"[1, 2]", "", "no resourceType"),
        (b'{"id": "x"}', "", "no resourceType"),
        (b'{"resourceType": "Bundle", "type": "document"}', "Bundle.type", "'document'"),
        (
            b'{"resourceType": "Bundle", "type": "batch", "entry": [{"resource": {"resourceType":'
            b' "Patient"}}, {"request": {"method": "DELETE", "url": "Patient/1"}}]}',
            "Bundle.entry[1]",
            "no resource",
        ),
        (
            b'{"resourceType": "Bundle", "type": "collection", "entry": [{"resource": {}}]}',
            "Bundle.entry[0].resource",
            "no resourceType",
        ),
    ],
)
def test_unreadable_input_is_refused_with_its_location(data, location, message):
    with pytest.raises(SourceError, match=message) as caught:
        read_bundle(data)

    assert caught.value.location == location


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("subject.reference", ["urn:uuid:6f1c6a52-94a4-4c3e-b0d4-2f5e0c1a9b11"]),
        ("code.coding.code", ["394579002", "MVC"]),
        ("ServiceRequest.status", ["active"]),
        ("Patient.gender", []),
        ("occurrence", ["2026-03-16T10:30:00+00:00"]),
        ("reasonCode.coding.code", ["48724000", "111287006"]),
        ("performer.reference", []),
        ("code.coding.where(system = 'http://snomed.info/sct').display", ["Cardiology"]),
        ("reasonCode.count()", ["2"]),
        ("priority = 'urgent'", ["true"]),
    ],
)
def test_values_are_the_text_of_every_match_in_order(path, expected):
    assert record(REFERRAL).values(path) == expected


def test_booleans_and_numbers_come_out_as_fhir_writes_them():
    patient = record(PATIENT)

    assert patient.values("deceased") == ["false"]
    assert patient.values("multipleBirth") == ["2"]
    assert patient.values("name.given") == ["Adaeze", "Ngozi"]


def test_a_primitive_extension_is_reached_through_fhirpath():
    assert record(PATIENT).values("birthDate.extension.value") == ["day"]


def test_values_refuses_an_object_rather_than_dropping_it():
    with pytest.raises(SourceError, match="'subject' gives a dict") as caught:
        record(REFERRAL).values("subject")

    assert caught.value.location == "Bundle.entry[0]"


def test_items_give_the_json_as_it_is():
    found = record(REFERRAL).items("reasonCode.coding")

    assert found == [
        {"system": "http://snomed.info/sct", "code": "48724000"},
        {"system": "http://snomed.info/sct", "code": "111287006"},
    ]


def test_each_binds_one_item_per_occurrence_and_paths_resolve_in_it():
    patient = record(PATIENT)

    scopes = patient.each("identifier")

    assert [patient.values("system", s) for s in scopes] == [[NHS], [MRN]]
    assert [patient.values("value", s) for s in scopes] == [["9434765919"], ["GST0041877"]]


def test_nested_scopes_and_the_resource_from_inside_a_scope():
    referral = record(REFERRAL)

    codes = [
        referral.values("code", inner)
        for outer in referral.each("reasonCode")
        for inner in referral.each("coding", outer)
    ]

    assert codes == [["48724000"], ["111287006"]]
    (first, _) = referral.each("reasonCode")
    assert referral.values("%resource.status", first) == ["active"]


def test_choice_elements_resolve_inside_a_backbone_scope():
    observation = record(OBSERVATION)

    scopes = observation.each("component")

    assert [observation.values("value", s) for s in scopes] == [["severe"], ["true"]]
    assert [observation.values("value.exists()", s) for s in scopes] == [["true"], ["true"]]
    assert observation.values("value.unit") == ["cm"]


def test_an_evaluation_error_quarantines_rather_than_guessing():
    with pytest.raises(SourceError, match="Expected single") as caught:
        record(PATIENT).values("identifier.value.single()")

    assert caught.value.code == "processing"


def test_a_mapping_path_that_is_not_fhirpath_is_refused_when_compiled():
    with pytest.raises(ValueError, match="not FHIRPath"):
        compile_path("identifier.where(system = ")
    compile_path("identifier.where(system = 'x').value")


def test_unread_names_each_top_level_element_no_rule_touched():
    referral = record(REFERRAL)
    referral.values("ServiceRequest.status")
    referral.values("code.coding.where(system = 'http://snomed.info/sct').code")
    for scope in referral.each("reasonCode"):
        referral.values("coding.code", scope)

    assert referral.unread() == [
        "ServiceRequest.intent",
        "ServiceRequest.priority",
        "ServiceRequest.subject",
        "ServiceRequest.occurrence",
        "ServiceRequest.authoredOn",
        "ServiceRequest.note",
    ]


def test_unread_counts_choice_variants_primitive_extensions_and_resource_paths():
    patient = record(PATIENT)
    patient.values("deceased")
    patient.values("birthDate")
    (first, _) = patient.each("identifier")
    patient.values("%resource.gender", first)
    patient.values("name.family | name.given")

    assert patient.unread() == ["Patient.multipleBirth"]


def test_a_function_argument_does_not_count_as_reading_a_top_level_element():
    patient = record({**PATIENT, "system": "not an element, only a trap"})
    patient.values("identifier.where(system = 'x').value")

    assert "Patient.system" in patient.unread()
    assert "Patient.identifier" not in patient.unread()


SIMPLE = [
    "identifier.system",
    "identifier.value",
    "name.given",
    "Patient.name.family",
    "deceased",
    "multipleBirth",
    "birthDate",
    "meta.lastUpdated",
    "text.status",
    "identifier.period.start",
    "identifier.where(system = 'https://fhir.nhs.uk/Id/nhs-number').value",
    "identifier.where(system='https://fhir.gstt.nhs.uk/Id/mrn').value",
    "identifier.where(system = 'https://example.org/none').value",
    "identifier.where(period.start = '2020').value",
    "name.where(family = 'Okafor').given",
    "Patient.name.where(given = 'Adaeze').family",
    "deceased.where(false = false)",
]


def test_each_expression_is_compiled_once_for_every_record(monkeypatch):
    calls: list[str] = []
    real = fhirpathpy.compile

    def counting(path: str, *args: Any, **kwargs: Any) -> Any:
        calls.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(fhirpathpy, "compile", counting)
    path = "identifier.where(system = 'https://fhir.nhs.uk/Id/nhs-number').value.first()"
    first, second = read_bundle(transaction(PATIENT, PATIENT))

    assert first.values(path) == second.values(path) == ["9434765919"]
    assert calls == [path]
    assert first.values("identifier.value") == ["9434765919", "GST0041877"]
    assert first.values(f"identifier.where(system = '{MRN}').value") == ["GST0041877"]
    assert calls == [path]


ORDER = "https://fhir.gstt.nhs.uk/Id/order"
REFERRAL_ID = "https://fhir.gstt.nhs.uk/Id/referral"
CLINIC = "http://epic.gstt.nhs.uk/codes/clinic"
OUTCOME = "http://epic.gstt.nhs.uk/fhir/StructureDefinition/mdt-outcome"

ENCOUNTER: dict[str, Any] = {
    "resourceType": "Encounter",
    "status": "finished",
    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
    "identifier": [{"system": "https://fhir.gstt.nhs.uk/Id/encounter", "value": "ENC-88213"}],
    "type": [
        {"coding": [{"system": CLINIC, "code": "CL-MDT"}, {"system": CLINIC, "code": "CL-VHD"}]},
        {"coding": [{"system": "http://snomed.info/sct", "code": "11429006"}]},
    ],
    "basedOn": [
        {"identifier": {"system": REFERRAL_ID, "value": "REF-1"}},
        {"identifier": {"system": ORDER, "value": "ORD-7"}, "display": "GST-ORD-7"},
        {"reference": "ServiceRequest/sr-9", "display": "KCH-ORD-22"},
        {"identifier": {"system": "https://example.org/other", "value": "X-3"}},
    ],
    "extension": [
        {"url": OUTCOME, "valueCodeableConcept": {"coding": [{"code": "surgery"}]}},
        {"url": "https://example.org/flag", "valueCode": "amber"},
    ],
    "length": {"value": 45, "unit": "min", "system": "http://unitsofmeasure.org", "code": "min"},
}

FAST = [
    "deceased.ofType(boolean)",
    "deceased.ofType(dateTime)",
    "Patient.deceased.ofType(boolean)",
    "multipleBirth.ofType(integer)",
    "multipleBirth.ofType(boolean)",
    "identifier.where(system = 'https://fhir.nhs.uk/Id/nhs-number' and value = '9434765919').value",
    "identifier.where(system != 'https://fhir.nhs.uk/Id/nhs-number').value",
    "identifier.where(value.startsWith('GST')).system",
    "name.where(family.startsWith('Oka') and family != 'Okonjo').family",
]

ENCOUNTER_FAST = [
    f"type.coding.where(system = '{CLINIC}' and code = 'CL-MDT').code",
    f"type.coding.where(system = '{CLINIC}' and code = 'CL-XX').code",
    f"basedOn.where(identifier.system != '{ORDER}').identifier.value",
    f"basedOn.where(identifier.system != '{ORDER}' and identifier.system != '{REFERRAL_ID}')"
    ".identifier.value",
    "basedOn.where(display.startsWith('GST-ORD-')).identifier.value",
    "basedOn.where(display.startsWith('KCH-ORD-')).reference",
    "basedOn.where(display.startsWith('')).display",
    f"extension.where(url = '{OUTCOME}').value.coding.code",
    "extension.where(url = 'https://example.org/flag').value.ofType(code)",
    "extension.where(url = 'https://example.org/flag').valueCode",
    "Encounter.class.where(code = 'AMB').system",
]

HANDED_OVER = [
    "deceased.ofType(Element)",  # a supertype: fhirpathpy's answer depends on its global state
    "identifier.where(system = 'x' or value = 'y').value",
    "identifier.where(system = 'it\\'s').value",
    "identifier.where(system ~ 'HTTPS://FHIR.NHS.UK/ID/NHS-NUMBER').value",
    "identifier.where(value.endsWith('919')).system",
]

ENCOUNTER_HANDED_OVER = [
    "length.ofType(Quantity).unit",  # Duration is a Quantity
    "extension.where(url = 'https://example.org/flag').value.ofType(string)",  # code is a string
    "type.where(coding.code = 'CL-MDT').coding.system",  # coding repeats
]


@pytest.mark.parametrize("path", SIMPLE + FAST + HANDED_OVER)
def test_the_direct_walk_agrees_with_fhirpathpy(path):
    expected = fhirpathpy.evaluate(copy.deepcopy(PATIENT), path, model=models["r4"])
    texts = [("true" if v else "false") if isinstance(v, bool) else str(v) for v in expected]

    assert record(PATIENT).values(path) == texts


@pytest.mark.parametrize("path", ENCOUNTER_FAST + ENCOUNTER_HANDED_OVER)
def test_filters_on_repeating_elements_agree_with_fhirpathpy(path):
    expected = fhirpathpy.evaluate(copy.deepcopy(ENCOUNTER), path, model=models["r4"])

    assert record(ENCOUNTER).values(path) == [str(v) for v in expected]


@pytest.mark.parametrize(
    ("resource", "path"),
    [*((PATIENT, p) for p in FAST), *((ENCOUNTER, p) for p in ENCOUNTER_FAST)],
)
def test_filters_and_of_type_never_reach_fhirpathpy(monkeypatch, resource, path):
    def refuse(*args: Any) -> Any:
        raise AssertionError(f"{path} handed over")

    monkeypatch.setattr(FhirRecord, "_fhirpath", refuse)

    assert record(resource).values(path) is not None


def test_where_and_of_type_apply_to_a_bound_item_too():
    encounter = record(ENCOUNTER)
    order = encounter.each(f"basedOn.where(identifier.system = '{ORDER}')")
    (flag,) = encounter.each("extension.where(url = 'https://example.org/flag')")

    assert [encounter.values("display", s) for s in order] == [["GST-ORD-7"]]
    assert encounter.values("value.ofType(code)", flag) == ["amber"]
    assert encounter.values("value.ofType(Coding)", flag) == []


def test_a_test_on_a_repeating_value_is_left_to_fhirpathpy_which_raises():
    with pytest.raises(SourceError, match="Expected string"):
        record(PATIENT).values("name.where(given.startsWith('A')).family")


def test_not_equal_drops_items_without_the_value_as_fhirpath_does():
    encounter = record(ENCOUNTER)
    others = (
        f"basedOn.where(identifier.system != '{ORDER}' and identifier.system != '{REFERRAL_ID}')"
    )

    assert encounter.values(f"{others}.identifier.value") == ["X-3"]
    assert encounter.values("basedOn.where(display.startsWith('KCH-ORD-')).reference") == [
        "ServiceRequest/sr-9"
    ]
