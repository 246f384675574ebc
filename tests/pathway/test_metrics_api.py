"""``/api/metrics`` over a cohort written through the REST API and derived (both backends).

The expected numbers are worked out by hand in tests/pathway/metrics_store.py.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.pathway import episode_rows
from app.pathway import metrics_service as service
from app.pathway.metrics import METRICS, MetricsQuery, compute
from tests.pathway.metrics_cohort import random_cohort
from tests.pathway.metrics_store import store_cohort, store_services

YEAR = {"start": "2025-01-01", "end": "2025-12-31"}


async def _get(client: httpx.AsyncClient, path: str, **params: str) -> httpx.Response:
    return await client.get(f"http://testserver/api/metrics{path}", params=params)


async def _ok(client: httpx.AsyncClient, path: str, **params: str) -> dict[str, Any]:
    response = await _get(client, path, **params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    return body


def _groups(body: dict[str, Any]) -> dict[tuple[str, ...], dict[str, Any]]:
    return {
        tuple(g["key"].values()): {k: v for k, v in g.items() if k != "key"} for g in body["groups"]
    }


async def test_the_metrics_are_listed_with_their_measures(client: httpx.AsyncClient) -> None:
    body = await _ok(client, "")
    assert [m["id"] for m in body["metrics"]] == list(METRICS)
    rtt = next(m for m in body["metrics"] if m["id"] == "rtt-18-weeks")
    assert rtt["measure"] == "https://fhir.southlondon-mitral.nhs.uk/Measure/rtt-18-weeks"
    assert rtt["title"] and "126 days" in rtt["description"]
    assert "age-band" in body["dimensions"]


async def test_referrals_and_waits_over_the_year(app: FastAPI, client: httpx.AsyncClient) -> None:
    await store_cohort(app, client)
    referrals = await _ok(client, "/referrals", **YEAR, **{"group-by": "centre"})
    assert referrals["period"] == {"start": "2025-01-01", "end": "2025-12-31"}
    assert referrals["total"] == {"count": 4}
    assert _groups(referrals) == {
        ("R1H",): {"count": 1},
        ("RJ122",): {"count": 1},
        ("RJZ01",): {"count": 2},
    }
    rtt = await _ok(client, "/wait-referral-treatment", **YEAR, **{"group-by": "centre"})
    assert rtt["total"] == {"count": 3, "median": 77, "p90": 154}
    assert _groups(rtt) == {
        ("R1H",): {"count": 2, "median": 77, "p90": 154},
        ("RJZ01",): {"count": 1, "median": 56, "p90": 56},
    }
    to_mdt = await _ok(client, "/wait-referral-mdt", **YEAR)
    assert to_mdt["total"] == {"count": 3, "median": 28, "p90": 35}


async def test_eighteen_week_shares(app: FastAPI, client: httpx.AsyncClient) -> None:
    await store_cohort(app, client)
    completed = await _ok(client, "/rtt-18-weeks", **YEAR)
    assert completed["total"] == {"numerator": 2, "denominator": 3, "share": 2 / 3}
    assert completed["threshold_days"] == 126
    incomplete = await _ok(client, "/rtt-incomplete", **YEAR)
    assert incomplete["total"] == {"numerator": 0, "denominator": 1, "share": 0.0}
    march = await _ok(client, "/rtt-18-weeks", start="2025-03-01", end="2025-03-31")
    assert march["total"] == {"numerator": 2, "denominator": 2, "share": 1.0}


async def test_filters_and_two_breakdowns(app: FastAPI, client: httpx.AsyncClient) -> None:
    await store_cohort(app, client)
    barts = await _ok(client, "/wait-referral-treatment", **YEAR, centre="R1H")
    assert barts["filters"] == {"centre": ["R1H"]}
    assert barts["total"] == {"count": 2, "median": 77, "p90": 154}
    both = await _ok(client, "/referrals", **YEAR, **{"group-by": "centre,modality"})
    assert both["group_by"] == ["centre", "modality"]
    assert _groups(both) == {
        ("R1H", "unknown"): {"count": 1},
        ("RJ122", "surgery"): {"count": 1},
        ("RJZ01", "transcatheter-repair"): {"count": 2},
    }
    volumes = await _ok(client, "/treatment-volumes", **YEAR, **{"group-by": "modality"})
    assert _groups(volumes)[("2025", "transcatheter-repair")]["count"] == 2
    assert volumes["denominators"]["source"]


async def test_capability_matrix_reads_the_stored_services(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await store_cohort(app, client)
    await store_services(client)
    matrix = await _ok(client, "/capability-matrix", **YEAR)
    rows = {r["centre"]: r for r in matrix["rows"]}
    assert rows["RJZ01"]["modalities"]["surgery"] == {"offers": True, "count": 1}
    assert rows["RJZ01"]["unexpected"] == []
    assert rows["R1H"]["modalities"]["transcatheter-replacement"] == {"offers": True, "count": 0}
    assert rows["R1H"]["modalities"]["transcatheter-repair"] == {"offers": False, "count": 2}
    assert rows["R1H"]["unexpected"] == ["transcatheter-repair"]


async def test_the_default_period_is_the_last_twelve_complete_months(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ctx = app.state.fhir
    saved = ctx.clock
    ctx.clock = lambda: int(datetime(2026, 1, 15, 12, tzinfo=UTC).timestamp()) * 1_000_000
    try:
        default = await _ok(client, "/referrals")
        ended = await _ok(client, "/referrals", end="2025-06-30")
        month = await _ok(client, "/referrals", start="2025-03", end="2025-03")
    finally:
        ctx.clock = saved
    assert default["period"] == {"start": "2025-01-01", "end": "2025-12-31"}
    assert ended["period"] == {"start": "2024-07-01", "end": "2025-06-30"}
    assert month["period"] == {"start": "2025-03-01", "end": "2025-03-31"}


@pytest.mark.parametrize(
    ("path", "params", "status", "expression"),
    [
        ("/no-such-metric", {}, 404, "metric"),
        ("/referrals", {"start": "2025-13-01"}, 400, "start"),
        ("/referrals", {"end": "last week"}, 400, "end"),
        ("/referrals", {"start": "2025-06-01", "end": "2025-01-31"}, 400, "start"),
        ("/referrals", {"group-by": "centre,hospital"}, 400, "group-by"),
        ("/referrals", {"group-by": "centre,centre"}, 400, "group-by"),
        ("/referrals", {"ward": "A1"}, 400, "ward"),
        ("/referrals", {"centre": ""}, 400, "centre"),
    ],
)
async def test_bad_input_is_an_operation_outcome_naming_the_parameter(
    client: httpx.AsyncClient, path: str, params: dict[str, str], status: int, expression: str
) -> None:
    response = await _get(client, path, **params)
    assert response.status_code == status, response.text
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == [expression]


@pytest.mark.parametrize(
    "period",
    [("2024-01-01", "2024-12-31"), ("2025-03-01", "2025-03-31"), ("2023-06-15", "2025-06-14")],
)
async def test_the_narrowed_load_loses_nothing(
    app: FastAPI, client: httpx.AsyncClient, period: tuple[str, str]
) -> None:
    """The SQL pre-filter per metric must give what the metric computes over every episode."""
    episodes = random_cohort(600)
    async with app.state.fhir.db.write() as conn:
        await episode_rows.replace(conn, [], episodes)
    query = MetricsQuery(date.fromisoformat(period[0]), date.fromisoformat(period[1]), ("centre",))
    for metric in METRICS:
        if metric == "capability-matrix":
            continue  # reads the services too: covered above
        expected = compute(metric, episodes, query, population=service.population(app.state.fhir))
        assert await service.evaluate(app.state.fhir, metric, query) == expected, metric
