"""$validate-code against ValueSets and CodeSystems: membership, displays, bad input."""

from __future__ import annotations

import pytest

from app.errors import InvalidRequest, ResourceNotFound
from app.terminology.local import LocalTerminology
from app.terminology.service import Coding, ValidateCodeRequest

from .conftest import BASE, ICD10, SCT

MR = f"{BASE}/ValueSet/mr-conditions"
TR = f"{BASE}/ValueSet/tr-conditions"


def test_a_code_in_the_value_set_is_valid_with_its_display(
    terminology: LocalTerminology,
) -> None:
    result = terminology.validate_code_in_value_set_sync(
        ValidateCodeRequest(url=MR, system=SCT, code="48724000")
    )

    assert result.result is True
    assert result.display == "Mitral valve regurgitation"
    assert result.message is None
    assert result.issues == ()


@pytest.mark.parametrize(
    "display",
    ["Mitral valve regurgitation", "  mitral  VALVE regurgitation ", "Mitral regurgitation"],
)
def test_the_preferred_display_or_a_designation_is_accepted(
    terminology: LocalTerminology, display: str
) -> None:
    result = terminology.validate_code_in_value_set_sync(
        ValidateCodeRequest(url=MR, system=SCT, code="48724000", display=display)
    )

    assert result.result is True


def test_a_wrong_display_is_an_error_naming_the_expected_one(
    terminology: LocalTerminology,
) -> None:
    result = terminology.validate_code_in_value_set_sync(
        ValidateCodeRequest(url=MR, coding=Coding(SCT, "48724000", "Mitral regurg"))
    )

    assert result.result is False
    assert result.message == (
        "Wrong display 'Mitral regurg' for http://snomed.info/sct#48724000: "
        "expected 'Mitral valve regurgitation'"
    )
    (issue,) = result.issues
    assert (issue.severity, issue.code, issue.expression) == (
        "error",
        "invalid",
        ("Coding.display",),
    )
    assert result.display == "Mitral valve regurgitation"


def test_a_wrong_display_is_a_warning_when_lenient(terminology: LocalTerminology) -> None:
    result = terminology.validate_code_in_value_set_sync(
        ValidateCodeRequest(
            url=MR, system=SCT, code="48724000", display="Mitral regurg", lenient_display=True
        )
    )

    assert result.result is True
    assert [i.severity for i in result.issues] == ["warning"]


def test_a_code_of_the_system_but_not_the_value_set(terminology: LocalTerminology) -> None:
    result = terminology.validate_code_in_value_set_sync(
        ValidateCodeRequest(url=TR, system=ICD10, code="I34.0")
    )

    assert result.result is False
    assert result.message == (
        "The code 'I34.0' from http://hl7.org/fhir/sid/icd-10-uk is not in the value set "
        "https://fhir.southlondon-mitral.nhs.uk/ValueSet/tr-conditions"
    )
    assert result.issues[0].code == "code-invalid"
    assert result.issues[0].expression == ("Coding.code",)


def test_a_code_in_the_wrong_system_says_where_it_belongs(terminology: LocalTerminology) -> None:
    result = terminology.validate_code_in_value_set_sync(
        ValidateCodeRequest(url=MR, system=ICD10, code="48724000")
    )

    assert result.result is False
    assert result.message == (
        "Unknown code '48724000' in http://hl7.org/fhir/sid/icd-10-uk "
        "(it is a code of http://snomed.info/sct)"
    )


def test_an_unknown_code_of_a_held_system(terminology: LocalTerminology) -> None:
    result = terminology.validate_code_in_value_set_sync(
        ValidateCodeRequest(url=MR, system=SCT, code="X")
    )

    assert result.result is False
    assert result.message == "Unknown code 'X' in http://snomed.info/sct"


