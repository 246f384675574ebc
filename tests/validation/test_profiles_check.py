"""check_profile: each kind of profile rule with an instance that meets it and one that fails.

The profiles are frozen copies of the built regional profiles (MV-Referral, MV-Patient,
MV-Procedure, their extensions) plus a hand-tightened Observation profile for closed and
ordered slicing, fixed vs pattern and choice types, under fixtures/profiles/.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.errors import Issue
from app.terminology.local import LocalTerminology
from app.validation.profile_check import check_profile, contains_pattern
from app.validation.profiles import ProfileRegistry, compile_profile, load_profile

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "profiles"
BASE = "https://fhir.southlondon-mitral.nhs.uk/StructureDefinition/"
SNOMED = "http://snomed.info/sct"
STAGE = "https://fhir.southlondon-mitral.nhs.uk/CodeSystem/pathway-stage"
UBRN = "https://fhir.nhs.uk/Id/UBRN"


@pytest.fixture(scope="module")
def registry() -> ProfileRegistry:
    return ProfileRegistry.from_directory(FIXTURES)


@pytest.fixture(scope="module")
def terminology() -> LocalTerminology:
    return LocalTerminology.from_directory(ROOT / "terminology")


def referral(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": UBRN, "value": "000000012345"}],
        "status": "active",
        "intent": "order",
        "category": [{"coding": [{"system": STAGE, "code": "referred", "display": "Referred"}]}],
        "code": {
            "coding": [
                {"system": SNOMED, "code": "306302005", "display": "Referral to cardiac surgeon"}
            ]
        },
        "subject": {"reference": "Patient/mv-9434765919"},
        "authoredOn": "2026-11-30T09:15:00Z",
        "requester": {"reference": "Organization/ods-RJZ"},
        "performer": [{"reference": "Organization/ods-RJ1"}],
        "reasonCode": [
            {
                "coding": [
                    {"system": SNOMED, "code": "48724000", "display": "Mitral valve regurgitation"}
                ]
            }
        ],
    }
    resource.update(changes)
    return {k: v for k, v in resource.items() if v is not None}


def procedure(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Procedure",
        "extension": [
            {
                "url": f"{BASE}Extension-MV-SurgicalApproach",
                "valueCodeableConcept": {
                    "coding": [
                        {
                            "system": "https://fhir.southlondon-mitral.nhs.uk/CodeSystem/surgical-approach",
                            "code": "transfemoral",
                        }
                    ]
                },
            }
        ],
        "status": "completed",
        "code": {
            "coding": [
                {"system": SNOMED, "code": "865051000000105"},
                {"system": "http://fhir.hl7.org.uk/CodeSystem/OPCS-4", "code": "K25.5"},
            ]
        },
        "subject": {"reference": "Patient/mv-9434765919"},
        "performedDateTime": "2026-11-20T10:00:00Z",
        "performer": [
            {
                "actor": {"reference": "Practitioner/gmc-4411223"},
                "onBehalfOf": {"reference": "Organization/ods-RJ1"},
            }
        ],
        "focalDevice": [{"manipulated": {"reference": "Device/mitraclip-1"}}],
        "usedCode": [
            {"coding": [{"system": SNOMED, "code": "464887003", "display": "Mitral valve clip"}]}
        ],
    }
    resource.update(changes)
    return {k: v for k, v in resource.items() if v is not None}


def observation(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "identifier": [
            {"system": "https://fhir.southlondon-mitral.nhs.uk/Id/echo-report", "value": "E-1"}
        ],
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "10230-1", "display": "LVEF"}]},
        "subject": {"reference": "Patient/mv-9434765919"},
        "effectiveDateTime": "2026-11-01",
        "valueQuantity": {"value": 55, "unit": "%", "system": "http://unitsofmeasure.org"},
        "interpretation": [{"text": "normal"}],
    }
    resource.update(changes)
    return {k: v for k, v in resource.items() if v is not None}


async def check(
    registry: ProfileRegistry, terminology: LocalTerminology, name: str, resource: dict[str, Any]
) -> list[Issue]:
    profile = registry.get(BASE + name)
    assert profile is not None
    return await check_profile(profile, resource, terminology)


def found(issues: list[Issue], severity: str = "error") -> list[tuple[str, str]]:
    return [(i.code, i.expression[0]) for i in issues if i.severity == severity]


async def test_a_conforming_referral_has_no_issues(registry, terminology) -> None:
    assert await check(registry, terminology, "MV-Referral", referral()) == []


async def test_a_missing_required_element_is_reported_at_parent_and_name(
    registry, terminology
) -> None:
    issues = await check(registry, terminology, "MV-Referral", referral(authoredOn=None))
    assert found(issues) == [("required", "ServiceRequest.authoredOn")]
    assert "minimum required = 1" in issues[0].diagnostics
    assert "MVReferral" in issues[0].diagnostics


async def test_an_absent_must_support_element_is_information(registry, terminology) -> None:
    issues = await check(registry, terminology, "MV-Referral", referral(reasonCode=None))
    assert found(issues) == []
    assert found(issues, "information") == [("informational", "ServiceRequest.reasonCode")]
    assert "must-support" in issues[0].diagnostics


async def test_fixed_value_must_match_exactly(registry, terminology) -> None:
    issues = await check(registry, terminology, "MV-Referral", referral(intent="plan"))
    assert found(issues) == [("value", "ServiceRequest.intent")]


async def test_fixed_complex_value_rejects_extra_content_but_pattern_allows_it(
    registry, terminology
) -> None:
    extra_code = {
        "coding": [{"system": "http://loinc.org", "code": "10230-1", "display": "LVEF"}],
        "text": "Left ventricular ejection fraction",
    }
    ok = await check(
        registry,
        terminology,
        "Test-Observation",
        observation(code=extra_code, method={"text": "TTE"}),
    )
    assert found(ok) == []
    method = {"text": "TTE", "coding": [{"system": SNOMED, "code": "250908004"}]}
    issues = await check(registry, terminology, "Test-Observation", observation(method=method))
    assert found(issues) == [("value", "Observation.method")]


async def test_pattern_mismatch_is_an_error(registry, terminology) -> None:
    code = {"coding": [{"system": "http://loinc.org", "code": "79991-6"}]}
    issues = await check(registry, terminology, "Test-Observation", observation(code=code))
    assert found(issues) == [("value", "Observation.code")]


def test_pattern_matching_is_a_recursive_subset() -> None:
    pattern = {"coding": [{"system": STAGE, "code": "referred"}]}
    assert contains_pattern(
        {
            "coding": [
                {"system": "x", "code": "y"},
                {"system": STAGE, "code": "referred", "display": "R"},
            ]
        },
        pattern,
    )
    assert not contains_pattern({"coding": [{"system": STAGE, "code": "triaged"}]}, pattern)
    assert not contains_pattern({"text": "referred"}, pattern)
    assert not contains_pattern(1, True)


async def test_a_slice_with_too_few_matches_is_reported(registry, terminology) -> None:
    category = [{"coding": [{"system": STAGE, "code": "triaged"}]}]
    issues = await check(registry, terminology, "MV-Referral", referral(category=category))
    assert found(issues) == [("required", "ServiceRequest.category")]
    assert "slice 'referral'" in issues[0].diagnostics


async def test_a_slice_with_too_many_matches_is_reported(registry, terminology) -> None:
    identifiers = [{"system": UBRN, "value": "000000012345"}, {"system": UBRN, "value": "0002"}]
    issues = await check(registry, terminology, "MV-Referral", referral(identifier=identifiers))
    assert found(issues) == [("structure", "ServiceRequest.identifier")]
    assert "slice 'ubrn' maximum allowed = 1" in issues[0].diagnostics


async def test_rules_of_a_slice_apply_to_matched_items_only(registry, terminology) -> None:
    identifiers = [
        {"system": "https://fhir.kings.nhs.uk/Id/referral", "value": "K-1"},
        {"system": UBRN},
    ]
    issues = await check(registry, terminology, "MV-Referral", referral(identifier=identifiers))
    assert found(issues) == [("required", "ServiceRequest.identifier[1].value")]


async def test_open_slicing_accepts_unmatched_items(registry, terminology) -> None:
    identifiers = [
        {"system": UBRN, "value": "000000012345"},
        {"system": "https://fhir.kings.nhs.uk/Id/referral", "value": "K-1"},
    ]
    issues = await check(registry, terminology, "MV-Referral", referral(identifier=identifiers))
    assert issues == []


async def test_closed_slicing_rejects_unmatched_items(registry, terminology) -> None:
    identifiers = [
        {"system": "https://fhir.southlondon-mitral.nhs.uk/Id/echo-report", "value": "E-1"},
        {"system": "https://fhir.kings.nhs.uk/Id/echo", "value": "K-9"},
    ]
    issues = await check(
        registry, terminology, "Test-Observation", observation(identifier=identifiers)
    )
    assert found(issues) == [("structure", "Observation.identifier[1]")]
    assert "closed" in issues[0].diagnostics


async def test_ordered_slicing_rejects_items_out_of_order(registry, terminology) -> None:
    identifiers = [
        {"system": "urn:dicom:uid", "value": "urn:oid:1.2.826.0.1.3680043.10.1"},
        {"system": "https://fhir.southlondon-mitral.nhs.uk/Id/echo-report", "value": "E-1"},
    ]
    issues = await check(
        registry, terminology, "Test-Observation", observation(identifier=identifiers)
    )
    assert found(issues) == [("structure", "Observation.identifier[1]")]
    assert "out of order" in issues[0].diagnostics


async def test_a_choice_variant_the_profile_removed_is_an_error(registry, terminology) -> None:
    changed = observation(valueQuantity=None, valueString="55%")
    issues = await check(registry, terminology, "Test-Observation", changed)
    assert found(issues) == [("structure", "Observation.value.ofType(string)")]
    changed = observation(effectiveDateTime=None, effectivePeriod={"start": "2026-11-01"})
    issues = await check(registry, terminology, "Test-Observation", changed)
    assert found(issues) == [("structure", "Observation.effective.ofType(Period)")]


async def test_a_required_choice_is_reported_with_x(registry, terminology) -> None:
    issues = await check(registry, terminology, "MV-Procedure", procedure(performedDateTime=None))
    assert ("required", "Procedure.performed[x]") in found(issues)
    ok = procedure(performedDateTime=None, performedPeriod={"start": "2026-11-20"})
    assert found(await check(registry, terminology, "MV-Procedure", ok)) == []


async def test_reference_target_type_is_checked(registry, terminology) -> None:
    bad = referral(subject={"reference": "Group/heart-team-1"})
    issues = await check(registry, terminology, "MV-Referral", bad)
    assert found(issues) == [("structure", "ServiceRequest.subject")]
    assert "Group" in issues[0].diagnostics


@pytest.mark.parametrize(
    ("reference", "ok"),
    [
        ("https://fhir.kings.nhs.uk/R4/Patient/p1", True),
        ("https://fhir.kings.nhs.uk/R4/Practitioner/p1/_history/2", False),
        ("urn:uuid:7d2b1c8e-4f2a-4b8e-9c1d-2f3a4b5c6d7e", True),
        ("#pat", True),
        ("#doc", False),
    ],
)
async def test_reference_forms_resolve_to_a_type(registry, terminology, reference, ok) -> None:
    contained = [
        {"resourceType": "Patient", "id": "pat"},
        {"resourceType": "Practitioner", "id": "doc"},
    ]
    resource = referral(subject={"reference": reference}, contained=contained)
    errors = found(await check(registry, terminology, "MV-Referral", resource))
    assert errors == ([] if ok else [("structure", "ServiceRequest.subject")])


async def test_our_target_profile_means_its_resource_type(registry, terminology) -> None:
    resource = referral(performer=[{"reference": "HealthcareService/rj1-mitral"}])
    assert found(await check(registry, terminology, "MV-Referral", resource)) == []
    resource = referral(performer=[{"reference": "Patient/mv-9434765919"}])
    issues = await check(registry, terminology, "MV-Referral", resource)
    assert found(issues) == [("structure", "ServiceRequest.performer[0]")]


async def test_required_binding_rejects_a_code_outside_the_value_set(registry, terminology) -> None:
    code = {"coding": [{"system": SNOMED, "code": "48724000"}]}
    issues = await check(registry, terminology, "MV-Referral", referral(code=code))
    assert found(issues) == [("code-invalid", "ServiceRequest.code")]
    assert "referral-codes" in issues[0].diagnostics


async def test_required_binding_without_any_coding_is_an_error(registry, terminology) -> None:
    issues = await check(registry, terminology, "MV-Referral", referral(code={"text": "refer"}))
    assert found(issues) == [("required", "ServiceRequest.code")]


async def test_a_wrong_display_is_a_warning(registry, terminology) -> None:
    code = {"coding": [{"system": SNOMED, "code": "306302005", "display": "Referral to dentist"}]}
    issues = await check(registry, terminology, "MV-Referral", referral(code=code))
    assert found(issues) == []
    assert found(issues, "warning") == [("invalid", "ServiceRequest.code.coding[0].display")]


async def test_extensible_binding_warns_for_another_code_of_the_same_system(
    registry, terminology
) -> None:
    reason = [{"coding": [{"system": SNOMED, "code": "308471005"}]}]
    issues = await check(registry, terminology, "MV-Referral", referral(reasonCode=reason))
    assert found(issues) == []
    assert found(issues, "warning") == [("code-invalid", "ServiceRequest.reasonCode[0]")]


async def test_extensible_binding_accepts_a_code_from_another_system(registry, terminology) -> None:
    reason = [{"coding": [{"system": "https://fhir.kings.nhs.uk/CodeSystem/reason", "code": "R7"}]}]
    issues = await check(registry, terminology, "MV-Referral", referral(reasonCode=reason))
    assert issues == []


async def test_binding_to_an_unknown_value_set_is_a_warning(terminology) -> None:
    raw = orjson.loads((FIXTURES / "StructureDefinition-MV-Referral.json").read_bytes())
    for part in ("snapshot", "differential"):
        for element in raw[part]["element"]:
            if element["id"] == "ServiceRequest.code":
                element["binding"]["valueSet"] = "https://example.org/ValueSet/not-here"
    profile = compile_profile(raw, "in-test")
    issues = await check_profile(profile, referral(), terminology)
    assert found(issues) == []
    assert found(issues, "warning") == [("not-found", "ServiceRequest.code")]
    assert "could not be checked" in issues[0].diagnostics


async def test_binding_on_a_slice_checks_the_matched_coding(registry, terminology) -> None:
    code = {
        "coding": [
            {"system": SNOMED, "code": "48724000"},
            {"system": "http://fhir.hl7.org.uk/CodeSystem/OPCS-4", "code": "K25.5"},
        ]
    }
    issues = await check(registry, terminology, "MV-Procedure", procedure(code=code))
    assert found(issues) == [("code-invalid", "Procedure.code.coding[0]")]


async def test_an_extension_is_checked_against_its_definition(registry, terminology) -> None:
    ext = {
        "url": f"{BASE}Extension-MV-SurgicalApproach",
        "valueCoding": {"system": SNOMED, "code": "53059001"},
    }
    issues = await check(registry, terminology, "MV-Procedure", procedure(extension=[ext]))
    assert found(issues) == [("structure", "Procedure.extension[0].value.ofType(Coding)")]


async def test_an_extension_value_is_bound_by_its_definition(registry, terminology) -> None:
    ext = {
        "url": f"{BASE}Extension-MV-SurgicalApproach",
        "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "53059001"}]},
    }
    issues = await check(registry, terminology, "MV-Procedure", procedure(extension=[ext]))
    assert found(issues) == [
        ("code-invalid", "Procedure.extension[0].value.ofType(CodeableConcept)")
    ]


async def test_unknown_extension_urls_are_fine_in_open_slicing(registry, terminology) -> None:
    ext = {"url": "https://fhir.kings.nhs.uk/StructureDefinition/theatre", "valueString": "T3"}
    resource = procedure()
    resource["extension"].append(ext)
    assert await check(registry, terminology, "MV-Procedure", resource) == []


async def test_an_extension_definition_we_do_not_hold_is_a_warning(terminology) -> None:
    files = [
        f
        for f in sorted(FIXTURES.glob("StructureDefinition-*.json"))
        if "NHSNumberVerif" not in f.name
    ]
    registry = ProfileRegistry([load_profile(f) for f in files])
    patient = {
        "resourceType": "Patient",
        "identifier": [
            {
                "extension": [
                    {
                        "url": "https://fhir.hl7.org.uk/StructureDefinition/Extension-UKCore-NHSNumberVerificationStatus",
                        "valueCodeableConcept": {"text": "verified"},
                    }
                ],
                "system": "https://fhir.nhs.uk/Id/nhs-number",
                "value": "9434765919",
            }
        ],
        "name": [{"family": "Evans"}],
        "gender": "female",
        "birthDate": "1950-03-01",
        "managingOrganization": {"reference": "Organization/ods-RJ1"},
    }
    profile = registry.get(BASE + "MV-Patient")
    assert profile is not None
    issues = await check_profile(profile, patient, terminology)
    assert found(issues, "warning") == [("not-found", "Patient.identifier[0].extension[0]")]


async def test_a_profile_invariant_is_evaluated(registry, terminology) -> None:
    identifiers = [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}]
    issues = await check(registry, terminology, "MV-Referral", referral(identifier=identifiers))
    assert found(issues) == [("invariant", "ServiceRequest")]
    assert issues[0].diagnostics.startswith("mv-ref-1:")


async def test_an_invariant_on_a_slice_applies_to_its_items(registry, terminology) -> None:
    def patient(nhs: str) -> dict[str, Any]:
        return {
            "resourceType": "Patient",
            "identifier": [
                {"system": "https://fhir.kings.nhs.uk/Id/mrn", "value": "K123"},
                {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs},
            ],
            "name": [{"family": "Evans"}],
            "gender": "female",
            "birthDate": "1950-03-01",
            "managingOrganization": {"reference": "Organization/ods-RJ1"},
        }

    ok = await check(registry, terminology, "MV-Patient", patient("9434765919"))
    assert [i for i in ok if i.severity != "information"] == []
    issues = await check(registry, terminology, "MV-Patient", patient("9434765918"))
    assert found(issues) == [("invariant", "Patient.identifier[1]")]
    assert issues[0].diagnostics.startswith("mv-nhs-1:")


async def test_a_warning_invariant_keeps_its_severity(registry, terminology) -> None:
    issues = await check(
        registry, terminology, "Test-Observation", observation(effectiveDateTime=None)
    )
    assert found(issues, "warning") == [("invariant", "Observation")]
    assert found(issues) == []


async def test_a_must_support_slice_absent_is_information(registry, terminology) -> None:
    identifiers = [{"system": "https://fhir.kings.nhs.uk/Id/referral", "value": "K-1"}]
    issues = await check(registry, terminology, "MV-Referral", referral(identifier=identifiers))
    assert found(issues) == []
    info = [i for i in issues if i.severity == "information"]
    assert [i.expression for i in info] == [("ServiceRequest.identifier",)]
    assert "slice 'ubrn'" in info[0].diagnostics


async def test_the_check_does_not_change_the_resource(registry, terminology) -> None:
    resource = referral()
    before = copy.deepcopy(resource)
    await check(registry, terminology, "MV-Referral", resource)
    assert resource == before


class _RemoteLike:
    """A non-local TerminologyService: answers referral-codes, fails on anything else."""

    def __init__(self, local: LocalTerminology) -> None:
        self.local = local
        self.asked: list[str] = []

    def knows_value_set(self, url: str) -> bool:
        return True

    async def validate_code_in_value_set(self, request: Any) -> Any:
        self.asked.append(request.url)
        if request.url.endswith("/referral-codes"):
            return self.local.validate_code_in_value_set_sync(request)
        raise ConnectionError("terminology server unreachable")


async def test_a_remote_service_is_asked_and_its_failure_is_a_warning(
    registry, terminology
) -> None:
    remote = _RemoteLike(terminology)
    profile = registry.get(BASE + "MV-Referral")
    assert profile is not None
    code = {"coding": [{"system": SNOMED, "code": "48724000"}]}
    issues = await check_profile(profile, referral(code=code), remote)  # type: ignore[arg-type]
    assert sorted(remote.asked) == [
        "https://fhir.southlondon-mitral.nhs.uk/ValueSet/referral-codes",
        "https://fhir.southlondon-mitral.nhs.uk/ValueSet/referral-reasons",
    ]
    assert found(issues) == [("code-invalid", "ServiceRequest.code")]
    assert found(issues, "warning") == [("exception", "ServiceRequest.reasonCode[0]")]
    assert "unreachable" in issues[1].diagnostics
