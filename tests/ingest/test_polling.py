"""Polling a centre's FHIR API (respx-mocked): paging, watermarks, the overlap, and what a
failing upstream leaves behind."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
import respx

from app.clients import FhirClient
from app.ingest.polling import (
    CentrePoller,
    MemoryWatermarks,
    PollResult,
    TypeResult,
    backoff_delay,
    run_polling,
)

BASE = "https://fhir.imperial.nhs.uk/R4"
CENTRE = "hammersmith"


def referral(rid: str, updated: str) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": rid,
        "meta": {"versionId": "3", "lastUpdated": updated},
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/imp-88120"},
    }


def page(resources: list[dict[str, Any]], next_url: str | None = None) -> dict[str, Any]:
    links = [{"relation": "self", "url": f"{BASE}/ServiceRequest"}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "link": links,
        "entry": [{"resource": r, "search": {"mode": "match"}} for r in resources],
    }


class Inbox:
    def __init__(self) -> None:
        self.units: list[tuple[str, dict[str, Any]]] = []

    async def __call__(self, centre: str, raw: bytes) -> None:
        self.units.append((centre, orjson.loads(raw)))

    @property
    def ids(self) -> list[str]:
        return [resource["id"] for _, resource in self.units]


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[FhirClient, respx.MockRouter]]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        async with httpx.AsyncClient() as http:
            yield FhirClient(BASE, client=http), router


def poller(
    client: FhirClient,
    marks: MemoryWatermarks,
    inbox: Inbox,
    types: list[str] | None = None,
) -> CentrePoller:
    return CentrePoller(
        client,
        centre=CENTRE,
        resource_types=types or ["ServiceRequest"],
        watermarks=marks,
        deliver=inbox,
        page_size=2,
        overlap_seconds=60,
    )


async def test_every_page_is_delivered_and_the_watermark_advances(upstream):
    client, router = upstream
    second = f"{BASE}?_getpages=sr-1&_offset=2"
    router.get("/ServiceRequest").respond(
        200,
        json=page(
            [referral("sr-1", "2026-03-02T09:00:00Z"), referral("sr-2", "2026-03-02T09:05:00Z")],
            second,
        ),
    )
    router.get(second).respond(200, json=page([referral("sr-3", "2026-03-02T09:07:30.250Z")]))
    marks, inbox = MemoryWatermarks(), Inbox()

    result = await poller(client, marks, inbox).poll_once()

    assert inbox.ids == ["sr-1", "sr-2", "sr-3"]
    assert {centre for centre, _ in inbox.units} == {CENTRE}
    assert result.counts == {"ServiceRequest": 3}
    assert not result.failed
    assert await marks.get(CENTRE, "ServiceRequest") == "2026-03-02T09:07:30.250Z"


async def test_the_search_asks_from_the_watermark_minus_the_overlap(upstream):
    client, router = upstream
    route = router.get("/ServiceRequest").respond(200, json=page([]))
    marks = MemoryWatermarks({(CENTRE, "ServiceRequest"): "2026-03-02T10:00:30+01:00"})

    await poller(client, marks, Inbox()).poll_once()

    params = route.calls.last.request.url.params
    assert params["_lastUpdated"] == "gt2026-03-02T08:59:30Z"
    assert params["_sort"] == "_lastUpdated"
    assert params["_count"] == "2"


async def test_the_first_poll_reads_everything(upstream):
    client, router = upstream
    route = router.get("/ServiceRequest").respond(200, json=page([]))

    await poller(client, MemoryWatermarks(), Inbox()).poll_once()

    assert "_lastUpdated" not in route.calls.last.request.url.params


async def test_an_empty_result_keeps_the_watermark(upstream):
    client, router = upstream
    router.get("/ServiceRequest").respond(200, json={"resourceType": "Bundle", "type": "searchset"})
    marks = MemoryWatermarks({(CENTRE, "ServiceRequest"): "2026-03-02T09:00:00Z"})

    result = await poller(client, marks, Inbox()).poll_once()

    assert result.counts == {"ServiceRequest": 0}
    assert result.watermarks == {"ServiceRequest": "2026-03-02T09:00:00Z"}
    assert await marks.get(CENTRE, "ServiceRequest") == "2026-03-02T09:00:00Z"


async def test_resources_re_read_in_the_overlap_never_move_the_watermark_back(upstream):
    client, router = upstream
    router.get("/ServiceRequest").respond(
        200, json=page([referral("sr-2", "2026-03-02T09:04:10Z")])
    )
    marks = MemoryWatermarks({(CENTRE, "ServiceRequest"): "2026-03-02T09:05:00Z"})
    inbox = Inbox()

    await poller(client, marks, inbox).poll_once()

    assert inbox.ids == ["sr-2"]
    assert await marks.get(CENTRE, "ServiceRequest") == "2026-03-02T09:05:00Z"


async def test_an_upstream_failure_mid_way_leaves_the_watermark(upstream):
    client, router = upstream
    second = f"{BASE}?_getpages=sr-1&_offset=2"
    router.get("/ServiceRequest").respond(
        200,
        json=page(
            [referral("sr-1", "2026-03-02T09:00:00Z"), referral("sr-2", "2026-03-02T09:05:00Z")],
            second,
        ),
    )
    router.get(second).respond(500, text="Internal Server Error")
    marks = MemoryWatermarks({(CENTRE, "ServiceRequest"): "2026-03-01T17:00:00Z"})
    inbox = Inbox()

    result = await poller(client, marks, inbox).poll_once()

    assert inbox.ids == ["sr-1", "sr-2"]
    assert result.failed
    (outcome,) = result.types
    assert outcome.delivered == 2
    assert outcome.watermark == "2026-03-01T17:00:00Z"
    assert "HTTP 500" in (outcome.error or "")
    assert await marks.get(CENTRE, "ServiceRequest") == "2026-03-01T17:00:00Z"


async def test_the_upstream_operation_outcome_is_surfaced(upstream):
    client, router = upstream
    router.get("/ServiceRequest").respond(
        400,
        json={
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": "not-supported",
                    "diagnostics": "_sort=_lastUpdated is not supported on this server",
                }
            ],
        },
    )

    result = await poller(client, MemoryWatermarks(), Inbox()).poll_once()

    (outcome,) = result.types
    assert "_sort=_lastUpdated is not supported" in (outcome.error or "")
    assert [i.code for i in outcome.issues] == ["not-supported"]


async def test_one_failing_type_does_not_stop_the_others(upstream):
    client, router = upstream
    router.get("/Patient").respond(503)
    router.get("/ServiceRequest").respond(
        200, json=page([referral("sr-9", "2026-03-02T11:00:00Z")])
    )
    marks, inbox = MemoryWatermarks(), Inbox()

    result = await poller(client, marks, inbox, ["Patient", "ServiceRequest"]).poll_once()

    assert result.counts == {"Patient": 0, "ServiceRequest": 1}
    assert result.watermarks == {"Patient": None, "ServiceRequest": "2026-03-02T11:00:00Z"}
    assert marks.marks == {(CENTRE, "ServiceRequest"): "2026-03-02T11:00:00Z"}


async def test_only_matches_of_the_polled_type_are_delivered(upstream):
    client, router = upstream
    bundle = page([referral("sr-1", "2026-03-02T09:00:00Z")])
    bundle["entry"] += [
        {"resource": {"resourceType": "Patient", "id": "p1"}, "search": {"mode": "include"}},
        {
            "resource": {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "warning", "code": "informational", "diagnostics": "slow"}],
            },
            "search": {"mode": "outcome"},
        },
    ]
    router.get("/ServiceRequest").respond(200, json=bundle)
    inbox = Inbox()

    await poller(client, MemoryWatermarks(), inbox).poll_once()

    assert inbox.ids == ["sr-1"]


def test_backoff_doubles_per_failure_up_to_the_cap():
    assert backoff_delay(30, 0, 600) == 30
    assert backoff_delay(30, 1, 600) == 60
    assert backoff_delay(30, 3, 600) == 240
    assert backoff_delay(30, 9, 600) == 600
    assert backoff_delay(30, 2, 10) == 30


class ScriptedPoller:
    """Fails, then reports an upstream failure, then succeeds and asks the loop to stop."""

    centre = CENTRE

    def __init__(self, stop: asyncio.Event) -> None:
        self.stop = stop
        self.calls = 0

    async def poll_once(self) -> PollResult:
        self.calls += 1
        if self.calls == 1:
            raise OSError("ingest log unavailable")
        if self.calls == 2:
            failed = TypeResult("ServiceRequest", 0, None, "HTTP 502")
            return PollResult(CENTRE, (failed,))
        self.stop.set()
        return PollResult(CENTRE, (TypeResult("ServiceRequest", 1, "2026-03-02T09:00:00Z"),))


async def test_the_loop_survives_failures_and_stops_when_asked(caplog):
    stop = asyncio.Event()
    scripted = ScriptedPoller(stop)

    with caplog.at_level(logging.ERROR, logger="app.ingest.polling"):
        await run_polling(scripted, 0.001, stop, max_backoff_seconds=0.01)

    assert scripted.calls == 3
    assert "ingest log unavailable" in caplog.text
