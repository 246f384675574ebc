"""Date searches read as index ranges (app/search/date_bounds.py) give exactly the R4 answer.

The bounds on ``low`` come from the widest stored span, with open-ended rows read apart, and
ANDed clauses on a single-valued parameter are met by one row. Both are shortcuts that must
never change a result, so random searches over awkward data (long and open Periods, partial
dates, offsets, repeating elements) are checked against a plain evaluation of the R4 rules.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
from httpx import AsyncClient

from app.search.dates import parse_range
from app.search.parameters import parameters_for
from tests.factories import all_pages, entry_ids, link, put_resource, search_ids

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")
SEARCH_VALUES = (
    "2024",
    "2025-01",
    "2025-01-15",
    "2025-01-15T10:30:00Z",
    "2025-01-15T10:30:00+01:00",
    "2025-02",
    "2025-06-30",
    "2026",
    "2019-12-31",
)


def _performed(rng: random.Random, n: int) -> dict[str, Any]:
    day = f"2025-{rng.randint(1, 2):02d}-{rng.randint(1, 28):02d}"
    match n % 8:
        case 0:
            return {"performedDateTime": f"{day}T{rng.randint(0, 23):02d}:30:00Z"}
        case 1:
            return {"performedDateTime": day}
        case 2:
            return {"performedDateTime": f"2025-{rng.randint(1, 3):02d}"}
        case 3:
            return {"performedPeriod": {"start": day, "end": "2025-03-01"}}
        case 4:  # long: starts years before any searched month
            return {"performedPeriod": {"start": "2018-05-01", "end": f"202{rng.randint(5, 9)}"}}
        case 5:  # open end
            return {"performedPeriod": {"start": f"20{rng.randint(18, 26)}-03-01"}}
        case 6:  # open start
            return {"performedPeriod": {"end": f"20{rng.randint(18, 26)}-03-01T12:00:00+01:00"}}
        case _:
            return {"performedDateTime": f"{day}T23:30:00-05:00"}


def _procedure(rng: random.Random, n: int) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": f"proc-{n}",
        "status": "completed",
        "subject": {"reference": "Patient/p1"},
        **_performed(rng, n),
    }


def _careplan(n: int, starts: list[str]) -> dict[str, Any]:
    """CarePlan.activity repeats: activity-date has one row per scheduled Period."""
    return {
        "resourceType": "CarePlan",
        "id": f"plan-{n}",
        "status": "active",
        "intent": "plan",
        "subject": {"reference": "Patient/p1"},
        "activity": [
            {"detail": {"status": "scheduled", "scheduledPeriod": {"start": s, "end": s}}}
            for s in starts
        ],
    }


def _matches(prefix: str, row: tuple[int, int], value: str) -> bool:
    """R4 search.html#prefix, written out apart from the SQL."""
    low, high = row
    s_low, s_high = parse_range(value)
    within = low >= s_low and high <= s_high
    return {
        "eq": within,
        "ne": not within,
        "gt": high > s_high,
        "lt": low < s_low,
        "ge": high > s_high or within,
        "le": low < s_low or within,
        "sa": low > s_high,
        "eb": high < s_low,
    }[prefix]


def _rows(resource: dict[str, Any], param: str) -> list[tuple[int, int]]:
    tables = parameters_for(resource["resourceType"])[param].extract(resource)
    return [(row[2], row[3]) for row in tables.get("search_date", [])]


def _expected(
    resources: list[dict[str, Any]], param: str, clauses: list[tuple[str, str]]
) -> list[str]:
    return sorted(
        r["id"]
        for r in resources
        if all(any(_matches(p, row, v) for row in _rows(r, param)) for p, v in clauses)
    )


@pytest.fixture
async def procedures(client: AsyncClient) -> list[dict[str, Any]]:
    rng = random.Random(20261126)
    stored = [_procedure(rng, n) for n in range(64)]
    for resource in stored:
        await put_resource(client, resource)
    return stored


async def test_random_date_searches_match_the_r4_rules(client, procedures):
    rng = random.Random(7)
    checked = 0
    for _ in range(120):
        clauses = [
            (rng.choice(PREFIXES), rng.choice(SEARCH_VALUES)) for _ in range(rng.randint(1, 2))
        ]
        params = [("date", f"{p}{v}") for p, v in clauses]
        got = await search_ids(client, "Procedure", *params, ("_count", "100"))
        assert got == _expected(procedures, "date", clauses), params
        checked += bool(got)
    assert checked > 40  # the searches are not trivially empty


