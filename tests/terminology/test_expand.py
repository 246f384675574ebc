"""ValueSet/$expand: compose semantics, text filter, paging, designations, bad requests."""

from __future__ import annotations

from typing import Any

import pytest

from app.errors import InvalidRequest, ResourceNotFound, Unprocessable
from app.terminology.local import LocalTerminology
from app.terminology.service import ExpandRequest

from .conftest import BASE, ICD10, LOINC, SCT, ST_THOMAS

NYHA = f"{BASE}/ValueSet/nyha-class"
MR = f"{BASE}/ValueSet/mr-conditions"


def codes(expanded: dict[str, Any]) -> list[str]:
    return [c["code"] for c in expanded["expansion"].get("contains", [])]


def parameters(expanded: dict[str, Any]) -> list[tuple[str, Any]]:
    return [
        (p["name"], next(v for k, v in p.items() if k.startswith("value")))
        for p in expanded["expansion"]["parameter"]
    ]


def test_a_concept_list_expands_in_order_with_displays(terminology: LocalTerminology) -> None:
    expanded = terminology.expand_sync(ExpandRequest(url=MR))

    assert expanded["resourceType"] == "ValueSet"
    assert expanded["url"] == MR
    assert "compose" not in expanded
    assert codes(expanded) == ["48724000", "409712001", "I34.0", "I34.1", "I05.1"]
    first = expanded["expansion"]["contains"][0]
    assert first == {
        "system": SCT,
        "version": "http://snomed.info/sct/83821000000107",
        "code": "48724000",
        "display": "Mitral valve regurgitation",
    }
    assert expanded["expansion"]["total"] == 5
    assert expanded["expansion"]["offset"] == 0
    assert expanded["expansion"]["identifier"].startswith("urn:uuid:")
    assert expanded["expansion"]["timestamp"].endswith("+00:00")
    assert ("used-codesystem", f"{ICD10}|5.0") in parameters(expanded)


def test_descendent_of_is_the_four_nyha_classes(terminology: LocalTerminology) -> None:
    expanded = terminology.expand_sync(ExpandRequest(url=NYHA))

    assert codes(expanded) == ["420300004", "421704003", "420913000", "422293003"]


def test_imports_union_and_exclude_by_is_a_over_a_parent_property(
    terminology: LocalTerminology,
) -> None:
    # valve-regurgitation = mr-conditions + tr-conditions, minus ICD-10 is-a I34.
    expanded = terminology.expand_sync(ExpandRequest(url=f"{BASE}/ValueSet/valve-regurgitation"))

    assert codes(expanded) == ["48724000", "409712001", "I05.1", "111287006", "I36.1"]


def test_a_system_with_an_import_is_their_intersection(terminology: LocalTerminology) -> None:
    expanded = terminology.expand_sync(ExpandRequest(url=f"{BASE}/ValueSet/mr-snomed"))

    assert codes(expanded) == ["48724000", "409712001"]


def test_a_system_alone_is_all_its_concepts(terminology: LocalTerminology) -> None:
    expanded = terminology.expand_sync(ExpandRequest(url=f"{BASE}/ValueSet/echo-measurements"))

    assert codes(expanded) == ["10230-1", "80071-4", "80061-5"]
    assert {c["system"] for c in expanded["expansion"]["contains"]} == {LOINC}


def test_an_equals_filter_on_a_declared_property(terminology: LocalTerminology) -> None:
    url = f"{BASE}/ValueSet/local-st-thomas-referral-reasons"
    expanded = terminology.expand_sync(ExpandRequest(url=url))

    assert codes(expanded) == ["REF-MR", "REF-OLD"]
    assert expanded["expansion"]["contains"][1]["inactive"] is True
    assert "inactive" not in expanded["expansion"]["contains"][0]


def test_active_only_drops_inactive_codes_and_is_echoed(terminology: LocalTerminology) -> None:
    url = f"{BASE}/ValueSet/local-st-thomas-referral-reasons"
    expanded = terminology.expand_sync(ExpandRequest(url=url, active_only=True))

    assert codes(expanded) == ["REF-MR"]
    assert ("activeOnly", True) in parameters(expanded)


