"""The minimal search: _id, _lastUpdated, identifier, modifiers, OR/AND, paging, _type."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient

from tests.factories import (
    GSTT_MRN,
    NHS_NUMBER,
    ODS_ORG,
    FakeClock,
    all_pages,
    assert_outcome,
    entry_ids,
    link,
    organization,
    patient,
    referral,
)


@pytest.fixture
def clock(app, monkeypatch):
    fake = FakeClock()
    monkeypatch.setattr(app.state.fhir, "clock", fake)
    return fake


async def _put(client: AsyncClient, resource: dict[str, Any]) -> Any:
    response = await client.put(f"{resource['resourceType']}/{resource['id']}", json=resource)
    assert response.status_code == 201, response.text
    return response.json()


async def _ids(client: AsyncClient, url: str = "Patient", **params: str) -> list[str]:
    response = await client.get(url, params=params)
    assert response.status_code == 200, response.text
    return sorted(entry_ids(response.json()))


@pytest.fixture
async def people(client):
    """Three patients and two organisations with varied identifiers."""
    await _put(client, patient("9000000009", id="p1"))
    await _put(client, patient("9000000017", id="p2"))
    await _put(client, {**patient("9000000025", id="p3"), "identifier": [{"value": "LOCAL-7"}]})
    await _put(client, {**organization("RJ1"), "id": "o1"})
    await _put(client, {"resourceType": "Organization", "id": "o2", "name": "Mitral Valve Network"})


async def test_search_returns_a_searchset_of_matches(client, people):
    response = await client.get("Patient", params={"identifier": f"{NHS_NUMBER}|9000000009"})

    assert response.status_code == 200
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "searchset"
    assert bundle["total"] == 1
    [entry] = bundle["entry"]
    assert entry["fullUrl"] == "http://testserver/fhir/Patient/p1"
    assert entry["search"] == {"mode": "match"}
    assert entry["resource"] == (await client.get("Patient/p1")).json()


async def test_search_by_id(client, people):
    assert await _ids(client, _id="p2") == ["p2"]
    assert await _ids(client, _id="p1,p3") == ["p1", "p3"]
    assert await _ids(client, _id="nobody") == []
    assert await _ids(client, "Organization", _id="p1") == []


async def test_search_by_identifier_system_and_value(client, people):
    assert await _ids(client, identifier=f"{NHS_NUMBER}|9000000017") == ["p2"]
    assert await _ids(client, identifier=f"{GSTT_MRN}|H000009") == ["p1"]
    assert await _ids(client, identifier=f"{GSTT_MRN}|9000000017") == []


async def test_search_by_identifier_value_in_any_system(client, people):
    assert await _ids(client, identifier="9000000009") == ["p1"]
    assert await _ids(client, identifier="LOCAL-7") == ["p3"]
    assert await _ids(client, identifier="RJ1") == []
    assert await _ids(client, "Organization", identifier="RJ1") == ["o1"]


async def test_search_by_identifier_value_without_a_system(client, people):
    assert await _ids(client, identifier="|LOCAL-7") == ["p3"]
    assert await _ids(client, identifier="|9000000009") == []


async def test_search_by_identifier_system_only(client, people):
    assert await _ids(client, identifier=f"{NHS_NUMBER}|") == ["p1", "p2"]
    assert await _ids(client, "Organization", identifier=f"{ODS_ORG}|") == ["o1"]


async def test_search_identifier_missing(client, people):
    assert await _ids(client, "Organization", **{"identifier:missing": "true"}) == ["o2"]
    assert await _ids(client, "Organization", **{"identifier:missing": "false"}) == ["o1"]
    assert await _ids(client, **{"identifier:missing": "false"}) == ["p1", "p2", "p3"]


async def test_search_comma_separated_values_are_ored(client, people):
    ids = await _ids(client, identifier=f"{NHS_NUMBER}|9000000009,{NHS_NUMBER}|9000000017,LOCAL-7")

    assert ids == ["p1", "p2", "p3"]


async def test_search_repeated_parameters_are_anded(client, people):
    both = [("identifier", f"{NHS_NUMBER}|9000000009"), ("identifier", f"{GSTT_MRN}|H000009")]
    contradictory = [
        ("identifier", f"{NHS_NUMBER}|9000000009"),
        ("identifier", f"{NHS_NUMBER}|9000000017"),
    ]

    assert entry_ids((await client.get("Patient", params=both)).json()) == ["p1"]
    assert entry_ids((await client.get("Patient", params=contradictory)).json()) == []
    assert (
        entry_ids((await client.get("Patient", params=[("_id", "p1"), ("_id", "p2")])).json()) == []
    )


async def test_search_without_parameters_returns_every_resource_of_the_type(client, people):
    assert await _ids(client) == ["p1", "p2", "p3"]
    assert await _ids(client, "Organization") == ["o1", "o2"]


async def test_search_by_last_updated_with_prefixes_and_partial_dates(client, clock):
    for moment, res_id in (
        ("2024-03-01T10:00:00Z", "p2024"),
        ("2025-06-15T12:30:00Z", "p2025"),
        ("2026-01-05T09:00:00Z", "p2026"),
    ):
        clock.set(moment)
        await _put(client, patient(id=res_id))

    assert await _ids(client, _lastUpdated="2025") == ["p2025"]
    assert await _ids(client, _lastUpdated="eq2024-03-01") == ["p2024"]
    assert await _ids(client, _lastUpdated="gt2025") == ["p2026"]
    assert await _ids(client, _lastUpdated="lt2025") == ["p2024"]
    assert await _ids(client, _lastUpdated="ge2025-06-15") == ["p2025", "p2026"]
    assert await _ids(client, _lastUpdated="le2025-06") == ["p2024", "p2025"]
    assert await _ids(client, _lastUpdated="gt2025-06-15T12:30:00Z") == ["p2026"]
    assert await _ids(client, _lastUpdated="ge2025-06-15T13:30:00+01:00") == ["p2025", "p2026"]
    assert await _ids(client, _lastUpdated="ne2025") == ["p2024", "p2026"]
    assert await _ids(client, _lastUpdated="2024,2026") == ["p2024", "p2026"]
    anded = [("_lastUpdated", "ge2024-06"), ("_lastUpdated", "lt2026")]
    assert entry_ids((await client.get("Patient", params=anded)).json()) == ["p2025"]


async def test_search_count_pages_follow_next_links_to_the_end(client):
    for n in range(7):
        await _put(client, patient(id=f"p{n}"))

    pages = await all_pages(client, "Patient", params={"_count": "3"})

    assert [len(p["entry"]) for p in pages] == [3, 3, 1]
    ids = [i for p in pages for i in entry_ids(p)]
    assert sorted(ids) == [f"p{n}" for n in range(7)]
    assert len(set(ids)) == 7
    assert link(pages[0], "self") == "http://testserver/fhir/Patient?_count=3"
    assert (link(pages[0], "next") or "").startswith("http://testserver/fhir/Patient?_count=3&")
    assert link(pages[-1], "next") is None


async def test_search_paging_keeps_the_criteria_in_the_links(client, people):
    await _put(client, patient("9000000033", id="p4"))

    pages = await all_pages(
        client, "Patient", params={"identifier": f"{NHS_NUMBER}|", "_count": "1"}
    )

    assert [i for p in pages for i in entry_ids(p)] == ["p1", "p2", "p4"]
    assert (link(pages[1], "self") or "").startswith("http://testserver/fhir/Patient?identifier=")


async def test_search_total_accurate_is_given_on_every_page(client):
    for n in range(5):
        await _put(client, patient(id=f"p{n}"))

    pages = await all_pages(client, "Patient", params={"_count": "2", "_total": "accurate"})

    assert [p["total"] for p in pages] == [5, 5, 5]


async def test_search_total_estimate_is_a_plausible_number_on_every_page(client, backend):
    for n in range(5):
        await _put(client, patient(id=f"p{n}"))

    pages = await all_pages(client, "Patient", params={"_count": "2", "_total": "estimate"})

    totals = [p["total"] for p in pages]
    if backend.name == "sqlite":  # no planner statistics: SQLite counts
        assert totals == [5, 5, 5]
    else:  # the planner's estimate, never less than what the page itself shows exists
        assert all(isinstance(t, int) and t >= 3 for t in totals[:2]), totals


async def test_search_summary_count_returns_only_the_total(client, people):
    bundle = (await client.get("Patient", params={"_summary": "count"})).json()

    assert bundle["total"] == 3
    assert "entry" not in bundle


async def test_search_count_zero_returns_only_the_total(client, people):
    bundle = (await client.get("Patient", params={"_count": "0"})).json()

    assert bundle["total"] == 3
    assert "entry" not in bundle
    assert link(bundle, "next") is None


async def test_post_search_gives_the_same_results_as_get(client, people):
    params = {"identifier": f"{NHS_NUMBER}|", "_count": "1"}

    got = (await client.get("Patient", params=params)).json()
    posted_response = await client.post("Patient/_search", data=params)

    assert posted_response.status_code == 200
    posted = posted_response.json()
    assert posted["entry"] == got["entry"]
    assert posted.get("total") == got.get("total")
    assert link(posted, "next") == link(got, "next")
    following = (await client.get(link(posted, "next"))).json()
    assert entry_ids(following) == ["p2"]


async def test_post_search_without_a_form_body_returns_415(client):
    response = await client.post("Patient/_search", json={"identifier": "9000000009"})

    assert_outcome(response, 415, "not-supported", "x-www-form-urlencoded")


async def test_system_search_with_type_searches_those_types(client, people):
    await client.post("ServiceRequest", json=referral("Patient/p1"))

    bundle = (await client.get("", params={"_type": "Patient,Organization"})).json()
    everything = (await client.get("")).json()
    narrowed = (await client.get("", params={"_type": "Organization", "_id": "o1,p1"})).json()

    found = sorted(e["fullUrl"].removeprefix("http://testserver/fhir/") for e in bundle["entry"])
    assert found == ["Organization/o1", "Organization/o2", "Patient/p1", "Patient/p2", "Patient/p3"]
    assert len(everything["entry"]) == 6
    assert [e["fullUrl"] for e in narrowed["entry"]] == ["http://testserver/fhir/Organization/o1"]


async def test_system_search_with_an_unknown_type_returns_400(client):
    response = await client.get("", params={"_type": "Patient,Starship"})

    assert_outcome(response, 400, "invalid", "Starship", "_type")


async def test_unknown_parameter_is_ignored_and_reported_in_an_outcome_entry(client, people):
    response = await client.get("Patient", params={"favourite-colour": "green", "_id": "p1"})

    assert response.status_code == 200
    bundle = response.json()
    assert entry_ids(bundle) == ["p1"]
    outcomes = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert len(outcomes) == 1
    issue = outcomes[0]["resource"]["issue"][0]
    assert outcomes[0]["resource"]["resourceType"] == "OperationOutcome"
    assert issue["severity"] == "warning"
    assert "favourite-colour" in issue["diagnostics"]
    assert issue["expression"] == ["favourite-colour"]
    assert "favourite-colour" not in (link(bundle, "self") or "favourite-colour")


async def test_unknown_parameter_with_strict_handling_returns_400(client, people):
    response = await client.get(
        "Patient", params={"favourite-colour": "green"}, headers={"Prefer": "handling=strict"}
    )

    assert_outcome(response, 400, "invalid", "favourite-colour", "favourite-colour")


async def test_lenient_handling_is_the_default_when_asked_for(client, people):
    response = await client.get(
        "Patient", params={"favourite-colour": "green"}, headers={"Prefer": "handling=lenient"}
    )

    assert response.status_code == 200
    assert sorted(entry_ids(response.json())) == ["p1", "p2", "p3"]


async def test_unsupported_modifier_returns_400(client, people):
    response = await client.get("Patient", params={"identifier:below": "NHS"})

    assert_outcome(response, 400, "invalid", "':below'", "identifier:below")


async def test_invalid_missing_value_returns_400(client):
    response = await client.get("Patient", params={"identifier:missing": "perhaps"})

    assert_outcome(response, 400, "invalid", "true or false")


@pytest.mark.parametrize(
    "value", ["2026-02-30", "gt2026-13", "next-tuesday", "2026-01-01T25:00:00Z"]
)
async def test_invalid_date_returns_400(client, value):
    response = await client.get("Patient", params={"_lastUpdated": value})

    assert_outcome(response, 400, "invalid", "Invalid date", "_lastUpdated")


async def test_invalid_count_returns_400(client):
    response = await client.get("Patient", params={"_count": "lots"})

    assert_outcome(response, 400, "invalid", "_count")


async def test_search_on_an_unknown_type_returns_404(client):
    response = await client.get("Starship", params={"_id": "enterprise"})

    assert_outcome(response, 404, "not-supported", "Starship")
