"""history at instance, type and system level: order, _since, _count and paging."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient

from tests.factories import FakeClock, all_pages, assert_outcome, link, organization, patient


@pytest.fixture
def clock(app, monkeypatch):
    fake = FakeClock("2026-03-01T08:00:00Z")
    monkeypatch.setattr(app.state.fhir, "clock", fake)
    return fake


def _versions(bundle: dict[str, Any]) -> list[tuple[str, str]]:
    return [
        (
            e["fullUrl"].rsplit("/", 2)[-2] + "/" + e["fullUrl"].rsplit("/", 1)[-1],
            e["response"]["etag"],
        )
        for e in bundle.get("entry", [])
    ]


async def _write_sequence(client: AsyncClient, clock: FakeClock) -> None:
    """Six writes at distinct, increasing times over two types."""
    steps = [
        ("2026-03-01T08:00:00Z", "put", "Patient/a", patient(id="a")),
        ("2026-03-01T09:00:00Z", "put", "Organization/o", {**organization(), "id": "o"}),
        ("2026-03-01T10:00:00Z", "put", "Patient/a", patient(id="a", active=True)),
        ("2026-03-01T11:00:00Z", "put", "Patient/b", patient("9000000017", id="b")),
        ("2026-03-01T12:00:00Z", "delete", "Patient/a", None),
        (
            "2026-03-01T13:00:00Z",
            "put",
            "Organization/o",
            {**organization(), "id": "o", "active": False},
        ),
    ]
    for moment, method, url, body in steps:
        clock.set(moment)
        response = await (client.put(url, json=body) if method == "put" else client.delete(url))
        assert response.status_code in (200, 201, 204), response.text


async def test_instance_history_lists_versions_newest_first(client, clock):
    await _write_sequence(client, clock)

    response = await client.get("Patient/a/_history")

    assert response.status_code == 200
    bundle = response.json()
    assert bundle["type"] == "history"
    assert [e["response"]["etag"] for e in bundle["entry"]] == ['W/"3"', 'W/"2"', 'W/"1"']
    assert [e["request"]["method"] for e in bundle["entry"]] == ["DELETE", "PUT", "PUT"]
    assert bundle["entry"][1]["resource"]["active"] is True
    assert bundle["entry"][2]["response"]["status"].startswith("201")
    assert all(e["fullUrl"] == "http://testserver/fhir/Patient/a" for e in bundle["entry"])
    assert link(bundle, "self") == "http://testserver/fhir/Patient/a/_history"


async def test_type_history_lists_only_that_type(client, clock):
    await _write_sequence(client, clock)

    bundle = (await client.get("Patient/_history")).json()

    assert _versions(bundle) == [
        ("Patient/a", 'W/"3"'),
        ("Patient/b", 'W/"1"'),
        ("Patient/a", 'W/"2"'),
        ("Patient/a", 'W/"1"'),
    ]


async def test_system_history_lists_every_type_newest_first(client, clock):
    await _write_sequence(client, clock)

    bundle = (await client.get("_history")).json()

    assert _versions(bundle) == [
        ("Organization/o", 'W/"2"'),
        ("Patient/a", 'W/"3"'),
        ("Patient/b", 'W/"1"'),
        ("Patient/a", 'W/"2"'),
        ("Organization/o", 'W/"1"'),
        ("Patient/a", 'W/"1"'),
    ]
    updated = [e["response"]["lastModified"] for e in bundle["entry"]]
    assert updated == sorted(updated, reverse=True)


async def test_history_since_returns_only_later_versions(client, clock):
    await _write_sequence(client, clock)

    system = (await client.get("_history", params={"_since": "2026-03-01T11:00:00Z"})).json()
    instance = (
        await client.get("Patient/a/_history", params={"_since": "2026-03-01T10:30:00Z"})
    ).json()
    by_type = (
        await client.get("Organization/_history", params={"_since": "2026-03-01T09:30:00Z"})
    ).json()

    assert _versions(system) == [
        ("Organization/o", 'W/"2"'),
        ("Patient/a", 'W/"3"'),
        ("Patient/b", 'W/"1"'),
    ]
    assert _versions(instance) == [("Patient/a", 'W/"3"')]
    assert _versions(by_type) == [("Organization/o", 'W/"2"')]


async def test_history_since_a_partial_date_starts_at_its_beginning(client, clock):
    await _write_sequence(client, clock)

    everything = (await client.get("_history", params={"_since": "2026-03-01"})).json()
    nothing = (await client.get("_history", params={"_since": "2026-03-02"})).json()

    assert len(everything["entry"]) == 6
    assert "entry" not in nothing


async def test_history_count_limits_the_page_and_links_the_next(client, clock):
    await _write_sequence(client, clock)

    bundle = (await client.get("_history", params={"_count": "2"})).json()

    assert len(bundle["entry"]) == 2
    assert link(bundle, "self") == "http://testserver/fhir/_history?_count=2"
    following = link(bundle, "next")
    assert following is not None
    assert following.startswith("http://testserver/fhir/_history?_count=2&")


@pytest.mark.parametrize("url", ["_history", "Patient/_history", "Patient/a/_history"])
async def test_history_pages_followed_to_the_end_give_every_version_once(client, clock, url):
    await _write_sequence(client, clock)
    expected = _versions((await client.get(url)).json())

    pages = await all_pages(client, url, params={"_count": "1"})

    collected = [v for page in pages for v in _versions(page)]
    assert collected == expected
    assert len(pages) == len(expected)
    assert link(pages[-1], "next") is None


async def test_history_paging_is_stable_when_writes_happen_between_pages(client, clock):
    await _write_sequence(client, clock)
    expected = _versions((await client.get("_history")).json())

    first = (await client.get("_history", params={"_count": "2"})).json()
    clock.set("2026-03-01T14:00:00Z")
    assert (await client.put("Patient/a", json=patient(id="a", gender="male"))).status_code == 201
    assert (await client.post("Patient", json=patient("9000000025"))).status_code == 201
    following = link(first, "next")
    assert following is not None
    rest = await all_pages(client, following)

    collected = _versions(first) + [v for page in rest for v in _versions(page)]
    assert len(collected) == len(set(collected))
    assert collected == expected
    updated = [e["response"]["lastModified"] for p in (first, *rest) for e in p["entry"]]
    assert updated == sorted(updated, reverse=True)


async def test_history_with_an_invalid_since_returns_400(client):
    response = await client.get("_history", params={"_since": "yesterday"})

    assert_outcome(response, 400, "invalid", "_since", "_since")


async def test_history_with_an_invalid_count_returns_400(client):
    response = await client.get("Patient/_history", params={"_count": "many"})

    assert_outcome(response, 400, "invalid", "_count", "_count")


async def test_history_with_an_unsupported_parameter_returns_400(client):
    response = await client.get("_history", params={"_at": "2026"})

    assert_outcome(response, 400, "invalid", "_at", "_at")


async def test_history_of_an_unknown_type_returns_404(client):
    response = await client.get("Spaceship/_history")

    assert_outcome(response, 404, "not-supported", "Spaceship")


async def test_history_of_an_unknown_resource_is_404(client):
    response = await client.get("Patient/never-was/_history")
    assert response.status_code == 404
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "not-found"
    assert "never existed" in body["issue"][0]["diagnostics"]
