"""The terminology operations over HTTP, on the real content under terminology/.

Each operation is called four ways where it applies (GET and POST, type and instance level)
and must answer the same. Codes are the regional ones from domain.md.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.fhir.publish import publish_terminology
from app.terminology.local import LocalTerminology

BASE = "https://fhir.southlondon-mitral.nhs.uk"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-uk"
OPCS4 = "http://fhir.hl7.org.uk/CodeSystem/OPCS-4"
MR_CONDITIONS = f"{BASE}/ValueSet/mr-conditions"
NYHA = f"{BASE}/ValueSet/nyha-class"
ST_THOMAS = f"{BASE}/CodeSystem/local-st-thomas"
ST_THOMAS_MAP = f"{BASE}/ConceptMap/local-st-thomas"
PATHWAY_STAGE = f"{BASE}/CodeSystem/pathway-stage"
FHIR_JSON = {"Content-Type": "application/fhir+json"}
# The value[x] each input is sent as in a POST (the R4 OperationDefinitions' types).
VALUE_TYPES = {
    "url": "valueUri",
    "system": "valueUri",
    "code": "valueCode",
    "display": "valueString",
    "version": "valueString",
    "filter": "valueString",
    "count": "valueInteger",
    "offset": "valueInteger",
    "activeOnly": "valueBoolean",
    "includeDesignations": "valueBoolean",
    "property": "valueCode",
    "codeA": "valueCode",
    "codeB": "valueCode",
    "target": "valueUri",
    "targetsystem": "valueUri",
}
MR_CODES = {
    (SNOMED, "48724000"),
    (SNOMED, "409712001"),
    (ICD10, "I34.0"),
    (ICD10, "I34.1"),
    (ICD10, "I05.1"),
    (ICD10, "I05.2"),
}

Params = list[tuple[str, Any]]


@pytest.fixture
async def published(app: FastAPI, client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The content as start-up publishes it (tables are emptied before each test)."""
    ctx = app.state.fhir
    assert isinstance(ctx.terminology, LocalTerminology)
    await publish_terminology(ctx, ctx.terminology.resources())
    return client


def parameters(params: Params) -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": "Parameters"}
    if params:  # R4 forbids an empty array
        body["parameter"] = [{"name": name, VALUE_TYPES[name]: value} for name, value in params]
    return body


def _query(params: Params) -> httpx.QueryParams:
    return httpx.QueryParams(
        [(n, str(v).lower() if isinstance(v, bool) else str(v)) for n, v in params]
    )


def _comparable(body: dict[str, Any]) -> dict[str, Any]:
    """Without what differs between two runs of the same expansion, and the stored meta."""
    out = {k: v for k, v in body.items() if k != "meta"}
    if "expansion" in out:
        out["expansion"] = {
            k: v for k, v in out["expansion"].items() if k not in ("identifier", "timestamp")
        }
    return out


async def get(client: httpx.AsyncClient, path: str, params: Params) -> dict[str, Any]:
    response = await client.get(path, params=_query(params))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/fhir+json; charset=utf-8"
    body: dict[str, Any] = response.json()
    return body


async def post(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body, headers=FHIR_JSON)
    assert response.status_code == 200, response.text
    out: dict[str, Any] = response.json()
    return out


async def four_ways(
    client: httpx.AsyncClient, type_path: str, instance_path: str, target: Params, rest: Params
) -> dict[str, Any]:
    """GET and POST, at type level (``target`` names the resource) and instance level."""
    answers = [
        await get(client, type_path, target + rest),
        await post(client, type_path, parameters(target + rest)),
        await get(client, instance_path, rest),
        await post(client, instance_path, parameters(rest)),
    ]
    first = _comparable(answers[0])
    for answer in answers[1:]:
        assert _comparable(answer) == first
    return answers[0]


def named(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [p for p in body["parameter"] if p["name"] == name]


def value(body: dict[str, Any], name: str) -> Any:
    [found] = named(body, name)
    return next(v for k, v in found.items() if k.startswith("value"))


def parts(parameter: dict[str, Any]) -> dict[str, Any]:
    return {
        p["name"]: next(v for k, v in p.items() if k.startswith("value")) for p in parameter["part"]
    }


def codes(expansion: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["system"], c["code"]) for c in expansion["expansion"].get("contains", [])]


# --- ValueSet/$expand ----------------------------------------------------------------------


async def test_expand_the_same_four_ways(published):
    body = await four_ways(
        published,
        "ValueSet/$expand",
        "ValueSet/mr-conditions/$expand",
        [("url", MR_CONDITIONS)],
        [],
    )

    assert body["resourceType"] == "ValueSet"
    assert body["url"] == MR_CONDITIONS
    assert body["expansion"]["total"] == 6
    assert set(codes(body)) == MR_CODES
    displays = {c["code"]: c.get("display") for c in body["expansion"]["contains"]}
    assert displays["48724000"] == "Mitral valve regurgitation"


