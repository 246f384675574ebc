"""Date search end to end: every prefix against ranges, partial dates, offsets, Periods, DST."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import assert_outcome, put_resource, search_ids


def born(res_id: str, date: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": res_id, "birthDate": date}


@pytest.fixture
async def births(client):
    await put_resource(client, born("y1990", "1990"))  # the whole year
    await put_resource(client, born("m1990", "1990-06"))  # the whole month
    await put_resource(client, born("d0615", "1990-06-15"))
    await put_resource(client, born("d0101", "1991-01-01"))
    await put_resource(client, {"resourceType": "Patient", "id": "none"})


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("1990", ["d0615", "m1990", "y1990"]),
        ("eq1990-06", ["d0615", "m1990"]),
        ("1990-06-15", ["d0615"]),
        ("ne1990-06", ["d0101", "y1990"]),
        ("gt1990-06", ["d0101", "y1990"]),
        ("lt1990-06", ["y1990"]),
        ("ge1990-06", ["d0101", "d0615", "m1990", "y1990"]),
        ("le1990-06", ["d0615", "m1990", "y1990"]),
        ("sa1990-06", ["d0101"]),
        ("eb1990-06-15", []),
        ("eb1990-07", ["d0615", "m1990"]),
        ("sa1990", ["d0101"]),
        ("gt1990-12-31", ["d0101"]),
        ("1991-01-01T00:00:00Z", []),
        ("ge1991-01-01T00:00:00Z", ["d0101"]),
        ("1990,1991", ["d0101", "d0615", "m1990", "y1990"]),
    ],
)
async def test_prefixes_against_partial_dates(client, births, query, expected):
    assert await search_ids(client, "Patient", ("birthdate", query)) == expected


async def test_repeated_dates_are_anded(client, births):
    # The year 1990 both reaches past 1 June and starts before 30 June: R4 range semantics.
    june = [("birthdate", "ge1990-06-01"), ("birthdate", "le1990-06-30")]
    assert await search_ids(client, "Patient", *june) == ["d0615", "m1990", "y1990"]
    within = [("birthdate", "sa1989-12-31"), ("birthdate", "eb1990-07-01")]
    assert await search_ids(client, "Patient", *within) == ["d0615", "m1990"]


async def test_approximately(client, births):
    found = await search_ids(client, "Patient", ("birthdate", "ap1990-06-15"))

    assert {"d0615", "m1990"} <= set(found)
    assert "none" not in found


async def test_missing_dates(client, births):
    assert await search_ids(client, "Patient", ("birthdate:missing", "true")) == ["none"]
    assert len(await search_ids(client, "Patient", ("birthdate:missing", "false"))) == 4


def observed(res_id: str, **effective: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": res_id,
        "status": "final",
        "code": {"text": "x"},
        **effective,
    }


async def test_offsets_and_the_london_dst_change(client):
    # 2026-03-29: clocks go forward at 01:00 UTC; 01:30Z is 02:30 BST, the same instant.
    await put_resource(client, observed("gmt", effectiveDateTime="2026-03-29T01:30:00+00:00"))
    await put_resource(client, observed("bst", effectiveDateTime="2026-03-29T02:30:00+01:00"))
    await put_resource(client, observed("before", effectiveDateTime="2026-03-29T00:59:00Z"))
    await put_resource(client, observed("after", effectiveDateTime="2026-03-29T03:00:00+01:00"))

    same = ["bst", "gmt"]
    assert await search_ids(client, "Observation", ("date", "2026-03-29T01:30:00Z")) == same
    assert await search_ids(client, "Observation", ("date", "2026-03-29T02:30:00+01:00")) == same
    assert await search_ids(client, "Observation", ("date", "2026-03-29T01:30")) == same
    assert await search_ids(client, "Observation", ("date", "gt2026-03-29T02:00:00+01:00")) == [
        "after",
        "bst",
        "gmt",
    ]
    assert await search_ids(client, "Observation", ("date", "lt2026-03-29T01:00:00+00:00")) == [
        "before"
    ]
    assert await search_ids(client, "Observation", ("date", "2026-03-29")) == [
        "after",
        "before",
        "bst",
        "gmt",
    ]
    # A day given with an offset-free time is read as UTC.
    assert await search_ids(client, "Observation", ("date", "le2026-03-29T01:30:00")) == [
        "before",
        "bst",
        "gmt",
    ]


async def test_periods_are_ranges_with_open_ends(client):
    await put_resource(
        client, observed("closed", effectivePeriod={"start": "2025-01-10", "end": "2025-01-20"})
    )
    await put_resource(client, observed("open", effectivePeriod={"start": "2025-01-15"}))
    await put_resource(client, observed("ended", effectivePeriod={"end": "2025-01-12"}))

    assert await search_ids(client, "Observation", ("date", "2025-01")) == ["closed"]
    assert await search_ids(client, "Observation", ("date", "gt2025-01-31")) == ["open"]
    assert await search_ids(client, "Observation", ("date", "lt2025-01-11")) == ["closed", "ended"]
    assert await search_ids(client, "Observation", ("date", "sa2025-01-12")) == ["open"]
    assert await search_ids(client, "Observation", ("date", "eb2025-01-13")) == ["ended"]
    assert await search_ids(client, "Observation", ("date", "ge2025-01-15")) == ["closed", "open"]


async def test_last_updated_still_works_with_chains_of_prefixes(client):
    await put_resource(client, born("p", "2000"))

    assert await search_ids(client, "Patient", ("_lastUpdated", "gt2000")) == ["p"]
    assert await search_ids(client, "Patient", ("_lastUpdated", "lt2000")) == []


@pytest.mark.parametrize("value", ["2026-02-30", "gx2026", "2026-1-1", "ge"])
async def test_malformed_dates_are_400(client, value):
    response = await client.get("Patient", params={"birthdate": value})

    assert_outcome(response, 400, "invalid", "birthdate", "birthdate")
