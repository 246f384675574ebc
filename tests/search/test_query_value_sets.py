"""``:in`` / ``:not-in``: token search against the codes of a ValueSet (R4 search.html#token).

The value sets are the regional ones under ``terminology/``, answered by the terminology
service; a ValueSet uploaded through the API works the same way, as ``$expand`` does.
"""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient

from tests.factories import (
    SNOMED,
    assert_outcome,
    bundle_of,
    patient,
    put_resource,
    request_entry,
    search_ids,
)

ICD10 = "http://hl7.org/fhir/sid/icd-10-uk"
VS = "https://fhir.southlondon-mitral.nhs.uk/ValueSet"


def condition(res_id: str, *codings: tuple[str, str, str]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Condition",
        "id": res_id,
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "active",
                }
            ]
        },
        "subject": {"reference": "Patient/p1"},
    }
    if codings:
        resource["code"] = {
            "coding": [{"system": s, "code": c, "display": d} for s, c, d in codings]
        }
    return resource


@pytest.fixture
async def conditions(client: AsyncClient) -> None:
    await put_resource(client, {**patient(), "id": "p1"})
    for resource in (
        condition("mr", (SNOMED, "48724000", "Mitral valve regurgitation")),
        condition("prolapse-icd", (ICD10, "I34.1", "Nonrheumatic mitral (valve) prolapse")),
        condition("tr", (SNOMED, "111287006", "Tricuspid valve regurgitation")),
        condition(
            "tr-and-mr",
            (SNOMED, "111287006", "Tricuspid valve regurgitation"),
            (ICD10, "I34.0", "Nonrheumatic mitral (valve) insufficiency"),
        ),
        condition("stenosis", (SNOMED, "79619009", "Mitral stenosis")),
        condition("uncoded"),
    ):
        await put_resource(client, resource)


async def test_in_finds_resources_with_any_code_of_the_value_set(client, conditions):
    got = await search_ids(client, "Condition", ("code:in", f"{VS}/mr-conditions"))

    assert got == ["mr", "prolapse-icd", "tr-and-mr"]


async def test_not_in_finds_the_rest_including_resources_without_a_code(client, conditions):
    got = await search_ids(client, "Condition", ("code:not-in", f"{VS}/mr-conditions"))

    assert got == ["stenosis", "tr", "uncoded"]


async def test_comma_is_or_and_repetition_is_and(client, conditions):
    either = await search_ids(
        client, "Condition", ("code:in", f"{VS}/mr-conditions,{VS}/tr-conditions")
    )
    both = await search_ids(
        client,
        "Condition",
        ("code:in", f"{VS}/mr-conditions"),
        ("code:in", f"{VS}/tr-conditions"),
    )

    assert either == ["mr", "prolapse-icd", "tr", "tr-and-mr"]
    assert both == ["tr-and-mr"]


async def test_the_self_link_keeps_the_modifier(client, conditions):
    response = await client.get("Condition", params={"code:in": f"{VS}/tr-conditions"})

    self_link = next(x["url"] for x in response.json()["link"] if x["relation"] == "self")
    assert "code%3Ain=" in self_link
    assert "tr-conditions" in self_link


async def test_a_value_set_uploaded_through_the_api_is_searchable(client, conditions):
    uploaded = {
        "resourceType": "ValueSet",
        "id": "stenosis-only",
        "url": "https://trust.example.nhs.uk/ValueSet/stenosis-only",
        "version": "1",
        "status": "draft",
        "compose": {"include": [{"system": SNOMED, "concept": [{"code": "79619009"}]}]},
    }
    await put_resource(client, uploaded)

    got = await search_ids(client, "Condition", ("code:in", str(uploaded["url"])))

    assert got == ["stenosis"]


async def test_in_works_inside_a_batch(client, conditions):
    batch = bundle_of("batch", [request_entry("GET", f"Condition?code:in={VS}/tr-conditions")])

    response = await client.post("", json=batch)

    inner = response.json()["entry"][0]["resource"]
    assert sorted(e["resource"]["id"] for e in inner["entry"]) == ["tr", "tr-and-mr"]


async def test_an_unknown_value_set_is_a_400_naming_the_parameter(client, conditions):
    response = await client.get(
        "Condition", params={"code:in": "https://nowhere.example.org/ValueSet/x"}
    )

    assert_outcome(response, 400, "not-found", "nowhere.example.org/ValueSet/x", "code:in")


async def test_in_on_a_non_token_parameter_is_refused(client):
    response = await client.get("Condition", params={"subject:in": f"{VS}/mr-conditions"})

    assert_outcome(response, 400, "invalid", "':in' is not supported", "subject:in")