def test_listed_codes_of_a_system_we_do_not_hold_expand_as_listed(
    terminology: LocalTerminology,
) -> None:
    expanded = terminology.expand_sync(ExpandRequest(url=f"{BASE}/ValueSet/referral-priority"))

    assert codes(expanded) == ["ROUTINE", "URGENT", "TWO_WEEK_WAIT"]
    assert expanded["expansion"]["contains"][2]["display"] == "Two Week Wait"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mitral", ["48724000", "409712001", "I34.0", "I34.1", "I05.1"]),
        ("MITRAL regurg", ["48724000"]),
        ("nonrheum mitral", ["I34.0", "I34.1"]),
        ("i34.1", ["I34.1"]),
        ("valve regurgitation", ["48724000"]),
        ("egurgitation", []),
    ],
)
def test_filter_matches_word_prefixes_or_the_code(
    terminology: LocalTerminology, text: str, expected: list[str]
) -> None:
    expanded = terminology.expand_sync(ExpandRequest(url=MR, filter=text))

    assert codes(expanded) == expected
    assert expanded["expansion"]["total"] == len(expected)
    assert ("filter", text) in parameters(expanded)


def test_paging_reports_the_full_filtered_total(terminology: LocalTerminology) -> None:
    page = terminology.expand_sync(ExpandRequest(url=MR, filter="mitral", offset=1, count=2))

    assert codes(page) == ["409712001", "I34.0"]
    assert page["expansion"]["total"] == 5
    assert page["expansion"]["offset"] == 1
    assert ("count", 2) in parameters(page)
    assert ("offset", 1) in parameters(page)


def test_count_zero_gives_only_the_total(terminology: LocalTerminology) -> None:
    expanded = terminology.expand_sync(ExpandRequest(url=NYHA, count=0))

    assert expanded["expansion"]["total"] == 4
    assert "contains" not in expanded["expansion"]


def test_designations_only_when_asked(terminology: LocalTerminology) -> None:
    plain = terminology.expand_sync(ExpandRequest(url=MR, count=1))
    with_designations = terminology.expand_sync(
        ExpandRequest(url=MR, count=1, include_designations=True)
    )

    assert "designation" not in plain["expansion"]["contains"][0]
    assert with_designations["expansion"]["contains"][0]["designation"] == [
        {
            "value": "Mitral regurgitation",
            "language": "en",
            "use": {"system": SCT, "code": "900000000000013009", "display": "Synonym"},
        }
    ]
    assert ("includeDesignations", True) in parameters(with_designations)


def test_a_pinned_version_and_an_unknown_one(terminology: LocalTerminology) -> None:
    pinned = terminology.expand_sync(ExpandRequest(url=f"{NYHA}|1.0.0"))
    assert len(codes(pinned)) == 4

    with pytest.raises(ResourceNotFound, match=r"nyha-class\|9.9"):
        terminology.expand_sync(ExpandRequest(url=NYHA, version="9.9"))


async def test_the_async_method_answers_the_same(terminology: LocalTerminology) -> None:
    expanded = await terminology.expand(ExpandRequest(url=NYHA))

    assert codes(expanded) == codes(terminology.expand_sync(ExpandRequest(url=NYHA)))


def test_an_inline_value_set_is_expanded_against_held_systems(
    terminology: LocalTerminology,
) -> None:
    inline = {
        "resourceType": "ValueSet",
        "status": "draft",
        "compose": {
            "include": [
                {
                    "system": ST_THOMAS,
                    "filter": [{"property": "kind", "op": "=", "value": "procedure"}],
                }
            ]
        },
    }
    expanded = terminology.expand_sync(ExpandRequest(value_set=inline))

    assert codes(expanded) == ["MVR-01", "TEER-01"]
    assert not terminology.knows_value_set("urn:inline")


def test_an_inline_value_set_naming_a_missing_code_is_unprocessable(
    terminology: LocalTerminology,
) -> None:
    inline = {
        "resourceType": "ValueSet",
        "status": "draft",
        "compose": {"include": [{"system": SCT, "concept": [{"code": "99999999"}]}]},
    }
    with pytest.raises(Unprocessable) as caught:
        terminology.expand_sync(ExpandRequest(value_set=inline))

    assert caught.value.expression == ("ValueSet.compose.include[0].concept[0].code",)
    assert "'99999999' is not in" in caught.value.diagnostics


