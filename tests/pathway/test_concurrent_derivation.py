"""Ingest and the pathway derivation run at the same time in a served app (the background
task drains the queue while feeds arrive). Neither may deadlock the other into a failed
write, and nothing is quarantined that is not bad: every unit ends mapped or quarantined
exactly as if they had run one after the other, and every patient ends derived."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
from fastapi import FastAPI

from app.fhir.context import FhirContext
from app.pathway import derivation

FEEDS = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"


async def test_ingest_while_deriving_loses_nothing_and_quarantines_only_bad_input(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ctx: FhirContext = app.state.fhir
    ingestor = app.state.ingestor
    manifest = json.loads((FEEDS / "manifest.json").read_text())["centres"]
    done = asyncio.Event()
    drains = 0

    async def derive_meanwhile() -> None:
        nonlocal drains
        while not done.is_set():
            await derivation.drain(ctx)
            drains += 1
            await asyncio.sleep(0)

    deriver = asyncio.create_task(derive_meanwhile())
    quarantined = bad = 0
    try:
        for centre in sorted(ingestor.specs):
            files = sorted(p for p in (FEEDS / centre).rglob("*") if p.is_file())
            for path in files:  # one request per file, as the centres send them
                receipt = await ingestor.receive(centre, path.read_bytes(), source_name=path.name)
                quarantined += receipt.count("quarantined")
                await asyncio.sleep(0)  # let the derivation interleave
            bad += int(manifest[centre]["bad"])
    finally:
        done.set()
        await deriver
    assert drains > 1
    assert quarantined == bad

    await derivation.drain(ctx)
    assert await derivation.queued(ctx) == 0
    careplans = (await client.get("CarePlan", params={"_summary": "count"})).json()["total"]
    rebuilt = await derivation.rebuild(ctx)
    assert (rebuilt.written, rebuilt.removed, rebuilt.episodes) == (0, 0, careplans)
