"""validate_structure: one test per kind of problem, plus realistic UK resources that must pass."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from app.errors import Issue
from app.validation.structural import MAX_ISSUES, validate_structure
from tests.validation import uk_examples

XHTML = "http://www.w3.org/1999/xhtml"


def errors(resource: dict[str, Any]) -> list[Issue]:
    return [i for i in validate_structure(resource) if i.severity == "error"]


def only_issue(resource: dict[str, Any]) -> Issue:
    issues = validate_structure(resource)
    assert len(issues) == 1, issues
    return issues[0]


def assert_issue(resource: dict[str, Any], code: str, expression: str) -> Issue:
    issue = only_issue(resource)
    assert (issue.severity, issue.code, issue.expression) == ("error", code, (expression,))
    return issue


def patient(**elements: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", **elements}


def observation(**elements: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, **elements}


# -- valid resources ---------------------------------------------------------------------------

UK_RESOURCES: list[Callable[[], dict[str, Any]]] = [
    uk_examples.patient,
    uk_examples.service_request,
    uk_examples.procedure,
    uk_examples.observation_quantity,
    uk_examples.transaction_bundle,
    uk_examples.with_contained,
]


@pytest.mark.parametrize("build", UK_RESOURCES, ids=lambda b: b.__name__)
def test_realistic_uk_resources_are_valid(build: Callable[[], dict[str, Any]]) -> None:
    assert validate_structure(build()) == []


def test_primitive_extensions_and_nulls_aligned_with_them_are_valid() -> None:
    ext = {"url": "http://example.org/x", "valueString": "y"}
    resource = patient(
        birthDate="1970-03-01",
        _birthDate={"extension": [{"url": "http://example.org/x", "valueString": "approx"}]},
        name=[{"given": ["Ann", None, "Jo"], "_given": [None, {"extension": [ext]}, {"id": "g3"}]}],
        _gender={"extension": [{"url": "http://example.org/reason", "valueCode": "unknown"}]},
    )
    assert validate_structure(resource) == []


def test_meta_profile_is_only_base_validated() -> None:
    resource = patient(meta={"profile": ["https://example.org/StructureDefinition/unknown"]})
    assert validate_structure(resource) == []


def test_narrative_with_entities_and_allowed_markup_is_valid() -> None:
    body = "<p>Mrs&#160;A <b>Okafor</b> &amp; &lt;3</p><table><tr><td>x</td></tr></table>"
    div = f'<div xmlns="{XHTML}">{body}</div>'
    assert validate_structure(patient(text={"status": "generated", "div": div})) == []


# -- resource type -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "code"),
    [
        ({"resourceType": "Pateint"}, "structure"),
        ({"resourceType": "DomainResource"}, "structure"),
        ({"resourceType": "HumanName"}, "structure"),
        ({"resourceType": "SubscriptionStatus"}, "structure"),  # R4B/R5, not R4 4.0.1
        ({"resourceType": 7}, "structure"),
        ({"id": "x"}, "required"),
    ],
)
def test_resource_type_must_be_a_concrete_r4_type(resource: dict[str, Any], code: str) -> None:
    assert_issue(resource, code, "Resource")


def test_a_resource_must_be_an_object() -> None:
    assert_issue(["Patient"], "structure", "Resource")  # type: ignore[arg-type]


# -- elements and cardinality ------------------------------------------------------------------


def test_unknown_element() -> None:
    issue = assert_issue(patient(foo=1), "structure", "Patient.foo")
    assert issue.diagnostics == "Unknown element 'foo' in Patient"


def test_unknown_element_in_a_backbone_element() -> None:
    assert_issue(patient(contact=[{"nickname": "x"}]), "structure", "Patient.contact[0].nickname")


def test_r4_has_no_fhir_comments() -> None:
    assert_issue(patient(fhir_comments=["x"]), "structure", "Patient.fhir_comments")


def test_list_where_at_most_one_value_is_allowed() -> None:
    issue = assert_issue(patient(gender=["male"]), "structure", "Patient.gender")
    assert issue.diagnostics == "Patient.gender: at most 1 value allowed, got a list"


def test_single_value_where_json_needs_an_array() -> None:
    assert_issue(patient(name={"family": "Smith"}), "structure", "Patient.name")


def test_missing_required_element() -> None:
    issue = assert_issue(
        {"resourceType": "Observation", "code": {"text": "x"}}, "required", "Observation.status"
    )
    assert "minimum required = 1" in issue.diagnostics


def test_missing_required_choice_element() -> None:
    resource = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/1"},
    }
    assert_issue(resource, "required", "MedicationRequest.medication[x]")


def test_missing_required_element_in_a_data_type() -> None:
    assert_issue(patient(extension=[{"valueString": "x"}]), "required", "Patient.extension[0].url")


def test_required_primitive_may_be_present_as_extension_only() -> None:
    resource = {
        "resourceType": "Observation",
        "_status": {
            "extension": [
                {
                    "url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason",
                    "valueCode": "unknown",
                }
            ]
        },
        "code": {"text": "x"},
    }
    assert validate_structure(resource) == []


def test_prohibited_element_of_a_constrained_type() -> None:
    resource = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": "x"},
        "subject": {"reference": "Patient/1"},
        "dosageInstruction": [{"doseAndRate": [{"doseQuantity": {"value": 5, "comparator": "<"}}]}],
    }
    where = "MedicationRequest.dosageInstruction[0].doseAndRate[0].dose.ofType(Quantity).comparator"
    assert_issue(resource, "structure", where)


@pytest.mark.parametrize(
    ("resource", "expression"),
    [
        (patient(name=[]), "Patient.name"),
        (patient(maritalStatus={}), "Patient.maritalStatus"),
        (patient(birthDate=""), "Patient.birthDate"),
        (patient(name=[{"given": [""]}]), "Patient.name[0].given[0]"),
    ],
)
def test_empty_arrays_objects_and_strings_are_invalid(
    resource: dict[str, Any], expression: str
) -> None:
    assert_issue(resource, "structure", expression)


@pytest.mark.parametrize(
    ("resource", "expression"),
    [
        (patient(active=None), "Patient.active"),
        (patient(name=[None]), "Patient.name[0]"),
        (patient(name=[{"given": ["Ann", None]}]), "Patient.name[0].given[1]"),
    ],
)
def test_null_is_invalid(resource: dict[str, Any], expression: str) -> None:
    assert_issue(resource, "structure", expression)


def test_complex_element_must_be_an_object() -> None:
    assert_issue(patient(maritalStatus="married"), "structure", "Patient.maritalStatus")


def test_ele_1_an_element_with_only_an_id() -> None:
    assert_issue(patient(maritalStatus={"id": "m"}), "invariant", "Patient.maritalStatus")


# -- JSON types of primitives ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "expression"),
    [
        (patient(active="true"), "Patient.active"),
        (patient(birthDate=19700101), "Patient.birthDate"),
        (patient(name=[{"family": 42}]), "Patient.name[0].family"),
        (patient(multipleBirthInteger=True), "Patient.multipleBirth.ofType(integer)"),
        (observation(valueQuantity={"value": "5.4"}), "Observation.value.ofType(Quantity).value"),
        (observation(valueQuantity={"value": True}), "Observation.value.ofType(Quantity).value"),
    ],
)
def test_wrong_json_type_for_a_primitive(resource: dict[str, Any], expression: str) -> None:
    issue = assert_issue(resource, "structure", expression)
    assert issue.diagnostics.startswith("Wrong JSON type")


@pytest.mark.parametrize(
    ("resource", "expression"),
    [
        (patient(multipleBirthInteger=2**31), "Patient.multipleBirth.ofType(integer)"),
        (patient(multipleBirthInteger=1.5), "Patient.multipleBirth.ofType(integer)"),
        (patient(telecom=[{"value": "1", "rank": 0}]), "Patient.telecom[0].rank"),
        (patient(photo=[{"size": -1}]), "Patient.photo[0].size"),
    ],
)
def test_integer_ranges(resource: dict[str, Any], expression: str) -> None:
    assert_issue(resource, "value", expression)


def test_decimal_accepts_integers_and_floats() -> None:
    assert validate_structure(observation(valueQuantity={"value": 5})) == []
    assert validate_structure(observation(valueQuantity={"value": 5.25})) == []


# -- primitive formats -------------------------------------------------------------------------


def test_invalid_date_explains_the_month() -> None:
    issue = assert_issue(patient(birthDate="2020-13-45"), "value", "Patient.birthDate")
    assert (
        issue.diagnostics == "Invalid date '2020-13-45' at Patient.birthDate: month must be 01-12"
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2021-02-29", "day must be 01-28 in February 2021"),
        ("1970-1-1", "expected YYYY, YYYY-MM or YYYY-MM-DD"),
        ("1970-01-01T10:00:00Z", "a date cannot have a time; use dateTime"),
    ],
)
def test_invalid_dates(value: str, reason: str) -> None:
    issue = assert_issue(patient(birthDate=value), "value", "Patient.birthDate")
    assert issue.diagnostics.endswith(reason)


@pytest.mark.parametrize("value", ["2020", "2020-02", "2020-02-29"])
def test_partial_and_leap_dates_are_valid(value: str) -> None:
    assert validate_structure(patient(birthDate=value)) == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("2024-03-18T10:05:00", "a time requires a timezone (Z or +hh:mm)"),
        ("2024-03-18T10:05+00:00", "seconds are required when a time is given (hh:mm:ss)"),
        ("2024-03-18T24:00:00Z", "hour must be 00-23"),
    ],
)
def test_invalid_date_times(value: str, reason: str) -> None:
    issue = assert_issue(
        observation(effectiveDateTime=value), "value", "Observation.effective.ofType(dateTime)"
    )
    assert issue.diagnostics.endswith(reason)


@pytest.mark.parametrize(
    ("resource", "expression"),
    [
        (observation(issued="2024-03-18"), "Observation.issued"),
        (observation(valueTime="25:00:00"), "Observation.value.ofType(time)"),
        (patient(id="bad_id"), "Patient.id"),
        (patient(id="x" * 65), "Patient.id"),
        (patient(gender=" male"), "Patient.gender"),
        (patient(gender="ma  le"), "Patient.gender"),
        (patient(implicitRules="http://example.org/a b"), "Patient.implicitRules"),
        (patient(identifier=[{"system": "urn:oid:1.2.x"}]), "Patient.identifier[0].system"),
        (patient(identifier=[{"system": "urn:uuid:NOT-A-UUID"}]), "Patient.identifier[0].system"),
        (patient(identifier=[{"system": "oid:1.2.3"}]), "Patient.identifier[0].system"),
        (patient(photo=[{"data": "%%%2@()()"}]), "Patient.photo[0].data"),
        (
            patient(extension=[{"url": "http://x", "valueOid": "1.2.3"}]),
            "Patient.extension[0].value.ofType(oid)",
        ),
        (
            patient(extension=[{"url": "http://x", "valueUuid": "urn:uuid:ABC"}]),
            "Patient.extension[0].value.ofType(uuid)",
        ),
        (patient(name=[{"text": "a\x0bb"}]), "Patient.name[0].text"),
        (patient(name=[{"text": "x" * 1_048_577}]), "Patient.name[0].text"),
    ],
)
def test_invalid_primitive_values(resource: dict[str, Any], expression: str) -> None:
    assert_issue(resource, "value", expression)


def test_valid_base64_with_line_breaks() -> None:
    assert validate_structure(patient(photo=[{"data": "aGVs\r\nbG8="}])) == []


def test_untrimmed_string_is_only_a_warning() -> None:
    issue = only_issue(patient(name=[{"family": "Smith "}]))
    assert (issue.severity, issue.code, issue.expression) == (
        "warning",
        "value",
        ("Patient.name[0].family",),
    )


def test_attachment_size_must_match_its_data() -> None:
    assert_issue(
        patient(photo=[{"data": "aGVsbG8=", "size": 100}]), "value", "Patient.photo[0].size"
    )
    assert validate_structure(patient(photo=[{"data": "aGVsbG8=", "size": 5}])) == []


# -- choice types ------------------------------------------------------------------------------


def test_only_one_choice_variant() -> None:
    resource = observation(valueQuantity={"value": 1}, valueString="one")
    issue = assert_issue(resource, "structure", "Observation.value[x]")
    assert "'valueQuantity' and 'valueString'" in issue.diagnostics


def test_choice_variant_and_another_variants_extension_conflict() -> None:
    resource = observation(
        valueInteger=1,
        _valueString={"id": "a", "extension": [{"url": "http://x", "valueCode": "c"}]},
    )
    assert_issue(resource, "structure", "Observation.value[x]")


def test_unknown_choice_variant_is_an_unknown_element() -> None:
    assert_issue(observation(valueMoney={"value": 1}), "structure", "Observation.valueMoney")


# -- `_element` siblings -----------------------------------------------------------------------


def test_primitive_extension_must_be_an_object() -> None:
    assert_issue(patient(birthDate="1970", _birthDate="x"), "structure", "Patient.birthDate")


def test_primitive_extension_content_is_validated() -> None:
    resource = patient(_birthDate={"extension": [{"valueString": "x"}]})
    assert_issue(resource, "required", "Patient.birthDate.extension[0].url")


def test_primitive_extension_only_knows_id_and_extension() -> None:
    assert_issue(
        observation(_valueInteger={"value": 0}),
        "structure",
        "Observation.value.ofType(integer).value",
    )


def test_primitive_extension_arrays_must_align() -> None:
    resource = patient(name=[{"given": ["a", "b"], "_given": [{"id": "x"}]}])
    assert_issue(resource, "structure", "Patient.name[0].given")


def test_ele_1_primitive_with_only_an_id() -> None:
    resource = patient(name=[{"given": ["a", None], "_given": [None, {"id": "x"}]}])
    assert_issue(resource, "invariant", "Patient.name[0].given[1]")


def test_null_in_both_value_and_extension_arrays() -> None:
    resource = patient(name=[{"given": ["a", None], "_given": [None, None]}])
    assert_issue(resource, "structure", "Patient.name[0].given[1]")


@pytest.mark.parametrize("key", ["_foo", "_name", "_contained"])
def test_underscore_key_for_a_non_primitive_is_unknown(key: str) -> None:
    assert_issue(patient(**{key: {"id": "x"}}), "structure", f"Patient.{key}")


# -- extensions --------------------------------------------------------------------------------


def test_extension_with_both_value_and_extensions_breaks_ext_1() -> None:
    ext = {"url": "http://x", "valueString": "a", "extension": [{"url": "y", "valueString": "b"}]}
    issue = assert_issue(patient(extension=[ext]), "invariant", "Patient.extension[0]")
    assert issue.diagnostics.startswith("ext-1:")


def test_extension_with_neither_value_nor_extensions_breaks_ext_1() -> None:
    assert_issue(
        patient(modifierExtension=[{"url": "http://x"}]),
        "invariant",
        "Patient.modifierExtension[0]",
    )


def test_extension_url_must_be_absolute_except_for_sub_extensions() -> None:
    issue = assert_issue(
        patient(extension=[{"url": "animal", "valueString": "dog"}]),
        "value",
        "Patient.extension[0].url",
    )
    assert "must be absolute" in issue.diagnostics
    complex_ext = {
        "url": "http://example.org/animal",
        "extension": [{"url": "species", "valueString": "dog"}],
    }
    assert validate_structure(patient(extension=[complex_ext])) == []


def test_extension_value_type_is_checked() -> None:
    ext = {"url": "http://x", "valueDate": "2020-02-30"}
    assert_issue(patient(extension=[ext]), "value", "Patient.extension[0].value.ofType(date)")


def test_nested_extensions_are_checked() -> None:
    ext = {"url": "http://x", "extension": [{"url": "a", "valueBoolean": "yes"}]}
    assert_issue(
        patient(extension=[ext]),
        "structure",
        "Patient.extension[0].extension[0].value.ofType(boolean)",
    )


# -- nested resources --------------------------------------------------------------------------


def test_contained_resource_is_validated_as_its_own_type() -> None:
    resource = patient(contained=[{"resourceType": "Organization", "id": "o1", "nickname": "x"}])
    assert_issue(resource, "structure", "Patient.contained[0]/*Organization/o1*/.nickname")


def test_contained_resource_id_format() -> None:
    resource = patient(contained=[{"resourceType": "Organization", "id": "org_1"}])
    assert_issue(resource, "value", "Patient.contained[0]/*Organization/org_1*/.id")


def test_bundle_entry_resource_path_continues_through_the_resource() -> None:
    bundle = uk_examples.transaction_bundle()
    bundle["entry"][0]["resource"]["birthDate"] = "1948-02-30"
    assert_issue(bundle, "value", "Bundle.entry[0].resource/*Patient/9449306680*/.birthDate")


def test_nested_resource_without_id_is_marked_null() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": {"resourceType": "Basic"}}],
    }
    assert_issue(bundle, "required", "Bundle.entry[0].resource/*Basic/null*/.code")


def test_parameters_resource_is_validated() -> None:
    params = {
        "resourceType": "Parameters",
        "parameter": [{"name": "p", "resource": {"resourceType": "Patient", "active": 1}}],
    }
    assert_issue(params, "structure", "Parameters.parameter[0].resource/*Patient/null*/.active")


def test_unknown_nested_resource_type() -> None:
    resource = patient(contained=[{"resourceType": "Foo", "id": "f"}])
    assert_issue(resource, "structure", "Patient.contained[0]")


def test_bundle_response_outcome_must_be_an_operation_outcome() -> None:
    bundle = {
        "resourceType": "Bundle",
        "type": "batch-response",
        "entry": [{"response": {"status": "200", "outcome": {"resourceType": "Patient"}}}],
    }
    assert_issue(bundle, "structure", "Bundle.entry[0].response.outcome")


# -- narrative ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("div", "reason"),
    [
        (
            f'<div xmlns="{XHTML}"><script>alert(1)</script></div>',
            "element <script> is not allowed",
        ),
        (
            f'<div xmlns="{XHTML}"><p onclick="x()">a</p></div>',
            "attribute 'onclick' is not allowed on <p>",
        ),
        ("<div>no namespace</div>", "must be in the XHTML namespace"),
        (f'<p xmlns="{XHTML}">a</p>', "the root element must be <div>"),
        (f'<div xmlns="{XHTML}"><p>a</div>', "not well-formed XML"),
        (f'<div xmlns="{XHTML}">&nbsp;</div>', "the entity '&nbsp;' is not XML"),
    ],
)
def test_narrative_xhtml(div: str, reason: str) -> None:
    issue = assert_issue(
        patient(text={"status": "generated", "div": div}), "value", "Patient.text.div"
    )
    assert reason in issue.diagnostics


# -- limits ------------------------------------------------------------------------------------


def test_issues_are_capped() -> None:
    issues = validate_structure(patient(**{f"x{n}": 1 for n in range(MAX_ISSUES + 50)}))
    assert len(issues) == MAX_ISSUES + 1
    assert issues[-1].code == "too-costly"


def test_absurd_nesting_is_reported_not_raised() -> None:
    ext: dict[str, Any] = {"url": "http://x", "valueString": "leaf"}
    for _ in range(5000):
        ext = {"url": "http://x", "extension": [ext]}
    issues = validate_structure(patient(extension=[ext]))
    assert [i.code for i in issues] == ["structure"]
