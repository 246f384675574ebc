"""Parsing search requests (pure): prefixes, modifiers, escapes, chains and errors."""

from __future__ import annotations

import pytest

from app.errors import InvalidRequest
from app.model.resource_types import resource_types
from app.search.criteria import (
    CompositeValue,
    DateValue,
    NumberValue,
    OfTypeValue,
    QuantityValue,
    ReferenceValue,
    TokenValue,
    ValueSetRef,
    parse_number,
    split_escaped,
    unescape,
)
from app.search.dates import parse_range
from app.search.request import Clause, Link, SearchRequest, parse_search


def parse(res_type: str | None, *pairs: tuple[str, str]) -> SearchRequest:
    return parse_search(
        res_type, list(pairs), default_count=50, max_count=500, known_types=resource_types()
    )


def one(res_type: str, name: str, value: str) -> Clause:
    request = parse(res_type, (name, value))
    assert request.unknown == []
    [clause] = request.clauses
    return clause


def rejected(res_type: str, name: str, value: str) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as caught:
        parse(res_type, (name, value))
    return caught.value


@pytest.mark.parametrize("prefix", ["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"])
def test_every_date_prefix_is_parsed(prefix):
    [value] = one("Patient", "birthdate", f"{prefix}2024-03").values

    assert value == DateValue(prefix, *parse_range("2024-03"))


def test_a_date_without_prefix_means_eq():
    [value] = one("Patient", "birthdate", "2024").values

    assert isinstance(value, DateValue)
    assert value.prefix == "eq"


def test_instants_with_offsets_are_the_same_moment():
    [utc] = one("Encounter", "date", "2026-03-29T01:30:00+00:00").values
    [bst] = one("Encounter", "date", "2026-03-29T02:30:00+01:00").values

    assert utc == bst


@pytest.mark.parametrize(
    "value", ["2026-02-30", "xx2026", "gt2026-13", "next-tuesday", "2026-01-01T25:00:00Z", ""]
)
def test_malformed_dates_are_rejected_naming_the_parameter(value):
    error = rejected("Patient", "birthdate", value)

    assert "birthdate" in error.diagnostics
    assert error.expression == ("birthdate",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("5.4", NumberValue("eq", 5.4, 5.35, 5.45)),
        ("100", NumberValue("eq", 100.0, 99.5, 100.5)),
        ("gt2.50", NumberValue("gt", 2.5, 2.495, 2.505)),
        ("ap-3", NumberValue("ap", -3.0, -3.5, -2.5)),
    ],
)
def test_numbers_carry_their_precision_range(text, expected):
    got = parse_number("n", text)

    assert (got.prefix, got.value) == (expected.prefix, expected.value)
    assert got.low == pytest.approx(expected.low)
    assert got.high == pytest.approx(expected.high)


@pytest.mark.parametrize("value", ["five", "gt", "1,2x", "NaN", "Infinity", "zz5"])
def test_malformed_numbers_are_rejected(value):
    error = rejected("RiskAssessment", "probability", value)

    assert "probability" in error.diagnostics


def test_quantity_forms():
    clause = one("Observation", "value-quantity", "gt5.4|http://unitsofmeasure.org|mg,5||mg,7")

    full, no_system, bare = clause.values
    assert isinstance(full, QuantityValue)
    assert (full.number.prefix, full.system, full.code) == ("gt", "http://unitsofmeasure.org", "mg")
    assert isinstance(no_system, QuantityValue)
    assert (no_system.system, no_system.code) == (None, "mg")
    assert isinstance(bare, QuantityValue)
    assert (bare.system, bare.code) == (None, None)


def test_quantity_with_two_bars_only_is_rejected():
    assert "value-quantity" in rejected("Observation", "value-quantity", "5|mg").diagnostics


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("http://loinc.org|8480-6", TokenValue("http://loinc.org", "8480-6", any_system=False)),
        ("|8480-6", TokenValue(None, "8480-6", any_system=False)),
        ("http://loinc.org|", TokenValue("http://loinc.org", None, any_system=False)),
        ("8480-6", TokenValue(None, "8480-6", any_system=True)),
        ("a\\|b", TokenValue(None, "a|b", any_system=True)),
        ("s\\|x|c\\,d", TokenValue("s|x", "c,d", any_system=False)),
    ],
)
def test_token_forms_and_escapes(text, expected):
    [value] = one("Observation", "code", text).values

    assert value == expected


