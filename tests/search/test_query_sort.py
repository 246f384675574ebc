"""_sort end to end: keys, direction, several keys, missing values last, keyset paging."""

from __future__ import annotations

from typing import Any

import pytest
from httpx import AsyncClient

from tests.factories import all_pages, entry_ids, link, put_resource


async def ordered(client: AsyncClient, url: str, *pairs: tuple[str, str]) -> list[str]:
    response = await client.get(url, params=[*pairs, ("_count", "100")])
    assert response.status_code == 200, response.text
    return entry_ids(response.json())


def person(res_id: str, born: str | None, family: str, gender: str = "female") -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": res_id,
        "gender": gender,
        "name": [{"family": family}],
    }
    if born:
        resource["birthDate"] = born
    return resource


@pytest.fixture
async def people(client):
    await put_resource(client, person("a", "1990-05-01", "Zed"))
    await put_resource(client, person("b", "1948", "adams", "male"))
    await put_resource(client, person("c", None, "Ó Briain"))
    await put_resource(client, person("d", "1990-05-01", "Brown", "male"))
    await put_resource(client, person("e", "2001-12-31", "obi"))


async def test_sort_by_date_ascending_and_descending_missing_last(client, people):
    assert await ordered(client, "Patient", ("_sort", "birthdate")) == ["b", "a", "d", "e", "c"]
    assert await ordered(client, "Patient", ("_sort", "-birthdate")) == ["e", "a", "d", "b", "c"]


async def test_sort_by_string_uses_the_normalised_value(client, people):
    assert await ordered(client, "Patient", ("_sort", "family")) == ["b", "d", "c", "e", "a"]


async def test_sort_by_several_keys(client, people):
    assert await ordered(client, "Patient", ("_sort", "gender,-birthdate")) == [
        "e",
        "a",
        "c",
        "d",
        "b",
    ]
    assert await ordered(client, "Patient", ("_sort", "-_id")) == ["e", "d", "c", "b", "a"]


@pytest.mark.parametrize("sort", ["birthdate", "-birthdate", "family", "gender,-birthdate", "-_id"])
async def test_paging_in_sort_order_gives_every_row_once(client, people, sort):
    whole = await ordered(client, "Patient", ("_sort", sort))

    pages = await all_pages(client, "Patient", params={"_sort": sort, "_count": "2"})

    assert [i for p in pages for i in entry_ids(p)] == whole
    assert (link(pages[0], "self") or "").endswith(f"_sort={sort.replace(',', '%2C')}&_count=2")


async def test_paging_stays_correct_when_rows_are_added_between_pages(client, people):
    first = (await client.get("Patient", params={"_sort": "birthdate", "_count": "2"})).json()
    assert entry_ids(first) == ["b", "a"]
    await put_resource(
        client, person("early", "1900", "Early")
    )  # sorts before the cursor: not shown
    await put_resource(client, person("late", "2020", "Late"))

    rest = await all_pages(client, link(first, "next") or "")

    assert [i for p in rest for i in entry_ids(p)] == ["d", "e", "late", "c"]


async def test_unknown_sort_parameter_is_reported_or_rejected(client, people):
    lenient = await client.get("Patient", params={"_sort": "colour"})
    strict = await client.get(
        "Patient", params={"_sort": "colour"}, headers={"Prefer": "handling=strict"}
    )

    assert lenient.status_code == 200
    assert strict.status_code == 400
    assert "colour" in strict.text


async def test_a_forged_cursor_is_400(client, people):
    response = await client.get("Patient", params={"_sort": "family", "_cursor": "!!nope"})

    assert response.status_code == 400
