"""The SearchParameter registry: what is supported, what is left out and why."""

from __future__ import annotations

import pytest

from app.search.parameters import (
    RESOURCE_LEVEL,
    RESULT_PARAMETERS,
    left_out,
    parameters_for,
    walkers_for,
)
from app.search.paths import Unsupported, compile_expression, reference_type

DOMAIN = [
    "Patient",
    "Organization",
    "Practitioner",
    "PractitionerRole",
    "HealthcareService",
    "Location",
    "ServiceRequest",
    "CarePlan",
    "Procedure",
    "Encounter",
    "EpisodeOfCare",
    "Observation",
    "Condition",
    "Provenance",
    "AuditEvent",
    "Device",
    "DocumentReference",
    "Task",
    "Appointment",
    "CareTeam",
    "Questionnaire",
    "QuestionnaireResponse",
    "CodeSystem",
    "ValueSet",
    "ConceptMap",
    "StructureDefinition",
    "SearchParameter",
    "Bundle",
]


def test_left_out_is_small_and_known() -> None:
    assert {(item.resource_type, item.code) for item in left_out()} == {
        ("Resource", "_content"),
        ("Resource", "_query"),
        ("DomainResource", "_content"),
        ("DomainResource", "_query"),
        ("DomainResource", "_text"),
        ("Bundle", "composition"),  # Bundle.entry[0].resource: an inline resource
        ("Bundle", "message"),
        ("DeviceDefinition", "classification"),  # no such element in R4
        ("DocumentReference", "relationship"),  # component definitions swapped in R4
        ("Location", "near"),  # special
        ("MolecularSequence", "chromosome-variant-coordinate"),  # %resource
        ("MolecularSequence", "referenceseqid-variant-coordinate"),
    }
    assert all(item.reason for item in left_out())
    assert len(left_out("Patient")) == 0


def test_every_type_has_the_resource_level_parameters() -> None:
    for res_type in ("Resource", *DOMAIN):
        params = parameters_for(res_type)
        for code in ("_id", "_lastUpdated", "_tag", "_profile", "_security", "_source"):
            assert code in params, (res_type, code)
        assert params["_id"].type == "token" and params["_lastUpdated"].type == "date"
        assert params["_tag"].type == "token" and params["_profile"].type == "uri"
        assert not params["_id"].walkers  # answered from the resource table
    assert set(RESOURCE_LEVEL) == {"_id", "_lastUpdated"}


def test_result_parameters() -> None:
    assert {"_sort", "_include", "_revinclude", "_elements", "_count", "_total"} <= set(
        RESULT_PARAMETERS
    )
    assert "_has" not in RESULT_PARAMETERS


def test_domain_parameters_are_supported_with_extractors() -> None:
    expected = {
        "Patient": {
            "identifier",
            "name",
            "family",
            "given",
            "birthdate",
            "gender",
            "address",
            "address-postalcode",
            "general-practitioner",
            "organization",
            "deceased",
            "telecom",
            "phone",
            "email",
            "death-date",
            "active",
        },
        "ServiceRequest": {
            "subject",
            "patient",
            "requester",
            "performer",
            "code",
            "status",
            "authored",
            "occurrence",
            "identifier",
            "based-on",
            "category",
        },
        "Procedure": {"subject", "patient", "code", "date", "performer", "status", "location"},
        "Observation": {
            "code",
            "value-quantity",
            "code-value-quantity",
            "combo-code",
            "component-code-value-quantity",
            "date",
            "subject",
            "performer",
        },
        "CarePlan": {"subject", "activity-date", "care-team", "date", "instantiates-canonical"},
        "Encounter": {"date", "class", "participant", "practitioner", "length", "location"},
    }
    for res_type, codes in expected.items():
        params = parameters_for(res_type)
        assert codes <= set(params), (res_type, codes - set(params))
    for res_type in DOMAIN:
        for code, param in parameters_for(res_type).items():
            assert param.url.startswith(
                ("http://hl7.org/fhir/SearchParameter/", "https://fhir.southlondon-mitral.nhs.uk/")
            )
            assert param.walkers or code in RESOURCE_LEVEL, (res_type, code)
        assert walkers_for(res_type)
    assert sum(len(parameters_for(t)) for t in DOMAIN) > 600


def test_reference_targets_and_composite_components() -> None:
    subject = parameters_for("ServiceRequest")["subject"]
    assert {"Patient", "Group", "Location", "Device"} <= set(subject.targets)
    composite = parameters_for("Observation")["code-value-quantity"]
    assert [(c.code, c.type, c.expression) for c in composite.components] == [
        ("code", "token", "code"),
        ("value-quantity", "quantity", "value.ofType(Quantity)"),
    ]
    assert composite.components[0].definition.endswith("/clinical-code")


def test_compiled_paths() -> None:
    (branch,) = compile_expression("Observation.value.ofType(Quantity)", "Observation")
    assert branch.type == "Quantity" and branch.steps[0].arg == "valueQuantity"
    effective = compile_expression("Observation.effective", "Observation")
    assert {b.type for b in effective} == {"dateTime", "Period", "Timing", "instant"}
    assert all(b.choice for b in effective)
    assert compile_expression("Patient.name", "Observation") == []
    refs = compile_expression(
        "Encounter.participant.individual.where(resolve() is Practitioner)", "Encounter"
    )
    assert refs[0].steps[-1].kind == "ref"
    ext = compile_expression("Patient.extension('http://x/ext').value.ofType(Coding)", "Patient")
    assert ext[0].type == "Coding"
    for bad in (
        "Patient.name.first()",
        "Patient.name.where(given.exists())",
        "Patient.nope",
        "Bundle.entry[0].resource",
        "Patient.gender.where(coding='x')",
    ):
        with pytest.raises(Unsupported):
            compile_expression(bad, bad.split(".")[0])


def test_reference_type() -> None:
    assert reference_type("Patient/123") == "Patient"
    assert reference_type("https://x.nhs.uk/fhir/Practitioner/9/_history/2") == "Practitioner"
    assert reference_type("#contained") is None
    assert reference_type("urn:uuid:0b6c1c1e-8f3e-4b5a-9a65-1c2d3e4f5a6b") is None
    assert reference_type("Nonsense/1") is None