def test_commas_or_and_escaped_commas_do_not():
    assert len(one("Observation", "code", "a,b,c").values) == 3
    assert one("Observation", "code", "a\\,b").values == (TokenValue(None, "a,b", True),)


def test_escape_helpers():
    assert split_escaped("a\\,b,c", ",") == ["a\\,b", "c"]
    assert split_escaped("a$b\\$c", "$") == ["a", "b\\$c"]
    assert unescape("a\\,b\\$c\\|d\\\\e") == "a,b$c|d\\e"


def test_token_modifiers():
    assert one("Observation", "code:text", "Blood  PRESSURE").values == ("blood pressure",)
    assert one("Observation", "code:not", "x").modifier == "not"
    of_type = one(
        "Patient", "identifier:of-type", "http://terminology.hl7.org/CodeSystem/v2-0203|MR|123"
    )
    assert of_type.values == (
        OfTypeValue("http://terminology.hl7.org/CodeSystem/v2-0203|MR", "123"),
    )


@pytest.mark.parametrize("value", ["MR|123", "a|b|c|d", "||1"])
def test_malformed_of_type_is_rejected(value):
    assert "of-type" in rejected("Patient", "identifier:of-type", value).diagnostics


@pytest.mark.parametrize("modifier", ["in", "not-in"])
def test_terminology_modifiers_take_value_set_urls(modifier):
    url = "https://fhir.southlondon-mitral.nhs.uk/ValueSet/mr-conditions"
    (clause,) = parse("Condition", (f"code:{modifier}", f"{url},http://x.org/vs")).clauses

    assert clause.modifier == modifier
    assert clause.values == (ValueSetRef(url), ValueSetRef("http://x.org/vs"))


@pytest.mark.parametrize("value", ["", "http://x.org/a vs"])
def test_a_terminology_modifier_needs_a_url(value):
    error = rejected("Condition", "code:in", value)

    assert "ValueSet url" in error.diagnostics
    assert error.expression == ("code:in",)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("code:exact", "x"),
        ("code:below", "x"),
        ("name:text", "x"),
        ("birthdate:exact", "2020"),
        ("subject:identifier:x", "x"),
        ("url:contains", "x"),
        ("_id:exact", "x"),
        ("subject:Starship", "1"),
    ],
)
def test_modifiers_a_type_does_not_have_are_rejected(name, value):
    res_type = (
        "ValueSet"
        if name.startswith("url")
        else "Patient"
        if name.startswith("name")
        else "Observation"
    )
    if name.startswith("birthdate"):
        res_type = "Patient"
    error = rejected(res_type, name, value)

    assert "not supported" in error.diagnostics or "not a resource type" in error.diagnostics


def test_string_values_are_normalised_except_exact():
    assert one("Patient", "name", "Zoë  O'Brien").values == ("zoe o'brien",)
    assert one("Patient", "name:contains", "ÉLODIE").values == ("elodie",)
    assert one("Patient", "name:exact", "Zoë").values == ("Zoë",)


def test_reference_forms():
    values = one(
        "Observation",
        "subject",
        "p1,Patient/p2,http://other.org/fhir/Patient/p3,Patient/p4/_history/2",
    ).values

    assert values == (
        ReferenceValue(None, "p1", None, None),
        ReferenceValue("Patient", "p2", None, None),
        ReferenceValue(None, None, "http://other.org/fhir/Patient/p3", None),
        ReferenceValue("Patient", "p4", None, None),
    )


def test_reference_type_modifier_and_canonical_version():
    assert one("Observation", "subject:Patient", "p1").values == (
        ReferenceValue("Patient", "p1", None, None),
    )
    assert one("PlanDefinition", "definition", "http://x.org/Q|2.0").values == (
        ReferenceValue(None, None, "http://x.org/Q", "2.0"),
    )
    assert "contradicts" in rejected("Observation", "subject:Patient", "Group/g1").diagnostics


def test_reference_identifier_modifier_is_a_token():
    assert one(
        "Observation", "subject:identifier", "https://fhir.nhs.uk/Id/nhs-number|9"
    ).values == (TokenValue("https://fhir.nhs.uk/Id/nhs-number", "9", any_system=False),)


def test_uri_modifiers():
    assert one("ValueSet", "url:below", "http://x.org/fhir").modifier == "below"
    assert one("ValueSet", "url:above", "http://x.org/fhir/ValueSet/a").modifier == "above"