async def test_expand_pages_with_count_and_offset_keeping_the_full_total(published):
    pages = [
        await get(
            published,
            "ValueSet/$expand",
            [("url", MR_CONDITIONS), ("count", 4), ("offset", offset)],
        )
        for offset in (0, 4, 8)
    ]

    assert [len(codes(p)) for p in pages] == [4, 2, 0]
    assert [p["expansion"]["total"] for p in pages] == [6, 6, 6]
    assert [p["expansion"]["offset"] for p in pages] == [0, 4, 8]
    seen = codes(pages[0]) + codes(pages[1])
    assert len(seen) == len(set(seen))
    assert set(seen) == MR_CODES


async def test_expand_filter_matches_words_of_the_display(published):
    body = await four_ways(
        published,
        "ValueSet/$expand",
        "ValueSet/mr-conditions/$expand",
        [("url", MR_CONDITIONS)],
        [("filter", "prolapse")],
    )

    assert set(codes(body)) == {(SNOMED, "409712001"), (ICD10, "I34.1")}
    assert body["expansion"]["total"] == 2
    assert {"name": "filter", "valueString": "prolapse"} in body["expansion"]["parameter"]


async def test_expand_of_an_is_a_filter_over_the_snomed_hierarchy(published):
    body = await get(published, "ValueSet/$expand", [("url", NYHA)])

    # descendent-of 421518007 NYHA classification: its four classes, not itself.
    assert set(codes(body)) == {
        (SNOMED, "420300004"),
        (SNOMED, "421704003"),
        (SNOMED, "420913000"),
        (SNOMED, "422293003"),
    }


async def test_expand_active_only_drops_a_retired_local_code(published):
    """Royal Brompton's pre-merger RT3 MitraClip code is inactive: listed (flagged) by
    default, gone with activeOnly, while the centre's current codes stay."""
    url = f"{BASE}/ValueSet/local-royal-brompton"
    everything = await four_ways(
        published, "ValueSet/$expand", "ValueSet/local-royal-brompton/$expand", [("url", url)], []
    )
    active = await four_ways(
        published,
        "ValueSet/$expand",
        "ValueSet/local-royal-brompton/$expand",
        [("url", url)],
        [("activeOnly", True)],
    )

    retired = [c for c in everything["expansion"]["contains"] if c["code"] == "RT3-MCLIP"]
    assert retired and retired[0]["inactive"] is True
    assert {"name": "activeOnly", "valueBoolean": True} in active["expansion"]["parameter"]
    assert "RT3-MCLIP" not in {code for _, code in codes(active)}
    assert active["expansion"]["total"] == everything["expansion"]["total"] - 1
    assert "RBH-TEER" in {code for _, code in codes(active)}


async def test_expand_include_designations(published):
    """MR aetiology carries synonyms (degenerative / functional): returned only when asked."""
    url = f"{BASE}/ValueSet/mr-aetiology"
    with_designations = await get(
        published, "ValueSet/$expand", [("url", url), ("includeDesignations", True)]
    )
    without = await get(published, "ValueSet/$expand", [("url", url)])

    by_code = {c["code"]: c for c in with_designations["expansion"]["contains"]}
    assert [d["value"] for d in by_code["secondary"]["designation"]] == ["Functional MR", "FMR"]
    assert by_code["secondary"]["designation"][0]["use"]["code"] == "900000000000013009"
    assert "designation" not in by_code["mixed"]
    assert not any("designation" in c for c in without["expansion"]["contains"])


async def test_a_synonym_is_an_accepted_display(published):
    body = await get(
        published,
        "CodeSystem/$validate-code",
        [("url", f"{BASE}/CodeSystem/mr-aetiology"), ("code", "primary"), ("display", "DMR")],
    )

    assert {"name": "result", "valueBoolean": True} in body["parameter"]


# --- ValueSet/$validate-code ---------------------------------------------------------------


async def test_validate_code_in_value_set_with_code_four_ways(published):
    body = await four_ways(
        published,
        "ValueSet/$validate-code",
        "ValueSet/mr-conditions/$validate-code",
        [("url", MR_CONDITIONS)],
        [("system", SNOMED), ("code", "48724000"), ("display", "Mitral valve regurgitation")],
    )

    assert value(body, "result") is True
    assert value(body, "display") == "Mitral valve regurgitation"
    assert not named(body, "issues")


