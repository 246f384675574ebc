"""RemoteTerminology against a respx mock of an Ontoserver-like server: the request each
operation sends (method, path, parameters), how the answer is read, and what errors become."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from http import HTTPStatus
from typing import Any

import httpx
import pytest
import respx

from app.clients import BadGateway, GatewayTimeout, UpstreamNotFound
from app.errors import InvalidRequest, NotSupported, ResourceNotFound
from app.terminology.remote import RemoteTerminology
from app.terminology.service import (
    Coding,
    ExpandRequest,
    LookupRequest,
    Property,
    SubsumesRequest,
    TranslateRequest,
    ValidateCodeRequest,
)

BASE = "https://ontology.example.nhs.uk/fhir"
SCT = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-uk"
SCT_VERSION = "http://snomed.info/sct/83821000000107/version/20260401"
UKCORE_CONDITION = "https://fhir.hl7.org.uk/ValueSet/UKCore-ConditionCode"
MR = Coding(SCT, "48724000", "Mitral valve regurgitation")


def params(*items: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(items)}


def sent_body(route: respx.Route) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(route.calls.last.request.content)
    return body


def sent_query(route: respx.Route) -> dict[str, list[str]]:
    query = route.calls.last.request.url.params
    return {k: query.get_list(k) for k in query}


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def remote() -> AsyncIterator[tuple[RemoteTerminology, respx.MockRouter, Clock]]:
    clock = Clock()
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        async with httpx.AsyncClient() as http:
            service = RemoteTerminology(BASE, timeout=3, client=http, clock=clock)
            yield service, router, clock
            await service.aclose()


LOOKUP_ANSWER = params(
    {"name": "name", "valueString": "SNOMED CT"},
    {"name": "version", "valueString": SCT_VERSION},
    {"name": "display", "valueString": "Mitral valve regurgitation"},
    {
        "name": "designation",
        "part": [
            {"name": "language", "valueCode": "en"},
            {
                "name": "use",
                "valueCoding": {"system": SCT, "code": "900000000000003001"},
            },
            {"name": "value", "valueString": "Mitral valve regurgitation (disorder)"},
        ],
    },
    {
        "name": "property",
        "part": [
            {"name": "code", "valueCode": "parent"},
            {"name": "value", "valueCode": "11851006"},
        ],
    },
    {
        "name": "property",
        "part": [
            {"name": "code", "valueCode": "inactive"},
            {"name": "value", "valueBoolean": False},
        ],
    },
    {
        "name": "property",
        "part": [
            {"name": "code", "valueCode": "moduleId"},
            {"name": "value", "valueCoding": {"system": SCT, "code": "900000000000207008"}},
        ],
    },
    {
        "name": "property",
        "part": [
            {"name": "code", "valueCode": "unknown-type"},
            {"name": "value", "valueAttachment": {}},
        ],
    },
)


async def test_lookup_by_code_is_a_get_and_reads_designations_and_properties(remote):
    service, router, _ = remote
    route = router.get("/CodeSystem/$lookup").respond(200, json=LOOKUP_ANSWER)

    found = await service.lookup(
        LookupRequest(code="48724000", system=SCT, properties=("parent", "inactive"))
    )

    assert sent_query(route) == {
        "code": ["48724000"],
        "system": [SCT],
        "property": ["parent", "inactive"],
    }
    assert found.name == "SNOMED CT"
    assert found.version == SCT_VERSION
    assert found.display == "Mitral valve regurgitation"
    assert found.designations[0].value == "Mitral valve regurgitation (disorder)"
    assert found.designations[0].language == "en"
    assert found.designations[0].use == Coding(SCT, "900000000000003001")
    assert found.properties == (
        Property("parent", "code", "11851006"),
        Property("inactive", "boolean", False),
        Property("moduleId", "Coding", Coding(SCT, "900000000000207008")),
    )


async def test_lookup_of_a_coding_is_a_post_of_parameters(remote):
    service, router, _ = remote
    route = router.post("/CodeSystem/$lookup").respond(200, json=LOOKUP_ANSWER)

    await service.lookup(LookupRequest(coding=MR, version=SCT_VERSION))

    assert sent_body(route) == params(
        {
            "name": "coding",
            "valueCoding": {
                "system": SCT,
                "code": "48724000",
                "display": "Mitral valve regurgitation",
            },
        },
        {"name": "version", "valueString": SCT_VERSION},
    )


async def test_lookup_without_a_system_is_refused_before_asking(remote):
    service, router, _ = remote
    route = router.route()

    with pytest.raises(InvalidRequest, match="code and system"):
        await service.lookup(LookupRequest(code="48724000"))
    with pytest.raises(NotSupported):
        await service.lookup(LookupRequest(code="x", code_system={"resourceType": "CodeSystem"}))

    assert not route.called


async def test_validate_code_in_value_set_get_splits_url_and_version(remote):
    service, router, _ = remote
    route = router.get("/ValueSet/$validate-code").respond(
        200,
        json=params(
            {"name": "result", "valueBoolean": True},
            {"name": "display", "valueString": "Mitral valve regurgitation"},
            {"name": "system", "valueUri": SCT},
            {"name": "code", "valueCode": "48724000"},
            {"name": "version", "valueString": SCT_VERSION},
        ),
    )

    found = await service.validate_code_in_value_set(
        ValidateCodeRequest(
            url=f"{UKCORE_CONDITION}|2.4.0",
            code="48724000",
            system=SCT,
            display="Mitral valve regurgitation",
        )
    )

    assert sent_query(route) == {
        "url": [UKCORE_CONDITION],
        "valueSetVersion": ["2.4.0"],
        "code": ["48724000"],
        "system": [SCT],
        "display": ["Mitral valve regurgitation"],
    }
    assert found.result is True
    assert (found.system, found.code, found.version) == (SCT, "48724000", SCT_VERSION)
    assert found.display == "Mitral valve regurgitation"


async def test_validate_code_reads_the_issues_of_a_failure(remote):
    service, router, _ = remote
    router.post("/ValueSet/$validate-code").respond(
        200,
        json=params(
            {"name": "result", "valueBoolean": False},
            {"name": "message", "valueString": "Wrong display 'MR' for 48724000"},
            {
                "name": "issues",
                "resource": {
                    "resourceType": "OperationOutcome",
                    "issue": [
                        {
                            "severity": "error",
                            "code": "invalid",
                            "details": {"text": "Wrong display 'MR' for 48724000"},
                            "expression": ["CodeableConcept.coding[0].display"],
                        }
                    ],
                },
            },
        ),
    )

    found = await service.validate_code_in_value_set(
        ValidateCodeRequest(url=UKCORE_CONDITION, codeable_concept=(Coding(SCT, "48724000", "MR"),))
    )

    assert found.result is False
    assert found.message == "Wrong display 'MR' for 48724000"
    assert [(i.severity, i.diagnostics, i.expression) for i in found.issues] == [
        ("error", "Wrong display 'MR' for 48724000", ("CodeableConcept.coding[0].display",))
    ]


async def test_validate_a_codeable_concept_is_a_post(remote):
    service, router, _ = remote
    route = router.post("/ValueSet/$validate-code").respond(
        200, json=params({"name": "result", "valueBoolean": True})
    )
    concept = (Coding(ICD10, "I34.0"), MR)

    await service.validate_code_in_value_set(
        ValidateCodeRequest(url=UKCORE_CONDITION, codeable_concept=concept)
    )

    assert sent_body(route) == params(
        {"name": "url", "valueUri": UKCORE_CONDITION},
        {
            "name": "codeableConcept",
            "valueCodeableConcept": {
                "coding": [
                    {"system": ICD10, "code": "I34.0"},
                    {"system": SCT, "code": "48724000", "display": "Mitral valve regurgitation"},
                ]
            },
        },
    )


async def test_validate_code_needs_exactly_one_input(remote):
    service, router, _ = remote
    route = router.route()

    with pytest.raises(InvalidRequest, match="exactly one of code, coding or codeableConcept"):
        await service.validate_code_in_value_set(
            ValidateCodeRequest(url=UKCORE_CONDITION, code="48724000", system=SCT, coding=MR)
        )
    with pytest.raises(InvalidRequest, match="exactly one of url or valueSet"):
        await service.validate_code_in_value_set(ValidateCodeRequest(code="48724000", system=SCT))
    with pytest.raises(InvalidRequest, match="needs its system"):
        await service.validate_code_in_value_set(
            ValidateCodeRequest(url=UKCORE_CONDITION, code="48724000")
        )
    assert not route.called


async def test_validate_code_answers_are_cached_until_they_expire(remote):
    service, router, clock = remote
    route = router.get("/ValueSet/$validate-code").respond(
        200, json=params({"name": "result", "valueBoolean": True})
    )
    request = ValidateCodeRequest(url=UKCORE_CONDITION, code="48724000", system=SCT)

    first = await service.validate_code_in_value_set(request)
    second = await service.validate_code_in_value_set(request)
    assert route.call_count == 1
    assert second == first

    other = ValidateCodeRequest(url=UKCORE_CONDITION, code="111287006", system=SCT)
    await service.validate_code_in_value_set(other)
    assert route.call_count == 2

    clock.now += 601
    await service.validate_code_in_value_set(request)
    assert route.call_count == 3


async def test_errors_are_not_cached(remote):
    service, router, _ = remote
    route = router.get("/ValueSet/$validate-code").mock(
        side_effect=[
            httpx.Response(500),
            httpx.Response(200, json=params({"name": "result", "valueBoolean": True})),
        ]
    )
    request = ValidateCodeRequest(url=UKCORE_CONDITION, code="48724000", system=SCT)

    with pytest.raises(BadGateway):
        await service.validate_code_in_value_set(request)
    assert (await service.validate_code_in_value_set(request)).result is True
    assert route.call_count == 2


async def test_lenient_display_is_checked_here_as_a_warning(remote):
    service, router, _ = remote
    route = router.get("/ValueSet/$validate-code").respond(
        200,
        json=params(
            {"name": "result", "valueBoolean": True},
            {"name": "display", "valueString": "Mitral valve regurgitation"},
        ),
    )

    found = await service.validate_code_in_value_set(
        ValidateCodeRequest(
            url=UKCORE_CONDITION, code="48724000", system=SCT, display="MR", lenient_display=True
        )
    )

    assert "display" not in sent_query(route)
    assert found.result is True
    assert [(i.severity, i.expression) for i in found.issues] == [("warning", ("display",))]


async def test_lenient_display_of_a_coding_strips_it_from_the_body(remote):
    service, router, _ = remote
    route = router.post("/ValueSet/$validate-code").respond(
        200,
        json=params(
            {"name": "result", "valueBoolean": True},
            {"name": "display", "valueString": "Mitral valve regurgitation"},
        ),
    )

    exact = await service.validate_code_in_value_set(
        ValidateCodeRequest(url=UKCORE_CONDITION, coding=MR, lenient_display=True)
    )
    loose = await service.validate_code_in_value_set(
        ValidateCodeRequest(
            url=UKCORE_CONDITION, coding=Coding(SCT, "48724000", "MR"), lenient_display=True
        )
    )

    assert sent_body(route)["parameter"][1] == {
        "name": "coding",
        "valueCoding": {"system": SCT, "code": "48724000"},
    }
    assert exact.issues == ()
    assert loose.result is True
    assert [(i.severity, i.expression) for i in loose.issues] == [("warning", ("Coding.display",))]


async def test_validate_code_in_code_system_sends_the_system_as_url(remote):
    service, router, _ = remote
    route = router.get("/CodeSystem/$validate-code").respond(
        200,
        json=params(
            {"name": "result", "valueBoolean": False},
            {"name": "message", "valueString": "Unknown code 'I34.9'"},
        ),
    )

    found = await service.validate_code_in_code_system(
        ValidateCodeRequest(code="I34.9", system=ICD10, system_version="5th edition")
    )

    assert sent_query(route) == {
        "code": ["I34.9"],
        "url": [ICD10],
        "version": ["5th edition"],
    }
    assert (found.result, found.message) == (False, "Unknown code 'I34.9'")


async def test_a_malformed_validate_answer_is_a_bad_gateway(remote):
    service, router, _ = remote
    router.get("/CodeSystem/$validate-code").respond(
        200, json=params({"name": "message", "valueString": "no result here"})
    )

    with pytest.raises(BadGateway, match="without a boolean result"):
        await service.validate_code_in_code_system(ValidateCodeRequest(code="I34.0", system=ICD10))


EXPANSION = {
    "resourceType": "ValueSet",
    "url": UKCORE_CONDITION,
    "expansion": {
        "identifier": "urn:uuid:1b7c3f0e-1d1f-4a55-8f5e-0f4d0b2a9f11",
        "timestamp": "2026-12-02T14:00:00Z",
        "total": 1,
        "offset": 0,
        "contains": [{"system": SCT, "code": "48724000", "display": "Mitral valve regurgitation"}],
    },
}


async def test_expand_get_carries_filter_and_paging(remote):
    service, router, _ = remote
    route = router.get("/ValueSet/$expand").respond(200, json=EXPANSION)

    found = await service.expand(
        ExpandRequest(
            url=UKCORE_CONDITION, filter="mitral regurg", count=20, offset=40, active_only=True
        )
    )

    assert sent_query(route) == {
        "url": [UKCORE_CONDITION],
        "filter": ["mitral regurg"],
        "count": ["20"],
        "offset": ["40"],
        "activeOnly": ["true"],
    }
    assert found == EXPANSION


async def test_expand_of_an_inline_value_set_posts_it(remote):
    service, router, _ = remote
    route = router.post("/ValueSet/$expand").respond(200, json=EXPANSION)
    inline = {
        "resourceType": "ValueSet",
        "status": "active",
        "compose": {
            "include": [
                {
                    "system": SCT,
                    "filter": [{"property": "concept", "op": "is-a", "value": "48724000"}],
                }
            ]
        },
    }

    await service.expand(ExpandRequest(value_set=inline, include_designations=True))

    assert sent_body(route) == params(
        {"name": "valueSet", "resource": inline},
        {"name": "includeDesignations", "valueBoolean": True},
    )


async def test_expand_answer_that_is_not_an_expansion_is_a_bad_gateway(remote):
    service, router, _ = remote
    router.get("/ValueSet/$expand").respond(200, json={"resourceType": "ValueSet"})

    with pytest.raises(BadGateway, match="without an expanded ValueSet"):
        await service.expand(ExpandRequest(url=UKCORE_CONDITION))


async def test_unknown_value_set_is_our_404_with_the_server_diagnostics(remote):
    service, router, _ = remote
    router.get("/ValueSet/$expand").respond(
        404,
        json={
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": "not-found",
                    "diagnostics": "Unable to find ValueSet https://example.org/nope",
                }
            ],
        },
    )

    with pytest.raises(UpstreamNotFound) as caught:
        await service.expand(ExpandRequest(url="https://example.org/nope"))

    assert isinstance(caught.value, ResourceNotFound)
    assert "Unable to find ValueSet https://example.org/nope" in caught.value.diagnostics
    assert "ontology.example.nhs.uk" in caught.value.diagnostics


async def test_a_slow_server_is_a_gateway_timeout(remote):
    service, router, _ = remote
    router.get("/CodeSystem/$subsumes").mock(side_effect=httpx.ReadTimeout("slow"))

    with pytest.raises(GatewayTimeout) as caught:
        await service.subsumes(SubsumesRequest(system=SCT, code_a="48724000", code_b="111287006"))

    assert caught.value.status == HTTPStatus.GATEWAY_TIMEOUT


TRANSLATE_ANSWER = params(
    {"name": "result", "valueBoolean": True},
    {
        "name": "match",
        "part": [
            {"name": "equivalence", "valueCode": "equivalent"},
            {
                "name": "concept",
                "valueCoding": {
                    "system": ICD10,
                    "code": "I34.0",
                    "display": "Nonrheumatic mitral valve insufficiency",
                },
            },
            {"name": "source", "valueUri": "http://example.org/ConceptMap/sct-icd10"},
        ],
    },
    {
        "name": "match",
        "part": [
            {"name": "relationship", "valueCode": "source-is-narrower-than-target"},
            {"name": "concept", "valueCoding": {"system": ICD10, "code": "I05.1"}},
        ],
    },
)


async def test_translate_get_and_every_match_read(remote):
    service, router, _ = remote
    route = router.get("/ConceptMap/$translate").respond(200, json=TRANSLATE_ANSWER)

    found = await service.translate(
        TranslateRequest(code="48724000", system=SCT, target_system=ICD10)
    )

    assert sent_query(route) == {
        "code": ["48724000"],
        "system": [SCT],
        "targetsystem": [ICD10],
    }
    assert found.result is True
    assert [(m.equivalence, m.concept.code if m.concept else None) for m in found.matches] == [
        ("equivalent", "I34.0"),
        ("wider", "I05.1"),
    ]
    assert found.matches[0].source == "http://example.org/ConceptMap/sct-icd10"
    assert found.matches[0].concept == Coding(
        ICD10, "I34.0", "Nonrheumatic mitral valve insufficiency"
    )


async def test_translate_is_cached(remote):
    service, router, _ = remote
    route = router.get("/ConceptMap/$translate").respond(200, json=TRANSLATE_ANSWER)
    request = TranslateRequest(code="48724000", system=SCT, target_system=ICD10)

    await service.translate(request)
    await service.translate(request)

    assert route.call_count == 1


async def test_translate_of_a_coding_with_an_inline_map_is_a_post_and_not_cached(remote):
    service, router, _ = remote
    route = router.post("/ConceptMap/$translate").respond(200, json=TRANSLATE_ANSWER)
    concept_map = {"resourceType": "ConceptMap", "status": "draft", "group": []}
    request = TranslateRequest(coding=MR, concept_map=concept_map, reverse=True)

    await service.translate(request)
    await service.translate(request)

    assert route.call_count == 2
    assert sent_body(route) == params(
        {"name": "conceptMap", "resource": concept_map},
        {
            "name": "coding",
            "valueCoding": {
                "system": SCT,
                "code": "48724000",
                "display": "Mitral valve regurgitation",
            },
        },
        {"name": "reverse", "valueBoolean": True},
    )


async def test_an_unmapped_code_is_false_with_a_message(remote):
    service, router, _ = remote
    router.get("/ConceptMap/$translate").respond(
        200,
        json=params(
            {"name": "result", "valueBoolean": False},
            {"name": "message", "valueString": "No mappings found for 409712001"},
        ),
    )

    found = await service.translate(
        TranslateRequest(code="409712001", system=SCT, target_system=ICD10)
    )

    assert (found.result, found.message, found.matches) == (
        False,
        "No mappings found for 409712001",
        (),
    )


async def test_a_server_result_true_with_only_unmatched_matches_is_not_passed_through(remote):
    service, router, _ = remote
    router.get("/ConceptMap/$translate").respond(
        200,
        json=params(
            {"name": "result", "valueBoolean": True},
            {"name": "match", "part": [{"name": "equivalence", "valueCode": "unmatched"}]},
        ),
    )

    found = await service.translate(
        TranslateRequest(code="409712001", system=SCT, url="http://example.org/ConceptMap/x")
    )

    assert found.result is False
    assert found.message
    assert found.matches[0].equivalence == "unmatched"
    assert found.matches[0].concept is None
    assert found.matches[0].source == "http://example.org/ConceptMap/x"


async def test_subsumes_get_and_post(remote):
    service, router, _ = remote
    get = router.get("/CodeSystem/$subsumes").respond(
        200, json=params({"name": "outcome", "valueCode": "not-subsumed"})
    )
    post = router.post("/CodeSystem/$subsumes").respond(
        200, json=params({"name": "outcome", "valueCode": "subsumes"})
    )

    by_code = await service.subsumes(
        SubsumesRequest(system=SCT, code_a="48724000", code_b="111287006")
    )
    by_coding = await service.subsumes(
        SubsumesRequest(coding_a=MR, coding_b=Coding(SCT, "409712001"))
    )

    assert by_code == "not-subsumed"
    assert sent_query(get) == {"codeA": ["48724000"], "codeB": ["111287006"], "system": [SCT]}
    assert by_coding == "subsumes"
    assert [p["name"] for p in sent_body(post)["parameter"]] == ["codingA", "codingB"]


async def test_subsumes_with_a_strange_outcome_is_a_bad_gateway(remote):
    service, router, _ = remote
    router.get("/CodeSystem/$subsumes").respond(
        200, json=params({"name": "outcome", "valueCode": "maybe"})
    )

    with pytest.raises(BadGateway, match="'maybe'"):
        await service.subsumes(SubsumesRequest(system=SCT, code_a="48724000", code_b="111287006"))


async def test_a_remote_claims_to_know_everything(remote):
    service, _, _ = remote
    assert service.knows_value_set(UKCORE_CONDITION)
    assert service.knows_code_system("http://example.org/anything")