def test_a_system_we_do_not_hold_is_result_false_with_a_message(
    terminology: LocalTerminology,
) -> None:
    result = terminology.validate_code_in_value_set_sync(
        ValidateCodeRequest(url=MR, system="http://hl7.org/fhir/sid/icd-10", code="I34.0")
    )

    assert result.result is False
    assert result.message is not None
    assert result.message.startswith("Unknown code system 'http://hl7.org/fhir/sid/icd-10'")
    assert result.issues[0].expression == ("Coding.system",)


def test_a_listed_code_of_an_unheld_system_is_valid(terminology: LocalTerminology) -> None:
    result = terminology.validate_code_in_value_set_sync(
        ValidateCodeRequest(
            url=f"{BASE}/ValueSet/referral-priority",
            coding=Coding("https://fhir.nhs.uk/STU3/CodeSystem/eRS-Priority-1", "URGENT", "Urgent"),
        )
    )

    assert result.result is True


def test_a_codeable_concept_is_valid_if_any_coding_is(terminology: LocalTerminology) -> None:
    result = terminology.validate_code_in_value_set_sync(
        ValidateCodeRequest(
            url=TR,
            codeable_concept=(Coding(ICD10, "I34.0"), Coding(SCT, "111287006")),
        )
    )

    assert result.result is True
    assert result.display == "Tricuspid valve regurgitation"
    (issue,) = result.issues
    assert issue.severity == "information"
    assert issue.expression == ("CodeableConcept.coding[0].code",)


def test_a_codeable_concept_with_no_valid_coding_reports_each(
    terminology: LocalTerminology,
) -> None:
    result = terminology.validate_code_in_value_set_sync(
        ValidateCodeRequest(
            url=TR,
            codeable_concept=(Coding(ICD10, "I34.0"), Coding(SCT, "111287006", "TR")),
        )
    )

    assert result.result is False
    assert [i.expression for i in result.issues] == [
        ("CodeableConcept.coding[0].code",),
        ("CodeableConcept.coding[1].display",),
    ]
    assert all(i.severity == "error" for i in result.issues)


def test_a_single_system_value_set_infers_a_missing_system(terminology: LocalTerminology) -> None:
    result = terminology.validate_code_in_value_set_sync(
        ValidateCodeRequest(url=f"{BASE}/ValueSet/nyha-class", code="422293003")
    )

    assert result.result is True
    assert result.system == SCT


