"""The fhir.resources R4B facade: pydantic errors become issues located like ours."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from app.validation.models import fhirpath_of, parse_r4b, r4b_model_class, validate_with_r4b
from tests.validation import uk_examples


def test_valid_resource_has_no_issues() -> None:
    assert validate_with_r4b(uk_examples.patient()) == []


def test_parse_gives_a_typed_model() -> None:
    model = parse_r4b(uk_examples.procedure())
    assert type(model).__name__ == "Procedure"


def test_parse_raises_on_invalid() -> None:
    with pytest.raises(ValidationError):
        parse_r4b({"resourceType": "Patient", "gender": ["male"]})


def test_unknown_element_issue() -> None:
    issues = validate_with_r4b({"resourceType": "Patient", "foo": 1})
    assert [(i.code, i.expression) for i in issues] == [("structure", ("Patient.foo",))]


def test_missing_required_issue_located_through_primitive_extension() -> None:
    resource = {"resourceType": "Patient", "_birthDate": {"extension": [{"valueString": "x"}]}}
    issues = validate_with_r4b(resource)
    assert [(i.code, i.expression) for i in issues] == [
        ("required", ("Patient.birthDate.extension[0].url",))
    ]


def test_r4_types_missing_from_r4b_are_not_supported() -> None:
    assert r4b_model_class("MedicinalProduct") is None
    issues = validate_with_r4b({"resourceType": "MedicinalProduct"})
    assert [i.code for i in issues] == ["not-supported"]


def test_pydantic_locations_become_fhirpath() -> None:
    loc = ("valueQuantity", "value")
    assert fhirpath_of("Observation", loc) == "Observation.value.ofType(Quantity).value"
    assert fhirpath_of("Patient", ("name", 0, "given", 1)) == "Patient.name[0].given[1]"
    assert fhirpath_of("Patient", ("nope", 2)) == "Patient.nope[2]"
