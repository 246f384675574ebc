"""The terminology content as FHIR resources: published into the store, read and searched like
any other, operations on stored ones, and declared in the CapabilityStatement."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.fhir.publish import publish_terminology
from app.terminology.local import LocalTerminology

BASE = "https://fhir.southlondon-mitral.nhs.uk"
SNOMED = "http://snomed.info/sct"
MR_CONDITIONS = f"{BASE}/ValueSet/mr-conditions"
ST_THOMAS = f"{BASE}/CodeSystem/local-st-thomas"
FHIR_JSON = {"Content-Type": "application/fhir+json"}
R4_OPERATIONS = "http://hl7.org/fhir/OperationDefinition/"


def content(app: FastAPI) -> list[dict[str, Any]]:
    terminology = app.state.fhir.terminology
    assert isinstance(terminology, LocalTerminology)
    return terminology.resources()


@pytest.fixture
async def published(app: FastAPI, client: httpx.AsyncClient) -> httpx.AsyncClient:
    await publish_terminology(app.state.fhir, content(app))
    return client


def entries(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


async def test_every_content_resource_is_stored_under_its_own_id(app, published):
    resources = content(app)
    assert {r["resourceType"] for r in resources} == {"CodeSystem", "ValueSet", "ConceptMap"}

    for resource in resources:
        response = await published.get(f"{resource['resourceType']}/{resource['id']}")
        assert response.status_code == 200, resource["id"]
        stored = response.json()
        assert stored["url"] == resource["url"]
        assert stored["version"] == resource["version"]
        assert stored["meta"]["versionId"] == "1"


async def test_read_a_code_system_by_id(published):
    response = await published.get("CodeSystem/pathway-stage")

    assert response.status_code == 200
    body = response.json()
    assert body["url"] == f"{BASE}/CodeSystem/pathway-stage"
    assert body["hierarchyMeaning"] == "is-a"
    assert "decision" in {c["code"] for c in body["concept"]}


@pytest.mark.parametrize(
    ("res_type", "url", "res_id"),
    [
        ("ValueSet", MR_CONDITIONS, "mr-conditions"),
        ("CodeSystem", SNOMED, "snomed-ct-mitral-subset"),
        ("ConceptMap", f"{BASE}/ConceptMap/local-kings", "local-kings"),
    ],
)
async def test_search_by_url_finds_exactly_one(published, res_type, url, res_id):
    response = await published.get(res_type, params={"url": url})

    assert response.status_code == 200
    body = response.json()
    assert body["total"] == 1
    [found] = entries(body)
    assert found["id"] == res_id


async def test_search_value_sets_by_name_and_status(published):
    response = await published.get(
        "ValueSet", params={"name": "MrConditions", "status": "active", "_elements": "url"}
    )

    assert [r["id"] for r in entries(response.json())] == ["mr-conditions"]


async def test_publishing_again_changes_nothing(app, published):
    again = await publish_terminology(app.state.fhir, content(app))

    assert again.created == []
    assert again.updated == []
    assert len(again.unchanged) == len(content(app))
    history = (await published.get("ValueSet/mr-conditions/_history")).json()
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["1"]


async def test_a_changed_content_file_gets_a_new_version(app, published):
    resources = copy.deepcopy(content(app))
    changed = next(
        r for r in resources if r["resourceType"] == "ValueSet" and r["id"] == "mr-conditions"
    )
    changed["title"] = "Mitral regurgitation conditions (revised)"

    again = await publish_terminology(app.state.fhir, resources)

    assert len(again.updated) == 1
    assert "ValueSet/mr-conditions" in again.updated[0]
    stored = (await published.get("ValueSet/mr-conditions")).json()
    assert stored["meta"]["versionId"] == "2"
    assert stored["title"] == "Mitral regurgitation conditions (revised)"


# --- operations on ValueSets and ConceptMaps stored through the REST API -----------------


def severe_mr_value_set() -> dict[str, Any]:
    """A ValueSet a centre uploads: not in our content, evaluated from the store."""
    return {
        "resourceType": "ValueSet",
        "id": "kings-mr-referral",
        "url": "https://fhir.kch.nhs.uk/ValueSet/mr-referral",
        "version": "2026-11",
        "name": "KingsMrReferral",
        "status": "active",
        "compose": {
            "include": [
                {"system": SNOMED, "concept": [{"code": "48724000"}, {"code": "409712001"}]}
            ]
        },
    }


async def test_a_stored_value_set_expands_by_url_and_by_id(published):
    value_set = severe_mr_value_set()
    assert (await published.put("ValueSet/kings-mr-referral", json=value_set)).status_code == 201

    by_url = await published.get("ValueSet/$expand", params={"url": value_set["url"]})
    by_id = await published.get("ValueSet/kings-mr-referral/$expand")

    for response in (by_url, by_id):
        assert response.status_code == 200, response.text
        expansion = response.json()["expansion"]
        assert {c["code"] for c in expansion["contains"]} == {"48724000", "409712001"}
        assert expansion["total"] == 2


async def test_a_stored_value_set_validates_codes(published):
    value_set = severe_mr_value_set()
    await published.put("ValueSet/kings-mr-referral", json=value_set)

    inside = await published.get(
        "ValueSet/$validate-code",
        params={"url": value_set["url"], "system": SNOMED, "code": "409712001"},
    )
    outside = await published.get(
        "ValueSet/kings-mr-referral/$validate-code",
        params={"system": SNOMED, "code": "111287006"},
    )

    assert inside.json()["parameter"][0] == {"name": "result", "valueBoolean": True}
    assert outside.json()["parameter"][0] == {"name": "result", "valueBoolean": False}


async def test_a_stored_concept_map_translates_by_url_and_by_id(published):
    concept_map = {
        "resourceType": "ConceptMap",
        "id": "st-thomas-clinics-audit",
        "url": f"{BASE}/ConceptMap/st-thomas-clinics-audit",
        "version": "0.1.0",
        "status": "draft",
        "group": [
            {
                "source": ST_THOMAS,
                "target": SNOMED,
                "element": [
                    {
                        "code": "RR-MVP",
                        "target": [{"code": "409712001", "equivalence": "equivalent"}],
                    }
                ],
            }
        ],
    }
    stored = await published.put("ConceptMap/st-thomas-clinics-audit", json=concept_map)
    assert stored.status_code == 201

    by_url = await published.get(
        "ConceptMap/$translate",
        params={"url": concept_map["url"], "system": ST_THOMAS, "code": "RR-MVP"},
    )
    by_id = await published.get(
        "ConceptMap/st-thomas-clinics-audit/$translate",
        params={"system": ST_THOMAS, "code": "RR-MVP"},
    )

    for response in (by_url, by_id):
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["parameter"][0] == {"name": "result", "valueBoolean": True}
        [match] = [p for p in body["parameter"] if p["name"] == "match"]
        source = next(p["valueUri"] for p in match["part"] if p["name"] == "source")
        assert source == concept_map["url"]


async def test_a_stored_code_system_answers_lookup_by_id(published):
    code_system = {
        "resourceType": "CodeSystem",
        "id": "echo-lab-grades",
        "url": "https://fhir.gstt.nhs.uk/CodeSystem/echo-lab-grades",
        "version": "1",
        "name": "EchoLabGrades",
        "status": "active",
        "content": "complete",
        "hierarchyMeaning": "is-a",
        "concept": [
            {
                "code": "MR",
                "display": "Mitral regurgitation grade",
                "concept": [{"code": "MR-4", "display": "Severe (4+)"}],
            }
        ],
    }
    await published.put("CodeSystem/echo-lab-grades", json=code_system)

    by_id = await published.get("CodeSystem/echo-lab-grades/$lookup", params={"code": "MR-4"})
    by_url = await published.get(
        "CodeSystem/$lookup", params={"system": code_system["url"], "code": "MR-4"}
    )

    for response in (by_id, by_url):
        assert response.status_code == 200, response.text
        body = response.json()
        display = next(p["valueString"] for p in body["parameter"] if p["name"] == "display")
        assert display == "Severe (4+)"


# --- the CapabilityStatement ---------------------------------------------------------------


async def test_capability_statement_declares_the_terminology_operations(published):
    statement = (await published.get("metadata")).json()
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}

    def operations(res_type: str) -> dict[str, str]:
        return {o["name"]: o["definition"] for o in resources[res_type].get("operation", [])}

    validate = {"validate": R4_OPERATIONS + "Resource-validate"}
    assert operations("ValueSet") == {
        "expand": R4_OPERATIONS + "ValueSet-expand",
        "validate-code": R4_OPERATIONS + "ValueSet-validate-code",
        **validate,
    }
    assert operations("CodeSystem") == {
        "lookup": R4_OPERATIONS + "CodeSystem-lookup",
        "validate-code": R4_OPERATIONS + "CodeSystem-validate-code",
        "subsumes": R4_OPERATIONS + "CodeSystem-subsumes",
        **validate,
    }
    assert operations("ConceptMap") == {
        "translate": R4_OPERATIONS + "ConceptMap-translate",
        **validate,
    }
    assert operations("Patient") == {
        **validate,
        "pathway": "https://fhir.southlondon-mitral.nhs.uk/OperationDefinition/Patient-pathway",
        "everything": R4_OPERATIONS + "Patient-everything",
    }


async def test_every_declared_operation_is_served(published):
    """Each declared operation answers GET and POST at type level (not 404/405)."""
    statement = (await published.get("metadata")).json()
    for resource in statement["rest"][0]["resource"]:
        for operation in resource.get("operation", []):
            path = f"{resource['type']}/${operation['name']}"
            got = await published.get(path)
            posted = await published.post(path, json={"resourceType": "Parameters"})
            # No inputs: a 400 saying what is missing, from the operation itself.
            for response in (got, posted):
                assert response.status_code == 400, (path, response.text)
                assert response.json()["issue"][0]["code"] == "invalid"
