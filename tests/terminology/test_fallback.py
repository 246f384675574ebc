"""FallbackTerminology over the real ``terminology/`` content and a respx-mocked remote: what
our content holds is answered locally without any HTTP call, the rest goes to the remote."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from app.errors import InvalidRequest, ResourceNotFound
from app.terminology.fallback import FallbackTerminology
from app.terminology.local import LocalTerminology
from app.terminology.remote import RemoteTerminology
from app.terminology.service import (
    Coding,
    ExpandRequest,
    LookupRequest,
    SubsumesRequest,
    TranslateRequest,
    ValidateCodeRequest,
)

CONTENT = Path(__file__).resolve().parents[2] / "terminology"
REMOTE = "https://ontology.example.nhs.uk/fhir"
REGION = "https://fhir.southlondon-mitral.nhs.uk"
SCT = "http://snomed.info/sct"
ICD10_UK = "http://hl7.org/fhir/sid/icd-10-uk"
ICD10_WHO = "http://hl7.org/fhir/sid/icd-10"
ST_THOMAS = f"{REGION}/CodeSystem/local-st-thomas"
ST_THOMAS_MAP = f"{REGION}/ConceptMap/local-st-thomas"
MR_CONDITIONS = f"{REGION}/ValueSet/mr-conditions"
UKCORE_CONDITION = "https://fhir.hl7.org.uk/ValueSet/UKCore-ConditionCode"
HEART_VALVE_DISORDER = "368009"  # in SNOMED CT, not in our mitral fragment


def params(*items: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(items)}


@pytest.fixture(scope="module")
def local() -> LocalTerminology:
    return LocalTerminology.from_directory(CONTENT)


@pytest.fixture
async def both(
    local: LocalTerminology,
) -> AsyncIterator[tuple[FallbackTerminology, respx.MockRouter]]:
    with respx.mock(base_url=REMOTE, assert_all_called=False) as router:
        async with httpx.AsyncClient() as http:
            remote = RemoteTerminology(REMOTE, client=http)
            yield FallbackTerminology(local, remote), router


async def test_a_code_of_our_snomed_fragment_is_looked_up_locally(both):
    service, router = both
    anything = router.route()

    found = await service.lookup(LookupRequest(code="48724000", system=SCT))

    assert found.display == "Mitral valve regurgitation"
    assert not anything.called


async def test_a_snomed_code_outside_our_fragment_is_asked_of_the_remote(both):
    service, router = both
    route = router.get("/CodeSystem/$lookup").respond(
        200,
        json=params(
            {"name": "name", "valueString": "SNOMED CT"},
            {"name": "display", "valueString": "Heart valve disorder"},
        ),
    )

    found = await service.lookup(LookupRequest(code=HEART_VALVE_DISORDER, system=SCT))

    assert found.display == "Heart valve disorder"
    assert route.calls.last.request.url.params["code"] == HEART_VALVE_DISORDER


async def test_an_unknown_code_in_a_complete_local_system_is_the_local_answer(both):
    service, router = both
    anything = router.route()

    with pytest.raises(ResourceNotFound, match="MVR-NOPE"):
        await service.lookup(LookupRequest(code="MVR-NOPE", system=ST_THOMAS))
    found = await service.validate_code_in_code_system(
        ValidateCodeRequest(code="MVR-NOPE", system=ST_THOMAS)
    )

    assert found.result is False
    assert not anything.called


async def test_an_unknown_system_under_our_base_is_never_forwarded(both):
    service, router = both
    anything = router.route()

    with pytest.raises(ResourceNotFound):
        await service.lookup(LookupRequest(code="x", system=f"{REGION}/CodeSystem/no-such"))
    with pytest.raises(ResourceNotFound):
        await service.expand(ExpandRequest(url=f"{REGION}/ValueSet/no-such"))

    assert not anything.called


async def test_a_primary_error_is_not_a_reason_to_ask_the_remote(both):
    service, router = both
    anything = router.route()

    with pytest.raises(InvalidRequest):
        await service.lookup(LookupRequest(system=SCT))

    assert not anything.called


async def test_a_system_we_do_not_hold_is_validated_by_the_remote(both):
    service, router = both
    route = router.get("/CodeSystem/$validate-code").respond(
        200, json=params({"name": "result", "valueBoolean": True})
    )

    found = await service.validate_code_in_code_system(
        ValidateCodeRequest(code="I34.0", system=ICD10_WHO)
    )

    assert found.result is True
    assert route.calls.last.request.url.params["url"] == ICD10_WHO


async def test_our_value_set_is_local_and_another_is_remote(both):
    service, router = both
    route = router.get("/ValueSet/$validate-code").respond(
        200, json=params({"name": "result", "valueBoolean": True})
    )

    ours = await service.validate_code_in_value_set(
        ValidateCodeRequest(url=MR_CONDITIONS, coding=Coding(SCT, "111287006"))
    )
    assert ours.result is False  # TR is not an MR condition: a local answer
    assert not route.called

    theirs = await service.validate_code_in_value_set(
        ValidateCodeRequest(url=UKCORE_CONDITION, code="48724000", system=SCT)
    )
    assert theirs.result is True
    assert route.calls.last.request.url.params["url"] == UKCORE_CONDITION


async def test_expand_of_a_remote_value_set(both):
    service, router = both
    expansion = {"resourceType": "ValueSet", "expansion": {"total": 0, "contains": []}}
    route = router.get("/ValueSet/$expand").respond(200, json=expansion)

    local_expansion = await service.expand(ExpandRequest(url=MR_CONDITIONS))
    assert not route.called
    codes = {c["code"] for c in local_expansion["expansion"]["contains"]}
    assert {"48724000", "I34.0"} <= codes

    assert await service.expand(ExpandRequest(url=UKCORE_CONDITION, count=10)) == expansion


async def test_translate_with_our_map_is_local_including_an_explicit_unmatched(both):
    service, router = both
    anything = router.route()

    replaced = await service.translate(
        TranslateRequest(code="MVR-REPL", system=ST_THOMAS, target_system=SCT)
    )
    repaired = await service.translate(
        TranslateRequest(code="MVR-REP", system=ST_THOMAS, url=ST_THOMAS_MAP, target_system=SCT)
    )

    assert replaced.result is True
    assert [(m.equivalence, m.concept) for m in replaced.matches] == [
        (
            "equivalent",
            Coding(
                SCT,
                "53059001",
                "Replacement of mitral valve",
                "http://snomed.info/sct/83821000000107",
            ),
        )
    ]
    assert repaired.result is False
    assert repaired.matches[0].equivalence == "unmatched"
    assert not anything.called


async def test_reverse_translate_into_our_local_codes_is_local(both):
    service, router = both
    anything = router.route()

    found = await service.translate(
        TranslateRequest(code="53059001", system=SCT, reverse=True, url=ST_THOMAS_MAP)
    )
    unscoped = await service.translate(TranslateRequest(code="53059001", system=SCT, reverse=True))

    assert found.result is True
    assert unscoped.result is True
    assert not anything.called


async def test_translate_from_a_system_no_local_map_starts_from_goes_to_the_remote(both):
    service, router = both
    route = router.get("/ConceptMap/$translate").respond(
        200,
        json=params(
            {"name": "result", "valueBoolean": True},
            {
                "name": "match",
                "part": [
                    {"name": "equivalence", "valueCode": "equivalent"},
                    {"name": "concept", "valueCoding": {"system": ICD10_UK, "code": "I34.0"}},
                ],
            },
        ),
    )

    found = await service.translate(
        TranslateRequest(code="48724000", system=SCT, target_system=ICD10_UK)
    )

    assert found.result is True
    assert found.matches[0].concept == Coding(ICD10_UK, "I34.0")
    assert route.calls.last.request.url.params["targetsystem"] == ICD10_UK


async def test_translate_with_a_map_url_we_do_not_hold_goes_to_the_remote(both):
    service, router = both
    route = router.get("/ConceptMap/$translate").respond(
        200,
        json=params(
            {"name": "result", "valueBoolean": False},
            {"name": "message", "valueString": "No match"},
        ),
    )
    elsewhere = "https://fhir.nhs.uk/ConceptMap/example-map"

    found = await service.translate(TranslateRequest(code="48724000", system=SCT, url=elsewhere))

    assert (found.result, found.message) == (False, "No match")
    assert route.calls.last.request.url.params["url"] == elsewhere


async def test_subsumes_within_the_fragment_is_local_and_beyond_it_remote(both):
    service, router = both
    route = router.get("/CodeSystem/$subsumes").respond(
        200, json=params({"name": "outcome", "valueCode": "subsumes"})
    )

    nyha = await service.subsumes(
        SubsumesRequest(system=SCT, code_a="421518007", code_b="420300004")
    )
    assert nyha == "subsumes"
    assert not route.called

    beyond = await service.subsumes(
        SubsumesRequest(system=SCT, code_a=HEART_VALVE_DISORDER, code_b="48724000")
    )
    assert beyond == "subsumes"
    assert route.calls.last.request.url.params["codeA"] == HEART_VALVE_DISORDER


async def test_knows_is_either_side(local):
    class Nothing:
        def knows_value_set(self, url: str) -> bool:
            return False

        def knows_code_system(self, url: str) -> bool:
            return url == ICD10_WHO

    service = FallbackTerminology(local, Nothing())  # type: ignore[arg-type]

    assert service.knows_value_set(MR_CONDITIONS)
    assert not service.knows_value_set(UKCORE_CONDITION)
    assert service.knows_code_system(ICD10_WHO)
    assert service.knows_code_system(SCT)
