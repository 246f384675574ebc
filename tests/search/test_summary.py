"""_summary and _elements on search: what each keeps, the SUBSETTED tag, includes, errors."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from httpx import AsyncClient

from app.search.request import parse_search
from app.search.summary import SUBSETTED, Subset
from tests.factories import assert_outcome, patient, referral

NARRATIVE = {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">A</div>'}
TYPES = frozenset({"Patient", "Observation", "ServiceRequest", "Condition"})

CONDITION: dict[str, Any] = {
    "resourceType": "Condition",
    "id": "c1",
    "meta": {"versionId": "1", "lastUpdated": "2026-10-02T09:30:00Z"},
    "text": {"status": "generated", "div": '<div xmlns="http://www.w3.org/1999/xhtml">MR</div>'},
    "clinicalStatus": {"coding": [{"code": "active"}]},
    "category": [{"coding": [{"code": "problem-list-item"}]}],
    "code": {"text": "Mitral regurgitation"},
    "subject": {"reference": "Patient/p1"},
    "onsetDateTime": "2025-01-01",
    "_onsetDateTime": {"extension": [{"url": "http://example.org/x", "valueString": "a"}]},
    "note": [{"text": "Seen in clinic"}],
}
OBSERVATION = (
    b'{"resourceType":"Observation","id":"o1","meta":{"versionId":"1"},"status":"final",'
    b'"code":{"text":"LVEF"},"subject":{"reference":"Patient/p1"},'
    b'"valueQuantity":{"value":55.0,"unit":"%"},"note":[{"text":"x"}]}'
)


def _apply(subset: Subset, resource: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = orjson.loads(subset.apply(orjson.dumps(resource)))
    return out


def _tags(resource: dict[str, Any]) -> list[dict[str, Any]]:
    tags: list[dict[str, Any]] = resource.get("meta", {}).get("tag", [])
    return tags


def test_summary_true_keeps_summary_modifier_and_mandatory_elements():
    out = _apply(Subset("true"), CONDITION)
    assert list(out) == [
        "resourceType",
        "id",
        "meta",
        "clinicalStatus",
        "code",
        "subject",
        "onsetDateTime",
        "_onsetDateTime",
    ]
    assert _tags(out) == [SUBSETTED]
    assert out["meta"]["versionId"] == "1"


def test_summary_true_applies_inside_backbone_elements():
    """Observation.component is summary, but of its children only code and value[x] are."""
    echo: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "echo",
        "status": "final",
        "code": {"text": "Echo"},
        "component": [
            {
                "code": {"text": "EROA"},
                "valueQuantity": {"value": 0.4, "unit": "cm2"},
                "interpretation": [{"text": "severe"}],
                "referenceRange": [{"text": "< 0.2"}],
            },
            {"code": {"text": "LVEF"}, "valueQuantity": {"value": 55, "unit": "%"}},
        ],
    }
    out = _apply(Subset("true"), echo)
    assert out["component"] == [
        {"code": {"text": "EROA"}, "valueQuantity": {"value": 0.4, "unit": "cm2"}},
        {"code": {"text": "LVEF"}, "valueQuantity": {"value": 55, "unit": "%"}},
    ]
    assert _tags(out) == [SUBSETTED]
    unchanged = {**echo, "component": [echo["component"][1]]}
    assert _apply(Subset("true"), unchanged) == unchanged  # nothing went: no tag
    assert _apply(Subset("data"), echo)["component"] == echo["component"]


def test_summary_text_keeps_text_id_meta_and_mandatory_elements():
    out = _apply(Subset("text"), CONDITION)
    assert list(out) == ["resourceType", "id", "meta", "text", "subject"]


def test_summary_data_removes_only_the_text():
    out = _apply(Subset("data"), CONDITION)
    assert list(out) == [k for k in CONDITION if k != "text"]
    assert _tags(out) == [SUBSETTED]


def test_summary_false_and_no_filter_keep_the_stored_bytes():
    content = orjson.dumps(CONDITION)
    assert Subset("false").apply(content) is content
    assert Subset().apply(content) is content


def test_nothing_removed_means_same_bytes_and_no_tag():
    content = orjson.dumps({k: v for k, v in CONDITION.items() if k != "text"})
    assert Subset("data").apply(content) is content


def test_elements_keep_listed_names_id_meta_and_mandatory_elements():
    out = orjson.loads(Subset(elements=("code",)).apply(OBSERVATION))
    assert list(out) == ["resourceType", "id", "meta", "status", "code"]
    assert _tags(out) == [SUBSETTED]


def test_elements_accept_choice_base_names_and_type_prefixes():
    assert "valueQuantity" in orjson.loads(Subset(elements=("value",)).apply(OBSERVATION))
    named = ("Observation.note", "Patient.subject")
    typed = orjson.loads(Subset(elements=named).apply(OBSERVATION))
    assert "note" in typed
    assert "subject" not in typed


def test_elements_with_an_unknown_name_keep_only_the_always_kept():
    out = orjson.loads(Subset(elements=("colour",)).apply(OBSERVATION))
    assert list(out) == ["resourceType", "id", "meta", "status", "code"]


def test_decimals_keep_their_text():
    assert b'"value":55.0' in Subset(elements=("valueQuantity",)).apply(OBSERVATION)


def test_an_existing_subsetted_tag_is_not_repeated():
    tagged = {**CONDITION, "meta": {"tag": [SUBSETTED]}}
    assert _tags(_apply(Subset("data"), tagged)) == [SUBSETTED]


def test_meta_is_added_after_id_when_the_resource_had_none():
    bare = {"resourceType": "Patient", "id": "p", "gender": "male", "text": {"status": "empty"}}
    out = _apply(Subset("data"), bare)
    assert list(out) == ["resourceType", "id", "meta", "gender"]


def test_included_resources_ignore_elements_but_keep_summary():
    subset = Subset("data", ("code",)).for_included()
    assert subset == Subset("data")


def _parse(*pairs: tuple[str, str]):
    return parse_search("Patient", list(pairs), default_count=10, max_count=100, known_types=TYPES)


def test_parse_summary_and_elements_into_the_request_and_self_link():
    request = _parse(("_summary", "true"), ("_elements", "name, birthDate"), ("_elements", "x"))
    assert request.summary == "true"
    assert request.elements == ("name", "birthDate", "x")
    assert request.echo == [
        ("_summary", "true"),
        ("_elements", "name, birthDate"),
        ("_elements", "x"),
    ]
    assert request.unknown == []
    assert not request.summary_count


def test_parse_summary_count_is_unchanged():
    request = _parse(("_summary", "count"))
    assert request.summary_count
    assert request.summary is None
    assert request.echo == [("_summary", "count")]


def test_parse_invalid_summary_is_rejected():
    with pytest.raises(Exception, match="_summary") as raised:
        _parse(("_summary", "yes"))
    assert getattr(raised.value, "expression", None) == ("_summary",)


async def _post(client: AsyncClient, resource: dict[str, Any]) -> str:
    response = await client.post(resource["resourceType"], json=resource)
    assert response.status_code == 201, response.text
    res_id: str = response.json()["id"]
    return res_id


def _resources(bundle: dict[str, Any], mode: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if e["search"]["mode"] == mode]


async def test_search_elements_filters_matches_and_echoes_in_the_self_link(client):
    await _post(client, patient(telecom=[{"system": "phone", "value": "020 7188 7188"}]))

    response = await client.get("Patient", params={"_elements": "name,birthDate"})

    assert response.status_code == 200, response.text
    bundle = response.json()
    [resource] = _resources(bundle, "match")
    assert set(resource) == {"resourceType", "id", "meta", "name", "birthDate"}
    assert SUBSETTED in resource["meta"]["tag"]
    assert resource["meta"]["versionId"] == "1"
    self_link = next(x["url"] for x in bundle["link"] if x["relation"] == "self")
    assert "_elements=name%2CbirthDate" in self_link


async def test_search_summary_applies_to_includes_but_elements_do_not(client):
    pid = await _post(client, patient(text=NARRATIVE))
    await _post(client, referral(f"Patient/{pid}"))

    bundle = (
        await client.get(
            "ServiceRequest",
            params={"_include": "ServiceRequest:subject", "_elements": "status"},
        )
    ).json()
    [match] = _resources(bundle, "match")
    [included] = _resources(bundle, "include")
    assert set(match) == {"resourceType", "id", "meta", "status", "intent", "subject"}
    assert "address" in included and "text" in included
    assert "tag" not in included["meta"]

    bundle = (
        await client.get(
            "ServiceRequest", params={"_include": "ServiceRequest:subject", "_summary": "text"}
        )
    ).json()
    [match] = _resources(bundle, "match")
    [included] = _resources(bundle, "include")
    assert set(match) == {"resourceType", "id", "meta", "status", "intent", "subject"}
    assert set(included) == {"resourceType", "id", "meta", "text"}
    assert SUBSETTED in included["meta"]["tag"]


async def test_search_summary_true_follows_is_summary(client):
    await _post(client, patient(contact=[{"name": {"family": "Okafor"}}]))

    bundle = (await client.get("Patient", params={"_summary": "true"})).json()

    [resource] = _resources(bundle, "match")
    assert {"identifier", "name", "gender", "birthDate", "address"} <= set(resource)
    assert "contact" not in resource


async def test_search_summary_false_returns_the_stored_resource(client):
    await _post(client, patient())
    full = (await client.get("Patient")).json()
    plain = (await client.get("Patient", params={"_summary": "false"})).json()
    assert _resources(plain, "match") == _resources(full, "match")


async def test_search_summary_with_an_invalid_value_returns_400(client):
    response = await client.get("Patient", params={"_summary": "yes"})
    assert_outcome(response, 400, "invalid", "_summary", expression="_summary")


async def test_paging_keeps_summary_and_elements(client):
    for number in ("9000000009", "9000000017"):
        await _post(client, patient(nhs_number=number, text=NARRATIVE))
    first = (await client.get("Patient", params={"_count": "1", "_summary": "data"})).json()
    following = next(x["url"] for x in first["link"] if x["relation"] == "next")
    assert "_summary=data" in following
    second = (await client.get(following)).json()
    [resource] = _resources(second, "match")
    assert "text" not in resource
    assert SUBSETTED in resource["meta"]["tag"]


def test_parse_empty_elements_is_not_applied():
    request = _parse(("_elements", ""))
    assert request.elements is None
    assert request.echo == []