async def test_month_window_finds_long_and_open_periods(client, procedures):
    got = set(
        await search_ids(
            client, "Procedure", ("date", "ge2025-01"), ("date", "lt2025-02"), ("_count", "100")
        )
    )
    # a 2018-2025+ Period and an open-ended one overlap January 2025 but start years before
    assert {p["id"] for p in procedures if p["id"].endswith(("-4", "-12"))} <= got
    assert got == set(_expected(procedures, "date", [("ge", "2025-01"), ("lt", "2025-02")]))


async def test_a_widened_span_is_still_exact_after_the_widest_row_goes(client, procedures):
    """S is read at query time: after the long Periods are deleted, results stay exact."""
    for p in procedures:
        if "performedPeriod" in p:
            assert (await client.delete(f"Procedure/{p['id']}")).status_code in (200, 204)
    left = [p for p in procedures if "performedPeriod" not in p]
    clauses = [("ge", "2025-01-15"), ("le", "2025-02")]
    got = await search_ids(client, "Procedure", *[("date", f"{p}{v}") for p, v in clauses])
    assert got == _expected(left, "date", clauses)
    assert got


async def test_anded_clauses_on_a_repeating_element_may_match_different_rows(client):
    """activity-date repeats, so ge2029 and lt2021 are each met by a different activity."""
    plans = [
        _careplan(1, ["2020-06-01", "2030-06-01"]),
        _careplan(2, ["2030-06-01"]),
        _careplan(3, ["2020-06-01"]),
        _careplan(4, ["2025-06-01"]),
    ]
    for plan in plans:
        await put_resource(client, plan)
    clauses = [("ge", "2029"), ("lt", "2021")]
    got = await search_ids(client, "CarePlan", *[("activity-date", f"{p}{v}") for p, v in clauses])
    assert got == ["plan-1"] == _expected(plans, "activity-date", clauses)


async def test_ap_finds_values_near_the_search_value(client):
    for n, when in enumerate(["2025-01-10", "2025-01-20", "2004-01-10", "2025-03-01"]):
        await put_resource(
            client,
            {
                "resourceType": "Procedure",
                "id": f"ap-{n}",
                "status": "completed",
                "subject": {"reference": "Patient/p1"},
                "performedDateTime": when,
            },
        )
    # 10% of the distance from now widens the range by months, never by twenty years
    got = await search_ids(client, "Procedure", ("date", "ap2025-01-15"))
    assert "ap-0" in got and "ap-1" in got and "ap-2" not in got


@pytest.mark.parametrize(
    ("query", "descending", "window"),
    [
        ("date=ge2025-01-10&_sort=-date", True, [("ge", "2025-01-10")]),
        ("date=lt2025-02&date=ge2025-01&_sort=date", False, [("lt", "2025-02"), ("ge", "2025-01")]),
        ("_sort=date", False, []),
        ("_sort=-date,_id", True, []),
    ],
)
async def test_sorted_pages_read_from_the_date_index_in_order(
    client, procedures, query, descending, window
):
    """The page is read from search_date in key order (app/search/sql.py): every match once,
    in order, missing values last, and previous links walk back through the same pages."""
    for n in range(3):  # no performed[x]: these sort after every value
        await put_resource(
            client,
            {
                "resourceType": "Procedure",
                "id": f"none-{n}",
                "status": "completed",
                "subject": {"reference": "Patient/p1"},
            },
        )
    matching = [p for p in procedures if p["id"] in _expected(procedures, "date", window)]
    lows = {p["id"]: _rows(p, "date")[0][0] for p in matching}
    valued = sorted(lows, key=lambda i: (-lows[i] if descending else lows[i], i))
    expected = valued + ([] if window else sorted(f"none-{n}" for n in range(3)))
    forward = await all_pages(client, f"Procedure?{query}&_count=7")
    assert [i for page in forward for i in entry_ids(page)] == expected
    assert all(len(entry_ids(page)) == 7 for page in forward[:-1])
    if len(forward) > 1:
        back = [
            forward[-1],
            *await all_pages(client, link(forward[-1], "previous") or "", relation="previous"),
        ]
        assert [entry_ids(p) for p in back[::-1]] == [entry_ids(p) for p in forward]
