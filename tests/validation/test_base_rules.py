"""base_issues: the R4 invariants and required core bindings every resource must meet."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.errors import Issue
from app.validation.base_rules import base_issues
from app.validation.core_bindings import load_core_bindings
from tests.validation import uk_examples

ROOT = Path(__file__).resolve().parents[2]
NARRATIVE = {
    "status": "generated",
    "div": '<div xmlns="http://www.w3.org/1999/xhtml">Mitral valve referral</div>',
}
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
SNOMED = "http://snomed.info/sct"


def errors(resource: dict[str, Any]) -> list[Issue]:
    return [i for i in base_issues(resource) if i.severity == "error"]


def echo(**elements: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": "echo-2024-0412",
        "text": NARRATIVE,
        "status": "final",
        "code": {"coding": [{"system": SNOMED, "code": "40701008", "display": "Echocardiography"}]},
        "subject": {"reference": "Patient/9000000009"},
        **elements,
    }


def condition(clinical_codings: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "text": NARRATIVE,
        "clinicalStatus": {"coding": clinical_codings},
        "code": {
            "coding": [{"system": SNOMED, "code": "48724000", "display": "Mitral regurgitation"}]
        },
        "subject": {"reference": "Patient/9434765919"},
    }


@pytest.mark.parametrize(
    "build",
    [
        uk_examples.patient,
        uk_examples.service_request,
        uk_examples.procedure,
        uk_examples.observation_quantity,
        uk_examples.transaction_bundle,
        uk_examples.with_contained,
    ],
    ids=lambda b: b.__name__,
)
def test_realistic_uk_resources_have_no_errors(build: Callable[[], dict[str, Any]]) -> None:
    assert errors(build()) == []


def test_code_outside_a_required_core_value_set_is_an_error_naming_the_value_set() -> None:
    [issue] = errors(echo(status="done"))
    assert (issue.severity, issue.code) == ("error", "code-invalid")
    assert issue.expression == ("Observation.status",)
    assert "http://hl7.org/fhir/ValueSet/observation-status" in issue.diagnostics
    assert "'done'" in issue.diagnostics and "final" in issue.diagnostics


def test_codeable_concept_needs_one_coding_from_the_required_value_set() -> None:
    foreign = {"system": "https://fhir.rj1.nhs.uk/CodeSystem/status", "code": "A"}
    wrong = {"system": CLINICAL, "code": "cured"}
    [issue] = errors(condition([foreign, wrong]))
    assert issue.expression == ("Condition.clinicalStatus",)
    assert "condition-clinical" in issue.diagnostics
    assert errors(condition([foreign, {"system": CLINICAL, "code": "active"}])) == []


def test_required_binding_is_checked_in_bundle_entries_with_the_entry_path() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {
                "fullUrl": "urn:uuid:1c9f3b55-4d1a-4a43-9a4e-0c2d7a1c6e01",
                "resource": echo(status="done"),
            }
        ],
    }
    [issue] = errors(bundle)
    assert issue.expression == ("Bundle.entry[0].resource/*Observation/echo-2024-0412*/.status",)


def test_core_invariant_violation_is_reported() -> None:
    both = echo(valueQuantity={"value": 0.3, "unit": "cm2"}, dataAbsentReason={"text": "n/a"})
    [issue] = errors(both)
    assert issue.code == "invariant"
    assert issue.diagnostics.startswith("obs-6: ")
    assert issue.expression == ("Observation",)


def test_data_type_invariants_apply_wherever_the_type_occurs() -> None:
    quantity = {"value": 0.4, "code": "cm2"}  # qty-3: a code needs its system
    [issue] = errors(echo(valueQuantity=quantity))
    assert issue.diagnostics.startswith("qty-3: ")
    assert issue.expression == ("Observation.value.ofType(Quantity)",)


def test_unreferenced_contained_resource_and_dangling_local_reference() -> None:
    resource = uk_examples.with_contained()
    resource["performer"] = [{"actor": {"reference": "#other"}}]
    found = {(i.diagnostics.split(":")[0], i.expression) for i in errors(resource)}
    assert ("dom-3", (resource["resourceType"],)) in found
    assert ("ref-1", (f"{resource['resourceType']}.performer[0].actor",)) in found


def test_missing_narrative_is_only_a_warning() -> None:
    resource = echo()
    del resource["text"]
    issues = base_issues(resource)
    assert [(i.severity, i.diagnostics.split(":")[0]) for i in issues] == [("warning", "dom-6")]


@pytest.mark.parametrize(
    "resource",
    [
        {"resourceType": "NotAType", "status": "x"},
        {"resourceType": "Observation", "status": ["final"], "code": "x", "referenceRange": {}},
        {"resourceType": "Observation", "component": [None, 3, {"code": []}]},
        {"resourceType": "Bundle", "entry": [{"resource": "x"}, {"resource": {"resourceType": 1}}]},
    ],
)
def test_malformed_input_never_raises(resource: dict[str, Any]) -> None:
    assert all(i.code in ("invariant", "code-invalid") for i in base_issues(resource))


def test_bindings_that_cannot_be_expanded_locally_are_listed_not_checked() -> None:
    skipped = load_core_bindings().skipped
    assert "Attachment.contentType" in skipped  # BCP-13 mime types: not enumerable
    attachment = {"contentType": "application/x-unheard-of", "url": "https://example.org/x"}
    assert errors(echo(valueAttachment=attachment)) == []


# -- rules the specification states in prose ---------------------------------------------------


def collection(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": list(entries)}


def test_bundle_full_url_must_be_absolute() -> None:
    bundle = collection({"fullUrl": "Observation/echo-2024-0412", "resource": echo()})
    [issue] = errors(bundle)
    assert issue.expression == ("Bundle.entry[0].fullUrl",)
    assert "absolute" in issue.diagnostics


def test_restful_full_url_must_end_with_the_entry_type_and_id() -> None:
    url = "https://fhir.rj1.nhs.uk/R4/Observation/echo-2024-0999"
    [issue] = errors(collection({"fullUrl": url, "resource": echo()}))
    assert issue.expression == ("Bundle.entry[0]",)
    ok = "https://fhir.rj1.nhs.uk/R4/Observation/echo-2024-0412"
    assert errors(collection({"fullUrl": ok, "resource": echo()})) == []


def test_a_link_relation_appears_once_and_search_results_have_ids() -> None:
    anonymous = echo()
    del anonymous["id"]
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": [
            {"relation": "self", "url": "https://fhir.rj1.nhs.uk/R4/Observation?code=40701008"},
            {"relation": "self", "url": "https://fhir.rj1.nhs.uk/R4/Observation?_page=2"},
        ],
        "entry": [{"resource": anonymous, "search": {"mode": "match"}}],
    }
    assert sorted(i.expression[0] for i in errors(bundle)) == [
        "Bundle.entry[0].resource",
        "Bundle.link[1]",
    ]


@pytest.mark.parametrize(
    ("system", "reason"),
    [("SNOMED", "absolute"), ("http://hl7.org/fhir/ValueSet/observation-codes", "value set")],
)
def test_coding_system_is_an_absolute_code_system_uri(system: str, reason: str) -> None:
    resource = echo(code={"coding": [{"system": system, "code": "40701008"}]})
    [issue] = errors(resource)
    assert issue.expression == ("Observation.code.coding[0].system",)
    assert reason in issue.diagnostics


def test_unknown_code_of_a_fhir_defined_code_system_anywhere() -> None:
    coding = {"system": "http://hl7.org/fhir/observation-status", "code": "done"}
    [issue] = errors(echo(category=[{"coding": [coding]}]))
    assert issue.expression == ("Observation.category[0].coding[0].code",)
    coding["code"] = "final"
    assert errors(echo(category=[{"coding": [coding]}])) == []


def test_bound_code_with_only_an_extension_has_no_code() -> None:
    absent = {
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                "valueCode": "unknown",
            }
        ]
    }
    resource = echo(_status=absent)
    del resource["status"]
    [issue] = errors(resource)
    assert issue.expression == ("Observation.status",)
    assert "no code provided" in issue.diagnostics


def test_snomed_codes_must_be_sctids_or_expressions() -> None:
    typo = echo(code={"coding": [{"system": SNOMED, "code": "40701008x"}]})
    [issue] = errors(typo)
    assert issue.expression == ("Observation.code.coding[0].code",)
    check_digit = echo(code={"coding": [{"system": SNOMED, "code": "40701009"}]})
    assert "check digit" in errors(check_digit)[0].diagnostics
    expression = "48724000:363698007=91134007"  # post-coordinated: not checked here
    assert errors(echo(code={"coding": [{"system": SNOMED, "code": expression}]})) == []


def test_value_set_naming_snomed_codes_checks_them() -> None:
    value_set = {
        "resourceType": "ValueSet",
        "url": "https://fhir.southlondon-mitral.nhs.uk/ValueSet/bench",
        "status": "draft",
        "compose": {
            "include": [
                {"system": SNOMED, "concept": [{"code": "48724000"}, {"code": "1"}]},
                {"system": SNOMED, "filter": [{"property": "concept", "op": "is-a", "value": "x"}]},
                {"system": "#local"},
            ]
        },
    }
    assert sorted(i.expression[0] for i in errors(value_set)) == [
        "ValueSet.compose.include[0].concept[1]",
        "ValueSet.compose.include[1].filter[0]",
        "ValueSet.compose.include[2]",
    ]


def test_core_extension_used_outside_its_context() -> None:
    mothers_family = {
        "url": "http://hl7.org/fhir/StructureDefinition/humanname-mothers-family",
        "valueString": "Okafor",
    }
    patient = {
        "resourceType": "Patient",
        "text": NARRATIVE,
        "name": [{"extension": [mothers_family], "family": "Adeyemi-Okafor"}],
    }
    [issue] = errors(patient)
    assert issue.expression == ("Patient.name[0].extension[0]",)
    assert "HumanName.family" in issue.diagnostics
    unknown = {
        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-X",
        "valueString": "y",
    }
    assert errors({**patient, "name": [{"extension": [unknown], "family": "Adeyemi"}]}) == []


def test_differential_path_must_name_an_element_of_the_type() -> None:
    sd = {
        "resourceType": "StructureDefinition",
        "url": "https://fhir.southlondon-mitral.nhs.uk/StructureDefinition/MV-Test",
        "name": "MVTest",
        "status": "draft",
        "kind": "resource",
        "abstract": False,
        "type": "Observation",
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/Observation",
        "derivation": "constraint",
        "differential": {
            "element": [
                {"id": "Observation", "path": "Observation"},
                {"id": "Observation.value[x]", "path": "Observation.value[x]", "min": 1},
                {"id": "Observation.valueBla", "path": "Observation.valueBla"},
                {"id": "Observation.component:eroa.code", "path": "Observation.component.code"},
            ]
        },
    }
    [issue] = errors(sd)
    assert issue.expression == ("StructureDefinition.differential.element[2].path",)


def test_search_parameter_declarations_agree_with_r4() -> None:
    derived = {
        "resourceType": "SearchParameter",
        "url": "https://fhir.southlondon-mitral.nhs.uk/SearchParameter/org-name",
        "name": "OrgName",
        "status": "draft",
        "description": "x",
        "code": "name",
        "base": ["Patient"],
        "type": "string",
        "expression": "Organization.name",
        "derivedFrom": "http://hl7.org/fhir/SearchParameter/Organization-name",
    }
    [issue] = errors(derived)
    assert "not a base" in issue.diagnostics
    capability = {
        "resourceType": "CapabilityStatement",
        "status": "draft",
        "date": "2024-03-18",
        "kind": "instance",
        "implementation": {"description": "mitral-fhir"},
        "fhirVersion": "4.0.1",
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "resource": [
                    {
                        "type": "Patient",
                        "searchParam": [
                            {
                                "name": "birthdate",
                                "definition": "http://hl7.org/fhir/SearchParameter/individual-birthdate",
                                "type": "token",
                            }
                        ],
                    }
                ],
            }
        ],
    }
    [issue] = errors(capability)
    assert issue.expression == ("CapabilityStatement.rest[0].resource[0].searchParam[0]",)


@pytest.mark.parametrize("folder", ["profiles/base", "profiles/build"])
def test_r4_and_regional_definitions_meet_the_base_rules(folder: str) -> None:
    files = sorted((ROOT / folder).glob("*.json"))
    assert files
    for file in files:
        assert errors(orjson.loads(file.read_bytes())) == [], file.name


def test_a_flood_of_issues_is_capped() -> None:
    bundle = collection(*({"fullUrl": f"Observation/{i}", "resource": echo()} for i in range(1200)))
    issues = base_issues(bundle)
    assert len(issues) <= 1001
    assert issues[-1].code == "too-costly"


@pytest.mark.parametrize(
    ("expression", "language", "reason"),
    [
        ("%p-active", "text/fhirpath", None),
        ("%p-inactive", "text/fhirpath", "unknown parameter"),
        ("$ and %p-active", "text/fhirpath", "not valid FHIRPath"),
        ("%p-active", "text/cql", "text/fhirpath"),
    ],
)
def test_value_set_parameter_expressions(
    expression: str, language: str, reason: str | None
) -> None:
    value = {
        "extension": [
            {
                "url": "http://hl7.org/fhir/StructureDefinition/cqf-expression",
                "valueExpression": {"language": language, "expression": expression},
            }
        ]
    }
    value_set = {
        "resourceType": "ValueSet",
        "url": "https://fhir.southlondon-mitral.nhs.uk/ValueSet/active-conditions",
        "status": "draft",
        "extension": [
            {
                "url": "http://hl7.org/fhir/tools/StructureDefinition/valueset-parameter",
                "extension": [{"url": "name", "valueCode": "p-active"}],
            }
        ],
        "compose": {
            "include": [
                {"system": SNOMED, "filter": [{"property": "inactive", "op": "=", "_value": value}]}
            ]
        },
    }
    found = errors(value_set)
    if reason is None:
        assert found == []
    else:
        [issue] = found
        assert issue.expression == ("ValueSet.compose.include[0].filter[0].value.extension[0]",)
        assert reason in issue.diagnostics
