"""Bad input to the terminology operations: each is an OperationOutcome saying what and where.

Expressions follow one convention (docs/terminology.md): a parameter by its name, a fault in
the structure of a POST body by its FHIRPath in the Parameters resource.
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
MR_CONDITIONS = f"{BASE}/ValueSet/mr-conditions"
ST_THOMAS = f"{BASE}/CodeSystem/local-st-thomas"
ST_THOMAS_MAP = f"{BASE}/ConceptMap/local-st-thomas"
FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture
async def published(app: FastAPI, client: httpx.AsyncClient) -> httpx.AsyncClient:
    ctx = app.state.fhir
    assert isinstance(ctx.terminology, LocalTerminology)
    await publish_terminology(ctx, ctx.terminology.resources())
    return client


def issue_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    first: dict[str, Any] = body["issue"][0]
    assert first["severity"] == "error"
    return first


def as_parameters(*parameter: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(parameter)}


# --- unknown things: 404 -------------------------------------------------------------------


async def test_unknown_code_system_is_404_naming_it(published):
    response = await published.get(
        "CodeSystem/$lookup", params={"system": "http://example.org/no-such-system", "code": "1"}
    )

    issue = issue_of(response, 404)
    assert issue["code"] == "not-found"
    assert "http://example.org/no-such-system" in issue["diagnostics"]
    assert issue["expression"] == ["system"]


async def test_unknown_value_set_url_is_404_naming_it(published):
    url = f"{BASE}/ValueSet/no-such-set"
    for response in (
        await published.get("ValueSet/$expand", params={"url": url}),
        await published.post(
            "ValueSet/$expand", json=as_parameters({"name": "url", "valueUri": url})
        ),
        await published.get(
            "ValueSet/$validate-code", params={"url": url, "system": SNOMED, "code": "48724000"}
        ),
    ):
        issue = issue_of(response, 404)
        assert issue["code"] == "not-found"
        assert url in issue["diagnostics"]
        assert issue["expression"] == ["url"]


async def test_unknown_concept_map_url_is_404(published):
    url = f"{BASE}/ConceptMap/local-nowhere"
    response = await published.get(
        "ConceptMap/$translate", params={"url": url, "system": ST_THOMAS, "code": "MV-TEER"}
    )

    issue = issue_of(response, 404)
    assert url in issue["diagnostics"]


@pytest.mark.parametrize(
    "path",
    [
        "ValueSet/no-such-set/$expand?url=x",
        "CodeSystem/no-such-system/$lookup?code=x",
        "ConceptMap/no-such-map/$translate?system=x&code=y",
    ],
)
async def test_unknown_instance_is_404(published, path):
    issue = issue_of(await published.get(path), 404)

    assert issue["code"] == "not-found"
    assert "no-such-" in issue["diagnostics"]


async def test_deleted_instance_is_404(published):
    assert (await published.delete("ValueSet/mr-conditions")).status_code == 204

    issue = issue_of(await published.get("ValueSet/mr-conditions/$expand"), 404)

    assert "ValueSet/mr-conditions was deleted" in issue["diagnostics"]


async def test_lookup_of_a_code_in_the_wrong_system_is_404(published):
    # 48724000 is SNOMED CT, not ICD-10.
    response = await published.get(
        "CodeSystem/$lookup", params={"system": ICD10, "code": "48724000"}
    )

    issue = issue_of(response, 404)
    assert "48724000" in issue["diagnostics"]
    assert issue["expression"] == ["code"]


async def test_validate_code_in_the_wrong_system_is_a_false_result_not_an_error(published):
    response = await published.get(
        "ValueSet/$validate-code",
        params={"url": MR_CONDITIONS, "system": ICD10, "code": "48724000"},
    )

    assert response.status_code == 200
    body = response.json()
    assert body["parameter"][0] == {"name": "result", "valueBoolean": False}
    message = next(p["valueString"] for p in body["parameter"] if p["name"] == "message")
    assert "48724000" in message


async def test_a_coding_from_another_system_at_instance_level_is_400(published):
    response = await published.post(
        "CodeSystem/pathway-stage/$lookup",
        json=as_parameters(
            {"name": "coding", "valueCoding": {"system": SNOMED, "code": "48724000"}}
        ),
    )

    issue = issue_of(response, 400)
    assert issue["code"] == "invalid"
    assert issue["expression"] == ["coding.system"]
    assert SNOMED in issue["diagnostics"]


# --- missing or contradictory parameters: 400 ----------------------------------------------


@pytest.mark.parametrize(
    ("path", "params", "parameter"),
    [
        ("CodeSystem/$lookup", {"system": SNOMED}, "code"),
        ("CodeSystem/$lookup", {"code": "48724000"}, "system"),
        ("CodeSystem/$validate-code", {"code": "48724000"}, "url"),
        ("CodeSystem/$subsumes", {"system": SNOMED, "codeA": "421518007"}, "codeB"),
        ("CodeSystem/$subsumes", {"codeA": "421518007", "codeB": "420300004"}, "system"),
        ("ValueSet/$expand", {}, "url"),
        ("ValueSet/$validate-code", {"url": MR_CONDITIONS}, "code"),
        ("ValueSet/$validate-code", {"url": MR_CONDITIONS, "code": "48724000"}, "system"),
        ("ValueSet/$validate-code", {"system": SNOMED, "code": "48724000"}, "url"),
        ("ConceptMap/$translate", {"url": ST_THOMAS_MAP}, "code"),
        ("ConceptMap/$translate", {"url": ST_THOMAS_MAP, "code": "MV-TEER"}, "system"),
    ],
)
async def test_missing_parameter_is_400_naming_it(published, path, params, parameter):
    issue = issue_of(await published.get(path, params=params), 400)

    assert issue["code"] == "invalid"
    assert issue["expression"] == [parameter]
    assert parameter in issue["diagnostics"]


async def test_code_and_coding_together_is_400(published):
    response = await published.post(
        "ValueSet/$validate-code",
        json=as_parameters(
            {"name": "url", "valueUri": MR_CONDITIONS},
            {"name": "code", "valueCode": "48724000"},
            {"name": "system", "valueUri": SNOMED},
            {"name": "coding", "valueCoding": {"system": SNOMED, "code": "48724000"}},
        ),
    )

    issue = issue_of(response, 400)
    assert issue["expression"] == ["code", "coding"]


async def test_a_parameter_given_twice_is_400(published):
    response = await published.get(
        "ValueSet/$expand", params=[("url", MR_CONDITIONS), ("count", "2"), ("count", "3")]
    )

    issue = issue_of(response, 400)
    assert issue["expression"] == ["count"]


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"count": "-1"}, "count"),
        ({"count": "ten"}, "count"),
        ({"offset": "1.5"}, "offset"),
        ({"activeOnly": "yes"}, "activeOnly"),
        ({"includeDesignations": "1"}, "includeDesignations"),
    ],
)
async def test_malformed_query_values_are_400_naming_the_parameter(published, params, parameter):
    response = await published.get("ValueSet/$expand", params={"url": MR_CONDITIONS, **params})

    issue = issue_of(response, 400)
    assert issue["code"] == "invalid"
    assert issue["expression"] == [parameter]
    assert params[parameter] in issue["diagnostics"]


async def test_a_coding_in_a_get_is_400_asking_for_a_post(published):
    response = await published.get(
        "ValueSet/$validate-code", params={"url": MR_CONDITIONS, "coding": f"{SNOMED}|48724000"}
    )

    issue = issue_of(response, 400)
    assert issue["expression"] == ["coding"]
    assert "POST" in issue["diagnostics"]


# --- malformed Parameters bodies: 400 ------------------------------------------------------


async def test_a_body_that_is_not_json_is_400(published):
    response = await published.post(
        "ValueSet/$expand", content=b'{"resourceType": "Parameters",', headers=FHIR_JSON
    )

    issue = issue_of(response, 400)
    assert issue["code"] == "structure"
    assert "not valid JSON" in issue["diagnostics"]


async def test_a_body_that_is_not_parameters_is_400(published):
    value_set = {"resourceType": "ValueSet", "url": MR_CONDITIONS, "status": "active"}
    response = await published.post("ValueSet/$expand", json=value_set, headers=FHIR_JSON)

    issue = issue_of(response, 400)
    assert issue["code"] == "structure"
    assert "must be a Parameters resource, not a ValueSet" in issue["diagnostics"]


async def test_a_parameter_of_the_wrong_type_is_400_at_its_value(published):
    response = await published.post(
        "ValueSet/$expand",
        json=as_parameters(
            {"name": "url", "valueUri": MR_CONDITIONS},
            {"name": "filter", "valueString": "mitral"},
            {"name": "count", "valueString": "10"},
        ),
    )

    issue = issue_of(response, 400)
    assert issue["code"] == "invalid"
    assert issue["expression"] == ["Parameters.parameter[2].value[x]"]
    assert "valueInteger" in issue["diagnostics"]


async def test_a_structurally_invalid_parameters_body_is_400_at_the_element(published):
    response = await published.post(
        "ValueSet/$expand",
        json=as_parameters(
            {"name": "url", "valueUri": MR_CONDITIONS}, {"name": "count", "valueInteger": "ten"}
        ),
    )

    issue = issue_of(response, 400)
    assert issue["code"] == "structure"
    assert issue["expression"][0].startswith("Parameters.parameter[1].value")


async def test_a_negative_count_in_a_body_is_400(published):
    response = await published.post(
        "ValueSet/$expand",
        json=as_parameters(
            {"name": "url", "valueUri": MR_CONDITIONS}, {"name": "count", "valueInteger": -5}
        ),
    )

    issue = issue_of(response, 400)
    assert issue["expression"] == ["Parameters.parameter[1].value[x]"]


async def test_a_coding_without_a_code_is_400_at_the_element(published):
    response = await published.post(
        "ConceptMap/$translate",
        json=as_parameters({"name": "coding", "valueCoding": {"system": ST_THOMAS}}),
    )

    issue = issue_of(response, 400)
    assert issue["expression"] == ["Parameters.parameter[0].valueCoding.code"]


async def test_an_inline_value_set_of_the_wrong_type_is_400(published):
    response = await published.post(
        "ValueSet/$expand",
        json=as_parameters(
            {
                "name": "valueSet",
                "resource": {
                    "resourceType": "CodeSystem",
                    "status": "active",
                    "content": "complete",
                },
            }
        ),
    )

    issue = issue_of(response, 400)
    assert issue["expression"] == ["Parameters.parameter[0].resource"]


async def test_another_content_type_is_415(published):
    response = await published.post(
        "ValueSet/$expand",
        content=f"url={MR_CONDITIONS}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    issue = issue_of(response, 415)
    assert issue["code"] == "not-supported"


async def test_xml_is_406(published):
    response = await published.get(
        "ValueSet/$expand", params={"url": MR_CONDITIONS, "_format": "xml"}
    )

    assert issue_of(response, 406)["expression"] == ["_format"]


async def test_other_methods_are_405(published):
    response = await published.delete("ValueSet/$expand")

    issue_of(response, 405)
    assert set(response.headers["allow"].split(", ")) == {"GET", "POST"}


# --- content that cannot be evaluated: 422 -------------------------------------------------


async def test_an_inline_value_set_including_an_unknown_code_is_422(published):
    value_set = {
        "resourceType": "ValueSet",
        "status": "active",
        "compose": {"include": [{"system": SNOMED, "concept": [{"code": "99999999"}]}]},
    }
    response = await published.post(
        "ValueSet/$expand", json=as_parameters({"name": "valueSet", "resource": value_set})
    )

    issue = issue_of(response, 422)
    assert issue["code"] == "processing"
    assert "99999999" in issue["diagnostics"]
    assert issue["expression"] == ["ValueSet.compose.include[0].concept[0].code"]