def test_an_inline_value_set_with_a_bad_structure_is_unprocessable(
    terminology: LocalTerminology,
) -> None:
    inline = {"resourceType": "ValueSet", "compose": {"include": [{"concept": [{}]}]}}
    with pytest.raises(Unprocessable) as caught:
        terminology.expand_sync(ExpandRequest(value_set=inline))

    assert "ValueSet.compose.include[0]" in {i.expression[0] for i in caught.value.issues}


def test_an_unknown_value_set_is_not_found(terminology: LocalTerminology) -> None:
    with pytest.raises(ResourceNotFound) as caught:
        terminology.expand_sync(ExpandRequest(url=f"{BASE}/ValueSet/aortic-conditions"))

    assert caught.value.diagnostics == f"Unknown ValueSet '{BASE}/ValueSet/aortic-conditions'"
    assert caught.value.expression == ("url",)


@pytest.mark.parametrize(
    ("request_", "parameter"),
    [
        (ExpandRequest(url=MR, count=-1), "count"),
        (ExpandRequest(url=MR, offset=-5), "offset"),
        (ExpandRequest(), "url"),
    ],
)
def test_bad_paging_or_no_value_set_is_invalid(
    terminology: LocalTerminology, request_: ExpandRequest, parameter: str
) -> None:
    with pytest.raises(InvalidRequest) as caught:
        terminology.expand_sync(request_)

    assert caught.value.expression == (parameter,)


def test_value_set_codes_for_search(terminology: LocalTerminology) -> None:
    assert terminology.value_set_codes(f"{BASE}/ValueSet/tr-conditions") == {
        (SCT, "111287006"),
        (ICD10, "I36.1"),
    }


def _inline(system: str, *filters: dict[str, str], inactive: bool | None = None) -> dict[str, Any]:
    compose: dict[str, Any] = {"include": [{"system": system, "filter": list(filters)}]}
    if inactive is not None:
        compose["inactive"] = inactive
    return {"resourceType": "ValueSet", "status": "draft", "compose": compose}


@pytest.mark.parametrize(
    ("system", "flt", "expected"),
    [
        (SCT, {"property": "concept", "op": "is-a", "value": "421518007"}, 5),
        (SCT, {"property": "concept", "op": "generalizes", "value": "420913000"}, 2),
        (ICD10, {"property": "concept", "op": "is-not-a", "value": "I34"}, 2),
        (ICD10, {"property": "concept", "op": "in", "value": "I34.0, I36.1"}, 2),
        (ICD10, {"property": "parent", "op": "=", "value": "I34"}, 2),
        (ICD10, {"property": "parent", "op": "exists", "value": "false"}, 3),
        (ST_THOMAS, {"property": "kind", "op": "not-in", "value": "procedure,clinic"}, 2),
        (ST_THOMAS, {"property": "code", "op": "regex", "value": "REF-.*"}, 2),
        (SCT, {"property": "verification", "op": "=", "value": "unverified"}, 1),
    ],
)
def test_filter_operators(
    terminology: LocalTerminology, system: str, flt: dict[str, str], expected: int
) -> None:
    expanded = terminology.expand_sync(ExpandRequest(value_set=_inline(system, flt)))

    assert expanded["expansion"]["total"] == expected


def test_filters_in_one_include_are_all_applied(terminology: LocalTerminology) -> None:
    both = _inline(
        ST_THOMAS,
        {"property": "kind", "op": "=", "value": "referral-reason"},
        {"property": "inactive", "op": "=", "value": "false"},
    )

    assert codes(terminology.expand_sync(ExpandRequest(value_set=both))) == ["REF-MR"]


def test_compose_inactive_false_leaves_inactive_codes_out(terminology: LocalTerminology) -> None:
    reasons = {"property": "kind", "op": "=", "value": "referral-reason"}
    value_set = _inline(ST_THOMAS, reasons, inactive=False)

    assert codes(terminology.expand_sync(ExpandRequest(value_set=value_set))) == ["REF-MR"]


def test_an_inline_filter_on_an_unknown_property_is_unprocessable(
    terminology: LocalTerminology,
) -> None:
    value_set = _inline(SCT, {"property": "severity", "op": "=", "value": "severe"})
    with pytest.raises(Unprocessable) as caught:
        terminology.expand_sync(ExpandRequest(value_set=value_set))

    assert caught.value.expression == ("ValueSet.compose.include[0].filter[0].property",)