def test_composite_splits_components_on_dollar():
    [value] = one("Observation", "code-value-quantity", "http://loinc.org|8480-6$gt100").values

    assert isinstance(value, CompositeValue)
    token, quantity = value.parts
    assert token == TokenValue("http://loinc.org", "8480-6", any_system=False)
    assert isinstance(quantity, QuantityValue)
    assert quantity.number.prefix == "gt"


def test_composite_with_the_wrong_number_of_components_is_rejected():
    assert (
        "'$'"
        in rejected("Observation", "code-value-quantity", "http://loinc.org|8480-6").diagnostics
    )


@pytest.mark.parametrize("name", ["birthdate", "name", "gender", "general-practitioner"])
def test_missing_on_every_type(name):
    assert one("Patient", f"{name}:missing", "true").values == (True,)
    assert one("Patient", f"{name}:missing", "false").values == (False,)
    assert "true or false" in rejected("Patient", f"{name}:missing", "maybe").diagnostics


def test_forward_chain_with_a_type_modifier():
    clause = one("Observation", "subject:Patient.name", "okafor")

    assert clause.param == "name"
    assert clause.types == ("Patient",)
    assert clause.chain == (Link(True, "subject", ("Observation",)),)


def test_forward_chain_without_a_type_uses_targets_that_have_the_parameter():
    clause = one("Patient", "general-practitioner.name", "smith")

    assert set(clause.types) == {"Practitioner", "Organization"}


def test_chains_of_several_levels():
    clause = one("Observation", "subject:Patient.organization.name", "guy")

    assert clause.types == ("Organization",)
    assert [link.param for link in clause.chain] == ["subject", "organization"]


def test_reverse_chain_and_nested_reverse_chain():
    clause = one("Patient", "_has:Observation:subject:code", "8480-6")
    nested = one(
        "Patient", "_has:Observation:subject:_has:Provenance:target:agent", "Practitioner/x"
    )

    assert clause.chain == (Link(False, "subject", ("Observation",)),)
    assert clause.types == ("Observation",)
    assert [link.forward for link in nested.chain] == [False, False]
    assert nested.types == ("Provenance",)


def test_malformed_has_is_rejected():
    assert "_has" in rejected("Patient", "_has:Observation", "x").diagnostics
    assert "Starship" in rejected("Patient", "_has:Starship:subject:code", "x").diagnostics


def test_chaining_a_non_reference_is_rejected():
    assert "cannot be chained" in rejected("Patient", "birthdate.name", "x").diagnostics


def test_unknown_parameters_and_unknown_chain_ends_are_collected():
    request = parse("Patient", ("colour", "green"), ("general-practitioner.colour", "x"))

    assert request.unknown == ["colour", "general-practitioner.colour"]
    assert request.clauses == []


def test_applied_parameters_are_echoed_in_order():
    request = parse("Patient", ("name", "a"), ("_count", "5"), ("colour", "x"), ("gender", "male"))

    assert request.echo == [("name", "a"), ("_count", "5"), ("gender", "male")]


def test_sort_keys_and_directions():
    request = parse("Patient", ("_sort", "-birthdate,family"), ("_sort", "_id"))

    assert [(k.param, k.type, k.descending) for k in request.sort] == [
        ("birthdate", "date", True),
        ("family", "string", False),
        ("_id", "token", False),
    ]
    assert request.echo == [("_sort", "-birthdate,family"), ("_sort", "_id")]


def test_sort_on_unknown_or_unorderable_parameters_is_collected_as_unknown():
    request = parse("Patient", ("_sort", "colour,general-practitioner,-family"))

    assert request.unknown == ["_sort=colour", "_sort=general-practitioner"]
    assert [k.param for k in request.sort] == ["family"]
    assert parse(None, ("_sort", "_id")).unknown == ["_sort=_id"]


def test_absolute_references_to_this_server_become_relative():
    request = parse_search(
        "Observation",
        [("subject", "http://testserver/fhir/Patient/p1,http://other/fhir/Patient/p1")],
        default_count=50,
        max_count=500,
        known_types=resource_types(),
        base="http://testserver/fhir",
    )

    assert request.clauses[0].values == (
        ReferenceValue("Patient", "p1", None, None),
        ReferenceValue(None, None, "http://other/fhir/Patient/p1", None),
    )


def test_id_takes_plain_ids_only():
    assert "_id" in rejected("Patient", "_id", "sys|p1").diagnostics
