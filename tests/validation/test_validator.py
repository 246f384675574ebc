"""Validator: the order of the layers and what happens to unknown or unfitting profiles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from app.errors import InvalidRequest, ResourceNotFound
from app.terminology.local import LocalTerminology
from app.validation.profiles import ProfileRegistry
from app.validation.validator import Validator

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures" / "profiles"
BASE = "https://fhir.southlondon-mitral.nhs.uk/StructureDefinition/"
REFERRAL = BASE + "MV-Referral"
SNOMED = "http://snomed.info/sct"


@pytest.fixture(scope="module")
def validator() -> Validator:
    return Validator(
        ProfileRegistry.from_directory(FIXTURES),
        LocalTerminology.from_directory(ROOT / "terminology"),
    )


def referral(**changes: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "meta": {"profile": [REFERRAL]},
        "identifier": [{"system": "https://fhir.nhs.uk/Id/UBRN", "value": "000000012345"}],
        "status": "active",
        "intent": "order",
        "category": [
            {
                "coding": [
                    {
                        "system": "https://fhir.southlondon-mitral.nhs.uk/CodeSystem/pathway-stage",
                        "code": "referred",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": SNOMED, "code": "183557002"}]},
        "subject": {"reference": "Patient/mv-9000000009"},
        "authoredOn": "2026-11-30",
        "requester": {"reference": "PractitionerRole/gp-1"},
        "performer": [{"reference": "Organization/ods-RJ7"}],
        "reasonCode": [{"coding": [{"system": SNOMED, "code": "79619009"}]}],
    }
    resource.update(changes)
    return {k: v for k, v in resource.items() if v is not None}


def errors(issues: list[Any]) -> list[tuple[str, ...]]:
    return [i.expression for i in issues if i.severity == "error"]


async def test_a_conforming_resource_gets_no_errors(validator: Validator) -> None:
    issues = await validator.validate(referral())
    assert errors(issues) == []


async def test_meta_profile_drives_the_profile_check(validator: Validator) -> None:
    issues = await validator.validate(referral(authoredOn=None))
    assert ("ServiceRequest.authoredOn",) in errors(issues)
    unprofiled = referral(authoredOn=None, meta=None)
    assert errors(await validator.validate(unprofiled)) == []


async def test_the_profiles_argument_adds_a_profile(validator: Validator) -> None:
    resource = referral(authoredOn=None, meta=None)
    issues = await validator.validate(resource, profiles=[f"{REFERRAL}|1.0.0"])
    assert errors(issues) == [("ServiceRequest.authoredOn",)]


async def test_a_profile_named_twice_is_checked_once(validator: Validator) -> None:
    issues = await validator.validate(referral(authoredOn=None), profiles=[REFERRAL, REFERRAL])
    assert errors(issues) == [("ServiceRequest.authoredOn",)]


async def test_structural_errors_stop_before_the_profile(validator: Validator) -> None:
    resource = referral(authoredOn=None, reasonText="not an element")
    issues = await validator.validate(resource)
    assert [(i.code, i.expression) for i in issues] == [
        ("structure", ("ServiceRequest.reasonText",))
    ]


async def test_structural_warnings_come_first_then_profile_issues(validator: Validator) -> None:
    resource = referral(authoredOn=None, patientInstruction=" Fast from midnight ")
    issues = await validator.validate(resource)
    where = [i.expression[0] for i in issues]
    assert where.index("ServiceRequest.patientInstruction") < where.index(
        "ServiceRequest.authoredOn"
    )
    assert issues[0].severity == "warning"


async def test_an_unknown_claimed_profile_is_a_warning(validator: Validator) -> None:
    claimed = {"profile": ["https://fhir.kings.nhs.uk/StructureDefinition/Referral", REFERRAL]}
    issues = await validator.validate(referral(meta=claimed, authoredOn=None))
    warnings = [i for i in issues if i.severity == "warning" and i.code == "not-found"]
    assert [i.expression for i in warnings] == [("ServiceRequest.meta.profile[0]",)]
    assert "not checked" in warnings[0].diagnostics
    assert errors(issues) == [("ServiceRequest.authoredOn",)]  # the known one still runs


async def test_a_claimed_profile_of_another_type_is_an_error(validator: Validator) -> None:
    claimed = {"profile": [BASE + "MV-Procedure"]}
    issues = await validator.validate(referral(meta=claimed))
    assert errors(issues) == [("ServiceRequest.meta.profile[0]",)]


async def test_an_unknown_requested_profile_is_not_found(validator: Validator) -> None:
    with pytest.raises(ResourceNotFound) as caught:
        await validator.validate(referral(), profiles=[BASE + "MV-Nothing"])
    assert "MV-Nothing" in caught.value.diagnostics
    assert caught.value.status == 404


async def test_a_requested_profile_of_another_type_is_a_bad_request(validator: Validator) -> None:
    with pytest.raises(InvalidRequest, match="constrains Procedure"):
        await validator.validate(referral(), profiles=[BASE + "MV-Procedure"])


async def test_an_extension_definition_is_not_a_profile_to_validate_against(
    validator: Validator,
) -> None:
    with pytest.raises(InvalidRequest, match="not a profile of a resource"):
        await validator.validate(referral(), profiles=[BASE + "Extension-MV-SurgicalApproach"])


async def test_the_core_definition_of_the_type_is_accepted(validator: Validator) -> None:
    core = "http://hl7.org/fhir/StructureDefinition/ServiceRequest"
    resource = referral(meta={"profile": [core]}, authoredOn=None)
    issues = await validator.validate(resource, profiles=[f"{core}|4.0.1"])
    assert [i for i in issues if i.severity == "error" or i.code == "not-found"] == []


async def test_profiles_claimed_by_bundle_entries_are_checked(validator: Validator) -> None:
    entry = referral(id="ref-1", authoredOn=None)
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": "https://fhir.kings.nhs.uk/R4/ServiceRequest/ref-1", "resource": entry}
        ],
    }
    issues = await validator.validate(bundle)
    assert errors(issues) == [("Bundle.entry[0].resource/*ServiceRequest/ref-1*/.authoredOn",)]


async def test_delete_mode_checks_no_content(validator: Validator) -> None:
    assert await validator.validate({"resourceType": "Nonsense"}, mode="delete") == []


async def test_an_unknown_mode_is_a_bad_request(validator: Validator) -> None:
    with pytest.raises(InvalidRequest, match="mode"):
        await validator.validate(referral(), mode="patch")


@pytest.mark.parametrize("body", [[], "ServiceRequest", {"status": "active"}])
async def test_a_body_that_is_not_a_resource_gets_issues_not_a_crash(
    validator: Validator, body: Any
) -> None:
    issues = await validator.validate(body, profiles=[REFERRAL])
    assert issues and issues[0].severity == "error"
