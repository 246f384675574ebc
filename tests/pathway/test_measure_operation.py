"""The Measures over FHIR: read and search, and ``$evaluate-measure`` against ``/api/metrics``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.pathway import metrics_api
from app.pathway.measures import MEASURE_BASE, VERSION
from app.pathway.metrics import METRICS
from tests.pathway.metrics_store import store_cohort

PERIOD = {"periodStart": "2025-01-01", "periodEnd": "2025-12-31"}


async def _report(client: httpx.AsyncClient, metric: str, **params: str) -> dict[str, Any]:
    response = await client.get(f"Measure/{metric}/$evaluate-measure", params=params)
    assert response.status_code == 200, response.text
    report: dict[str, Any] = response.json()
    return report


async def _api(client: httpx.AsyncClient, metric: str, **params: str) -> dict[str, Any]:
    response = await client.get(f"http://testserver/api/metrics/{metric}", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _pops(element: dict[str, Any]) -> dict[str, int]:
    return {p["code"]["coding"][0]["code"]: p["count"] for p in element["population"]}


def _strata(group: dict[str, Any], dimension: str) -> dict[str, dict[str, Any]]:
    stratifier = next(s for s in group["stratifier"] if s["code"][0]["text"] == dimension)
    return {s["value"]["text"]: s for s in stratifier["stratum"]}


async def test_the_measures_read_and_search_like_any_resource(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    first = await metrics_api.publish(app.state.fhir)
    assert len(first.created) == len(METRICS)
    again = await metrics_api.publish(app.state.fhir)
    assert len(again.unchanged) == len(METRICS)  # start-up re-publishes without new versions
    read = await client.get("Measure/rtt-18-weeks")
    assert read.status_code == 200
    assert read.json()["url"] == MEASURE_BASE + "rtt-18-weeks"
    assert read.json()["meta"]["versionId"] == "1"
    found = await client.get("Measure", params={"url": MEASURE_BASE + "wait-referral-mdt"})
    assert [e["resource"]["id"] for e in found.json()["entry"]] == ["wait-referral-mdt"]
    everything = await client.get("Measure", params={"_count": "100"})
    assert everything.json()["total"] == len(METRICS)


async def test_a_proportion_report_matches_the_api(app: FastAPI, client: httpx.AsyncClient) -> None:
    await store_cohort(app, client)
    report = await _report(client, "rtt-18-weeks", **PERIOD)
    assert (report["resourceType"], report["status"], report["type"]) == (
        "MeasureReport",
        "complete",
        "summary",
    )
    assert report["measure"] == f"{MEASURE_BASE}rtt-18-weeks|{VERSION}"
    assert report["period"] == {"start": "2025-01-01", "end": "2025-12-31"}
    api = await _api(client, "rtt-18-weeks", start="2025-01-01", end="2025-12-31")
    group = report["group"][0]
    assert _pops(group) == {"numerator": 2, "denominator": 3}
    assert group["measureScore"]["value"] == round(api["total"]["share"], 6)
    by_centre = await _api(
        client, "rtt-18-weeks", start="2025-01-01", end="2025-12-31", **{"group-by": "centre"}
    )
    strata = _strata(group, "centre")
    assert {k: _pops(s) for k, s in strata.items()} == {
        g["key"]["centre"]: {"numerator": g["numerator"], "denominator": g["denominator"]}
        for g in by_centre["groups"]
    }
    assert {s["code"][0]["text"] for s in group["stratifier"]} == {
        "centre",
        "modality",
        "age_band",
        "sex",
        "area",
    }


async def test_a_wait_report_has_median_and_p90_groups(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await store_cohort(app, client)
    body = {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "periodStart", "valueDate": "2025-01-01"},
            {"name": "periodEnd", "valueDate": "2025-12-31"},
            {"name": "reportType", "valueCode": "summary"},
        ],
    }
    response = await client.post("Measure/wait-referral-treatment/$evaluate-measure", json=body)
    assert response.status_code == 200, response.text
    median, p90 = response.json()["group"]
    assert median["code"]["text"] == "median" and p90["code"]["text"] == "p90"
    assert median["measureScore"]["value"] == 77 and p90["measureScore"]["value"] == 154
    assert median["measureScore"]["code"] == "d"
    r1h = _strata(median, "centre")["R1H"]
    assert _pops(r1h) == {"measure-population": 2}
    assert r1h["measureScore"]["value"] == 77


async def test_type_level_by_measure_url_and_the_report_validates(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await store_cohort(app, client)
    march = {"periodStart": "2025-03-01", "periodEnd": "2025-03-31"}
    response = await client.get(
        "Measure/$evaluate-measure",
        params={"measure": f"{MEASURE_BASE}rtt-18-weeks|{VERSION}", **march},
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert _pops(report["group"][0]) == {"numerator": 2, "denominator": 2}
    for metric in ("rtt-18-weeks", "referrals", "treatment-volumes", "capability-matrix"):
        one = report if metric == "rtt-18-weeks" else await _report(client, metric, **march)
        verdict = await client.post("MeasureReport/$validate", json=one)
        assert verdict.status_code == 200
        errors = [i for i in verdict.json()["issue"] if i["severity"] in ("error", "fatal")]
        assert errors == [], (metric, errors)


@pytest.mark.parametrize(
    ("path", "params", "status", "expression"),
    [
        ("Measure/rtt-18-weeks/$evaluate-measure", {"periodEnd": "2025-12-31"}, 400, "periodStart"),
        (
            "Measure/rtt-18-weeks/$evaluate-measure",
            {**PERIOD, "reportType": "subject-list"},
            400,
            "reportType",
        ),
        (
            "Measure/rtt-18-weeks/$evaluate-measure",
            {**PERIOD, "reportType": "individual"},
            400,
            "reportType",
        ),
        (
            "Measure/rtt-18-weeks/$evaluate-measure",
            {**PERIOD, "subject": "Patient/p1"},
            400,
            "subject",
        ),
        (
            "Measure/rtt-18-weeks/$evaluate-measure",
            {"periodStart": "2025-02-30", "periodEnd": "2025-12-31"},
            400,
            "periodStart",
        ),
        (
            "Measure/rtt-18-weeks/$evaluate-measure",
            {"periodStart": "2025-06-01", "periodEnd": "2025-01-31"},
            400,
            "periodStart",
        ),
        ("Measure/no-such-measure/$evaluate-measure", PERIOD, 404, None),
        ("Measure/$evaluate-measure", PERIOD, 400, "measure"),
        (
            "Measure/$evaluate-measure",
            {**PERIOD, "measure": "http://example.org/Measure/x"},
            404,
            "measure",
        ),
    ],
)
async def test_what_cannot_be_evaluated_is_refused(
    client: httpx.AsyncClient,
    path: str,
    params: dict[str, str],
    status: int,
    expression: str | None,
) -> None:
    response = await client.get(path, params=params)
    assert response.status_code == status, response.text
    issue = response.json()["issue"][0]
    if expression is not None:
        assert issue["expression"] == [expression]