def test_a_code_without_system_in_a_multi_system_value_set_is_invalid(
    terminology: LocalTerminology,
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        terminology.validate_code_in_value_set_sync(ValidateCodeRequest(url=MR, code="I34.0"))

    assert caught.value.expression == ("system",)


def test_no_code_at_all_is_invalid(terminology: LocalTerminology) -> None:
    with pytest.raises(InvalidRequest) as caught:
        terminology.validate_code_in_value_set_sync(ValidateCodeRequest(url=MR))

    assert caught.value.expression == ("code",)
    assert "One of code, coding or codeableConcept is required" in caught.value.diagnostics


def test_an_unknown_value_set_is_not_found(terminology: LocalTerminology) -> None:
    with pytest.raises(ResourceNotFound, match="Unknown ValueSet"):
        terminology.validate_code_in_value_set_sync(
            ValidateCodeRequest(url=f"{BASE}/ValueSet/nope", system=SCT, code="48724000")
        )


def test_an_unknown_system_version_is_result_false(terminology: LocalTerminology) -> None:
    result = terminology.validate_code_in_value_set_sync(
        ValidateCodeRequest(url=MR, system=ICD10, code="I34.0", system_version="3.0")
    )

    assert result.result is False
    assert result.message == "Unknown version '3.0' of http://hl7.org/fhir/sid/icd-10-uk"


def test_a_snomed_release_matches_the_module_we_hold(terminology: LocalTerminology) -> None:
    release = "http://snomed.info/sct/83821000000107/version/20250401"
    result = terminology.validate_code_in_value_set_sync(
        ValidateCodeRequest(url=MR, system=SCT, code="48724000", system_version=release)
    )

    assert result.result is True


def test_an_inline_value_set(terminology: LocalTerminology) -> None:
    inline = {
        "resourceType": "ValueSet",
        "url": f"{BASE}/ValueSet/draft-tr",
        "status": "draft",
        "compose": {"include": [{"system": ICD10, "concept": [{"code": "I36.1"}]}]},
    }
    good = terminology.validate_code_in_value_set_sync(
        ValidateCodeRequest(value_set=inline, system=ICD10, code="I36.1")
    )
    bad = terminology.validate_code_in_value_set_sync(
        ValidateCodeRequest(value_set=inline, system=ICD10, code="I34.0")
    )

    assert good.result is True
    assert bad.result is False
    assert bad.message is not None and bad.message.endswith(f"{BASE}/ValueSet/draft-tr")


async def test_the_async_methods_answer_the_same(terminology: LocalTerminology) -> None:
    request = ValidateCodeRequest(url=TR, system=ICD10, code="I36.1")

    assert await terminology.validate_code_in_value_set(request) == (
        terminology.validate_code_in_value_set_sync(request)
    )
    cs_request = ValidateCodeRequest(system=ICD10, code="I36.1")
    assert await terminology.validate_code_in_code_system(cs_request) == (
        terminology.validate_code_in_code_system_sync(cs_request)
    )


# --- CodeSystem/$validate-code ---------------------------------------------------------------


def test_code_system_validate_code(terminology: LocalTerminology) -> None:
    good = terminology.validate_code_in_code_system_sync(
        ValidateCodeRequest(url=ICD10, code="I34.1", display="Nonrheumatic mitral (valve) prolapse")
    )
    wrong = terminology.validate_code_in_code_system_sync(
        ValidateCodeRequest(url=ICD10, code="I34.1", display="Mitral prolapse")
    )
    unknown = terminology.validate_code_in_code_system_sync(
        ValidateCodeRequest(url=ICD10, code="I99.9")
    )

    assert (good.result, good.display, good.version) == (
        True,
        "Nonrheumatic mitral (valve) prolapse",
        "5.0",
    )
    assert wrong.result is False
    assert wrong.message is not None and wrong.message.startswith("Wrong display 'Mitral prolapse'")
    assert unknown.result is False
    assert unknown.message == "Unknown code 'I99.9' in http://hl7.org/fhir/sid/icd-10-uk"


def test_code_system_validate_code_pins_a_version(terminology: LocalTerminology) -> None:
    # I34.1 is only in our 5.0 subset; the 4.0 one holds I34.0 alone.
    result = terminology.validate_code_in_code_system_sync(
        ValidateCodeRequest(url=ICD10, code="I34.1", system_version="4.0")
    )

    assert result.result is False


def test_code_system_validate_code_for_a_coding_of_another_system(
    terminology: LocalTerminology,
) -> None:
    result = terminology.validate_code_in_code_system_sync(
        ValidateCodeRequest(url=ICD10, coding=Coding(SCT, "48724000"))
    )

    assert result.result is False
    assert result.issues[0].expression == ("Coding.system",)


def test_code_system_validate_code_for_an_unknown_system_is_not_found(
    terminology: LocalTerminology,
) -> None:
    with pytest.raises(ResourceNotFound) as caught:
        terminology.validate_code_in_code_system_sync(
            ValidateCodeRequest(url="http://hl7.org/fhir/sid/icd-10", code="I34.0")
        )

    assert caught.value.diagnostics == "Unknown code system 'http://hl7.org/fhir/sid/icd-10'"


def test_code_system_validate_code_against_an_inline_code_system(
    terminology: LocalTerminology,
) -> None:
    inline = {
        "resourceType": "CodeSystem",
        "url": f"{BASE}/CodeSystem/mr-aetiology",
        "status": "draft",
        "content": "complete",
        "concept": [{"code": "primary", "display": "Primary (degenerative)"}],
    }
    result = terminology.validate_code_in_code_system_sync(
        ValidateCodeRequest(code_system=inline, code="primary")
    )

    assert result.result is True
    assert result.display == "Primary (degenerative)"
