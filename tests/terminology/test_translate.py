"""ConceptMap/$translate: explicit matches only, with equivalence; never a pass-through."""

from __future__ import annotations

import pytest

from app.errors import InvalidRequest, ResourceNotFound, Unprocessable
from app.terminology.local import LocalTerminology
from app.terminology.service import Coding, TranslateMatch, TranslateRequest

from .conftest import BASE, ICD10, OPCS4, SCT, ST_THOMAS

MAP = f"{BASE}/ConceptMap/local-st-thomas"


def test_a_local_procedure_maps_to_snomed_and_opcs(terminology: LocalTerminology) -> None:
    result = terminology.translate_sync(TranslateRequest(system=ST_THOMAS, code="TEER-01"))

    assert result.result is True
    assert result.message is None
    targets = [
        (m.equivalence, m.concept and (m.concept.system, m.concept.code)) for m in result.matches
    ]
    assert targets == [
        ("equivalent", (SCT, "865051000000105")),
        ("equivalent", (OPCS4, "K35.8")),
        ("relatedto", (OPCS4, "Y07.2")),
        ("relatedto", (OPCS4, "Y53.4")),
        ("relatedto", (OPCS4, "Z32.1")),
    ]
    assert result.matches[1].concept is not None
    assert result.matches[1].concept.display == (
        "Other specified therapeutic transluminal operations on valve of heart"
    )
    assert result.matches[2].comment == "Supplementary: method"
    assert {m.source for m in result.matches} == {MAP}


def test_target_system_limits_the_matches(terminology: LocalTerminology) -> None:
    result = terminology.translate_sync(
        TranslateRequest(system=ST_THOMAS, code="REF-MR", url=MAP, target_system=ICD10)
    )

    assert result.result is True
    assert result.matches == (
        TranslateMatch(
            "inexact",
            Coding(ICD10, "I34.0", "Nonrheumatic mitral (valve) insufficiency"),
            MAP,
            "rheumatic cause not known",
        ),
    )


def test_an_explicitly_unmatched_code_is_false_with_the_match(
    terminology: LocalTerminology,
) -> None:
    result = terminology.translate_sync(TranslateRequest(system=ST_THOMAS, code="CLN-HVC", url=MAP))

    assert result.result is False
    assert [(m.equivalence, m.concept) for m in result.matches] == [("unmatched", None)]
    assert result.message == (
        f"'CLN-HVC' from {ST_THOMAS} is explicitly unmatched in ConceptMap {MAP}"
    )


def test_an_unmapped_code_is_false_never_a_pass_through(terminology: LocalTerminology) -> None:
    result = terminology.translate_sync(TranslateRequest(system=ST_THOMAS, code="MVR-X", url=MAP))

    assert result.result is False
    assert result.matches == ()
    assert result.message == f"No mapping for 'MVR-X' from {ST_THOMAS} in ConceptMap {MAP}"


def test_an_unmapped_target_system_is_false(terminology: LocalTerminology) -> None:
    result = terminology.translate_sync(
        TranslateRequest(system=ST_THOMAS, code="MVR-01", target_system=OPCS4)
    )

    assert result.result is False
    assert result.message == (
        f"No mapping for 'MVR-01' from {ST_THOMAS} in any ConceptMap to {OPCS4}"
    )


def test_source_and_target_value_sets_select_maps(terminology: LocalTerminology) -> None:
    ours = terminology.translate_sync(
        TranslateRequest(system=ST_THOMAS, code="MVR-01", source=f"{BASE}/ValueSet/local-st-thomas")
    )
    other = terminology.translate_sync(
        TranslateRequest(system=ST_THOMAS, code="MVR-01", source=f"{BASE}/ValueSet/local-kings")
    )

    assert ours.result is True
    assert other.result is False


def test_reverse_finds_the_local_code(terminology: LocalTerminology) -> None:
    result = terminology.translate_sync(TranslateRequest(system=SCT, code="48724000", reverse=True))

    assert result.result is True
    assert [(m.equivalence, m.concept) for m in result.matches] == [
        ("narrower", Coding(ST_THOMAS, "REF-MR", None))
    ]


def test_a_codeable_concept_translates_each_coding(terminology: LocalTerminology) -> None:
    result = terminology.translate_sync(
        TranslateRequest(
            codeable_concept=(Coding(ST_THOMAS, "MVR-X"), Coding(ST_THOMAS, "MVR-01")),
            target_system=SCT,
        )
    )

    assert result.result is True
    assert [m.concept.code for m in result.matches if m.concept] == ["53059001"]


async def test_translate_async_and_repeat_answers_agree(terminology: LocalTerminology) -> None:
    request = TranslateRequest(system=ST_THOMAS, code="MVR-01", url=MAP)

    first = await terminology.translate(request)
    assert first == terminology.translate_sync(request)
    assert first.matches[0].concept == Coding(SCT, "53059001", "Replacement of mitral valve")


def test_an_inline_concept_map(terminology: LocalTerminology) -> None:
    inline = {
        "resourceType": "ConceptMap",
        "status": "draft",
        "group": [
            {
                "source": ST_THOMAS,
                "target": SCT,
                "element": [
                    {"code": "MVR-01", "target": [{"code": "53059001", "equivalence": "equal"}]}
                ],
            }
        ],
    }
    result = terminology.translate_sync(
        TranslateRequest(system=ST_THOMAS, code="MVR-01", concept_map=inline)
    )

    assert result.result is True
    assert result.matches[0].equivalence == "equal"

    inline["group"][0]["element"][0]["target"][0]["equivalence"] = "same"  # type: ignore[index]
    with pytest.raises(Unprocessable, match="'same' is not one of"):
        terminology.translate_sync(
            TranslateRequest(system=ST_THOMAS, code="MVR-01", concept_map=inline)
        )


def test_translate_bad_input(terminology: LocalTerminology) -> None:
    with pytest.raises(InvalidRequest) as no_system:
        terminology.translate_sync(TranslateRequest(code="MVR-01"))
    assert no_system.value.expression == ("system",)
    with pytest.raises(InvalidRequest) as nothing:
        terminology.translate_sync(TranslateRequest(url=MAP))
    assert nothing.value.expression == ("code",)
    with pytest.raises(ResourceNotFound, match="Unknown ConceptMap") as unknown_map:
        terminology.translate_sync(
            TranslateRequest(system=ST_THOMAS, code="MVR-01", url=f"{BASE}/ConceptMap/local-kings")
        )
    assert unknown_map.value.expression == ("url",)
    with pytest.raises(ResourceNotFound, match=f"No ConceptMap maps from {ICD10}"):
        terminology.translate_sync(TranslateRequest(system=ICD10, code="I34.0"))


def test_knows(terminology: LocalTerminology) -> None:
    assert terminology.knows_concept_map(MAP)
    assert terminology.knows_concept_map(f"{MAP}|1.0.0")
    assert not terminology.knows_concept_map(f"{BASE}/ConceptMap/local-kings")
    assert terminology.knows_code_system(SCT)
    assert terminology.knows_code_system(f"{ICD10}|4.0")
    assert not terminology.knows_code_system("http://hl7.org/fhir/sid/icd-10")
    assert terminology.knows_value_set(f"{BASE}/ValueSet/nyha-class|1.0.0")
    assert not terminology.knows_value_set(f"{BASE}/ValueSet/nyha-class|2.0.0")