async def test_validate_code_in_value_set_with_a_coding(published):
    coding = {"system": ICD10, "code": "I34.0"}
    body = await post(
        published,
        "ValueSet/$validate-code",
        {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "url", "valueUri": MR_CONDITIONS},
                {"name": "coding", "valueCoding": coding},
            ],
        },
    )

    assert value(body, "result") is True
    assert value(body, "display") == "Nonrheumatic mitral (valve) insufficiency"


async def test_validate_code_in_value_set_with_a_codeable_concept(published):
    """One coding in the set is enough; the other (a local code) does not make it fail."""
    concept = {
        "coding": [
            {"system": ST_THOMAS, "code": "RR-MR"},
            {"system": SNOMED, "code": "48724000"},
        ],
        "text": "Mitral regurgitation for assessment",
    }
    body = await post(
        published,
        "ValueSet/mr-conditions/$validate-code",
        {
            "resourceType": "Parameters",
            "parameter": [{"name": "codeableConcept", "valueCodeableConcept": concept}],
        },
    )

    assert value(body, "result") is True


async def test_validate_code_reports_a_wrong_display(published):
    body = await four_ways(
        published,
        "ValueSet/$validate-code",
        "ValueSet/mr-conditions/$validate-code",
        [("url", MR_CONDITIONS)],
        [("system", SNOMED), ("code", "48724000"), ("display", "Mitral stenosis")],
    )

    assert value(body, "result") is False
    assert "Mitral stenosis" in value(body, "message")
    assert value(body, "display") == "Mitral valve regurgitation"
    [issues] = named(body, "issues")
    outcome = issues["resource"]
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == ["Coding.display"]


async def test_validate_code_of_a_code_outside_the_value_set(published):
    # 111287006 Tricuspid valve regurgitation is SNOMED CT, but not an MR condition.
    body = await get(
        published,
        "ValueSet/$validate-code",
        [("url", MR_CONDITIONS), ("system", SNOMED), ("code", "111287006")],
    )

    assert value(body, "result") is False
    assert "111287006" in value(body, "message")


# --- CodeSystem/$validate-code -------------------------------------------------------------


async def test_validate_code_in_code_system_four_ways(published):
    body = await four_ways(
        published,
        "CodeSystem/$validate-code",
        "CodeSystem/snomed-ct-mitral-subset/$validate-code",
        [("url", SNOMED)],
        [("code", "409712001")],
    )

    assert value(body, "result") is True
    assert value(body, "display") == "Mitral valve prolapse"


async def test_validate_code_in_code_system_with_a_coding_and_wrong_display(published):
    body = await post(
        published,
        "CodeSystem/pathway-stage/$validate-code",
        {
            "resourceType": "Parameters",
            "parameter": [
                {
                    "name": "coding",
                    "valueCoding": {
                        "system": PATHWAY_STAGE,
                        "code": "heart-team-review",
                        "display": "MDT",
                    },
                }
            ],
        },
    )

    assert value(body, "result") is False
    assert value(body, "display") == "Heart-team review"


# --- CodeSystem/$lookup --------------------------------------------------------------------


async def test_lookup_four_ways_with_children(published):
    body = await four_ways(
        published,
        "CodeSystem/$lookup",
        "CodeSystem/snomed-ct-mitral-subset/$lookup",
        [("system", SNOMED)],
        [("code", "421518007")],
    )

    assert value(body, "name") == "SnomedCtMitralSubset"
    assert value(body, "version") == "http://snomed.info/sct/83821000000107"
    assert value(body, "display") == "NYHA classification"
    properties = [parts(p) for p in named(body, "property")]
    children = {p["value"] for p in properties if p["code"] == "child"}
    assert children == {"420300004", "421704003", "420913000", "422293003"}
    assert {"code": "verification", "value": "verified"} in properties


async def test_lookup_of_a_child_names_its_parent_and_only_the_properties_asked(published):
    body = await get(
        published,
        "CodeSystem/$lookup",
        [("system", SNOMED), ("code", "420913000"), ("property", "parent")],
    )

    assert value(body, "display") == "NYHA class III"
    assert [parts(p) for p in named(body, "property")] == [{"code": "parent", "value": "421518007"}]


async def test_lookup_reports_an_unverified_code_as_such(published):
    # 255604002 Mild is [U] in domain.md: carried, and marked.
    body = await get(published, "CodeSystem/$lookup", [("system", SNOMED), ("code", "255604002")])

    properties = [parts(p) for p in named(body, "property")]
    assert {"code": "verification", "value": "unverified"} in properties


