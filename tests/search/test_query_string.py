"""String and uri search end to end: starts-with, :exact, :contains, :below, :above."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import put_resource, search_ids


def person(res_id: str, family: str, *given: str, city: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": res_id,
        "name": [{"family": family, "given": list(given)}],
    }
    if city:
        resource["address"] = [{"city": city, "line": ["1 High Street"]}]
    return resource


@pytest.fixture
async def people(client):
    await put_resource(client, person("zoe", "O'Brien", "Zoë", city="Saint-Étienne"))
    await put_resource(client, person("okafor", "Okafor", "Adaeze", "Grace", city="London"))
    await put_resource(client, person("obi", "Obi-Wan", "Ben"))
    await put_resource(client, {"resourceType": "Patient", "id": "nameless"})


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("name", "o")], ["obi", "okafor", "zoe"]),
        ([("name", "OK")], ["okafor"]),
        ([("name", "zoe")], ["zoe"]),
        ([("name", "ZOË")], ["zoe"]),
        ([("name", "grace")], ["okafor"]),
        ([("name", "race")], []),
        ([("name:contains", "race")], ["okafor"]),
        ([("name:contains", "BRIE")], ["zoe"]),
        ([("name:exact", "Zoë")], ["zoe"]),
        ([("name:exact", "zoë")], []),
        ([("name:exact", "Zoe")], []),
        ([("family", "obi")], ["obi"]),
        ([("given", "ben,adaeze")], ["obi", "okafor"]),
        ([("family", "o"), ("given", "z")], ["zoe"]),
        ([("address-city", "saint-etienne")], ["zoe"]),
        ([("address", "high street")], []),
        ([("address:contains", "high street")], ["okafor", "zoe"]),
        ([("name:missing", "true")], ["nameless"]),
        ([("name:missing", "false")], ["obi", "okafor", "zoe"]),
        ([("name:contains", "%")], []),
        ([("name:contains", "_")], []),
    ],
)
async def test_string_matching(client, people, pairs, expected):
    assert await search_ids(client, "Patient", *pairs) == expected


async def test_escaped_comma_is_part_of_the_string(client):
    await put_resource(client, person("comma", "Smith, Jr", "John"))

    assert await search_ids(client, "Patient", ("family", "smith\\, jr")) == ["comma"]
    assert await search_ids(client, "Patient", ("family", "x, jr")) == []  # two values, neither


def value_set(res_id: str, url: str) -> dict[str, Any]:
    return {"resourceType": "ValueSet", "id": res_id, "url": url, "status": "active"}


@pytest.fixture
async def value_sets(client):
    await put_resource(client, value_set("a", "http://example.org/fhir/ValueSet/a"))
    await put_resource(client, value_set("b", "http://example.org/fhir/ValueSet/b"))
    await put_resource(client, value_set("root", "http://example.org/fhir"))
    await put_resource(client, value_set("other", "http://other.org/fhir/ValueSet/a"))


@pytest.mark.parametrize(
    ("pairs", "expected"),
    [
        ([("url", "http://example.org/fhir/ValueSet/a")], ["a"]),
        ([("url", "http://example.org/fhir/ValueSet/A")], []),
        ([("url", "http://example.org/fhir/ValueSet")], []),
        ([("url:below", "http://example.org/fhir")], ["a", "b", "root"]),
        ([("url:below", "http://example.org/fhir/ValueSet/")], ["a", "b"]),
        ([("url:above", "http://example.org/fhir/ValueSet/a/extra")], ["a", "root"]),
        ([("url:above", "http://example.org")], []),
        ([("url:below", "http://example.org/fhir/ValueSet/a")], ["a"]),
        ([("url:below", "http://example.org/fhir/Value")], []),
        ([("url:above", "http://example.org/fhirx/ValueSet/a")], []),
        ([("url:above", "http://example.org/fhir/ValueSet/ab")], ["root"]),
        ([("url:missing", "false")], ["a", "b", "other", "root"]),
    ],
)
async def test_uri_matching(client, value_sets, pairs, expected):
    assert await search_ids(client, "ValueSet", *pairs) == expected
