"""Keyset paging in both directions: next and previous links agree, even across writes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import link, patient

BIRTHS = {
    "p1": "1948-07-19",
    "p2": "1951-02-03",
    "p3": None,
    "p4": "1951-02-03",
    "p5": "1944-11-30",
    "p6": None,
    "p7": "1962-09-08",
}


async def _load(client) -> None:
    for index, (res_id, birth) in enumerate(BIRTHS.items()):
        body = patient(f"90000000{index:02d}", id=res_id)
        if birth is None:
            body.pop("birthDate")
        else:
            body["birthDate"] = birth
        response = await client.put(f"Patient/{res_id}", json=body)
        assert response.status_code == 201, response.text


def _ids(bundle: dict[str, Any]) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


async def _walk(client, first: dict[str, Any]) -> list[dict[str, Any]]:
    pages = [first]
    while url := link(pages[-1], "next"):
        pages.append((await client.get(url)).json())
    return pages


@pytest.mark.parametrize(
    "params",
    [
        {"_count": "2"},
        {"_count": "2", "_sort": "birthdate"},
        {"_count": "2", "_sort": "-birthdate"},
        {"_count": "3", "_sort": "-birthdate,_id"},
    ],
)
async def test_previous_links_walk_back_through_the_same_pages(client, params):
    await _load(client)
    first = (await client.get("Patient", params=params)).json()

    forward = await _walk(client, first)
    backward = [forward[-1]]
    while url := link(backward[-1], "previous"):
        backward.append((await client.get(url)).json())

    assert link(first, "previous") is None
    assert sorted(i for page in forward for i in _ids(page)) == sorted(BIRTHS)
    assert [_ids(p) for p in reversed(backward)] == [_ids(p) for p in forward]


async def test_sorted_pages_put_missing_values_last_in_both_directions(client):
    await _load(client)
    first = (await client.get("Patient", params={"_count": "2", "_sort": "birthdate"})).json()

    pages = await _walk(client, first)
    order = [i for page in pages for i in _ids(page)]

    assert order[:5] == ["p5", "p1", "p2", "p4", "p7"]
    assert set(order[5:]) == {"p3", "p6"}


async def test_previous_link_stays_correct_after_an_insert_between_pages(client):
    await _load(client)
    first = (await client.get("Patient", params={"_count": "3"})).json()
    second = (await client.get(link(first, "next"))).json()
    inserted = await client.put("Patient/p0", json=patient("9000000999", id="p0"))
    assert inserted.status_code == 201

    back = (await client.get(link(second, "previous"))).json()

    assert _ids(first) == ["p1", "p2", "p3"]
    assert _ids(second) == ["p4", "p5", "p6"]
    assert _ids(back) == ["p1", "p2", "p3"]
    assert link(back, "previous") is not None  # p0 now sits before p1
    earlier = (await client.get(link(back, "previous"))).json()
    assert _ids(earlier) == ["p0"]