async def test_lookup_with_a_coding(published):
    body = await post(
        published,
        "CodeSystem/$lookup",
        {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "coding", "valueCoding": {"system": OPCS4, "code": "K25.5"}},
            ],
        },
    )

    assert value(body, "display") == "Mitral valve repair NEC"
    assert value(body, "version") == "4.10"
    properties = [parts(p) for p in named(body, "property")]
    assert {"code": "parent", "value": "K25"} in properties


# --- CodeSystem/$subsumes ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code_a", "code_b", "outcome"),
    [
        ("decision", "decision-surgery", "subsumes"),
        ("declined", "exit", "subsumed-by"),
        ("triaged", "triaged", "equivalent"),
        ("decision", "died", "not-subsumed"),
    ],
)
async def test_subsumes_four_ways(published, code_a, code_b, outcome):
    body = await four_ways(
        published,
        "CodeSystem/$subsumes",
        "CodeSystem/pathway-stage/$subsumes",
        [("system", PATHWAY_STAGE)],
        [("codeA", code_a), ("codeB", code_b)],
    )

    assert body == {
        "resourceType": "Parameters",
        "parameter": [{"name": "outcome", "valueCode": outcome}],
    }


async def test_subsumes_with_codings(published):
    body = await post(
        published,
        "CodeSystem/$subsumes",
        {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "codingA", "valueCoding": {"system": SNOMED, "code": "421518007"}},
                {"name": "codingB", "valueCoding": {"system": SNOMED, "code": "422293003"}},
            ],
        },
    )

    assert value(body, "outcome") == "subsumes"


# --- ConceptMap/$translate -----------------------------------------------------------------


async def test_translate_four_ways_returns_every_match_with_its_equivalence(published):
    body = await four_ways(
        published,
        "ConceptMap/$translate",
        "ConceptMap/local-st-thomas/$translate",
        [("url", ST_THOMAS_MAP)],
        [("system", ST_THOMAS), ("code", "MV-TEER")],
    )

    assert value(body, "result") is True
    matches = [parts(m) for m in named(body, "match")]
    found = {(m["concept"]["system"], m["concept"]["code"], m["equivalence"]) for m in matches}
    assert found == {
        (SNOMED, "865051000000105", "equivalent"),
        (OPCS4, "K35.8", "wider"),
        (OPCS4, "Y07.2", "relatedto"),
        (OPCS4, "Y53.4", "relatedto"),
        (OPCS4, "Z32.1", "relatedto"),
    }
    assert {m["source"] for m in matches} == {ST_THOMAS_MAP}


async def test_translate_to_one_target_system(published):
    body = await get(
        published,
        "ConceptMap/$translate",
        [("system", ST_THOMAS), ("code", "RR-MR-SEV"), ("targetsystem", ICD10)],
    )

    assert value(body, "result") is True
    [match] = [parts(m) for m in named(body, "match")]
    assert match["equivalence"] == "wider"
    assert match["concept"]["code"] == "I34.0"


async def test_translate_a_coding(published):
    body = await post(
        published,
        "ConceptMap/local-st-thomas/$translate",
        {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "coding", "valueCoding": {"system": ST_THOMAS, "code": "TMVR-TA"}},
                {"name": "targetsystem", "valueUri": SNOMED},
            ],
        },
    )

    [match] = [parts(m) for m in named(body, "match")]
    assert match["concept"]["code"] == "720583008"
    assert match["equivalence"] == "wider"


async def test_translate_an_explicitly_unmapped_code_is_false_not_a_pass_through(published):
    body = await four_ways(
        published,
        "ConceptMap/$translate",
        "ConceptMap/local-st-thomas/$translate",
        [("url", ST_THOMAS_MAP)],
        [("system", ST_THOMAS), ("code", "CL-MDT"), ("targetsystem", SNOMED)],
    )

    assert value(body, "result") is False
    assert "CL-MDT" in value(body, "message")
    matches = [parts(m) for m in named(body, "match")]
    assert all("concept" not in m for m in matches)
    assert {m["equivalence"] for m in matches} <= {"unmatched"}


async def test_translate_a_code_the_map_does_not_know(published):
    body = await get(
        published,
        "ConceptMap/$translate",
        [("url", ST_THOMAS_MAP), ("system", ST_THOMAS), ("code", "MVR-XYZ")],
    )

    assert value(body, "result") is False
    assert "MVR-XYZ" in value(body, "message")
    assert not named(body, "match")


# --- output formats ------------------------------------------------------------------------


async def test_format_and_pretty_apply_to_operations(published):
    response = await published.get(
        "CodeSystem/$lookup",
        params={"system": SNOMED, "code": "48724000", "_format": "json", "_pretty": "true"},
    )

    assert response.status_code == 200
    assert response.text.startswith("{\n")
    assert value(response.json(), "display") == "Mitral valve regurgitation"
