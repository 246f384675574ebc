"""The served app keeps CarePlans current by itself: with ``pathway_background`` on (the
default outside tests), a journey written through the REST API shows up as a CarePlan within
a few of its derivation intervals, with no call to derive it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from tests.conftest import Backend, empty_tables
from tests.pathway import builders
from tests.pathway.pathway_http import put_all


@pytest.fixture
async def live_app(backend: Backend) -> AsyncIterator[FastAPI]:
    application = create_app(
        backend.settings(pathway_background=True, pathway_interval_seconds=0.05)
    )
    async with application.router.lifespan_context(application):
        await empty_tables(application)
        yield application


async def test_a_journey_written_over_rest_is_derived_in_the_background(
    live_app: FastAPI,
) -> None:
    transport = httpx.ASGITransport(app=live_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver/fhir/") as c:
        pat = builders.patient()
        await put_all(c, [pat, *builders.regional_journey(pat)])
        found: list[dict[str, Any]] = []
        for _ in range(200):  # up to 10 s; typically one or two intervals
            # The task may derive mid-journey (it runs while the writes arrive): done is an
            # empty queue, whose last drain committed with the final CarePlan.
            async with live_app.state.fhir.db.read() as conn:
                queued = await conn.fetch("SELECT patient_id FROM pathway_dirty")
            body = (await c.get("CarePlan", params={"subject": f"Patient/{pat['id']}"})).json()
            found = [e["resource"] for e in body.get("entry", [])]
            if found and not queued:
                break
            await asyncio.sleep(0.05)
        assert len(found) == 1
        careplan: dict[str, Any] = found[0]
        stage = careplan["extension"][0]["valueCodeableConcept"]["coding"][0]["code"]
        assert (stage, careplan["status"], careplan["period"]) == (
            "discharged",
            "completed",
            {"start": "2025-01-06", "end": "2025-05-12"},
        )
        async with live_app.state.fhir.db.read() as conn:
            assert await conn.fetch("SELECT patient_id FROM pathway_dirty") == []
