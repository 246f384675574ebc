"""Demo data for `mitral-fhir serve --demo`: the seven centres, their mitral valve services
and a few patient journeys.

Loaded with PUT semantics and fixed ids, so starting the demo twice changes nothing (an
update that changes nothing keeps its version).
"""

from __future__ import annotations

from pathlib import Path

import orjson

from app.demo.services import centre_services
from app.fhir import writes
from app.fhir.bundle_entries import parse_entry
from app.fhir.context import FhirContext

DEMO_BUNDLE = Path(__file__).parent / "demo-bundle.json"


async def load_demo_data(ctx: FhirContext) -> int:
    """Store the demo Bundle's resources; returns how many entries were processed."""
    data = orjson.loads(DEMO_BUNDLE.read_bytes())
    entries = [parse_entry(i, raw, "") for i, raw in enumerate(data["entry"])]
    async with ctx.store.write() as tx:
        now = ctx.now()
        for entry in entries:
            assert entry.resource is not None and entry.res_id is not None
            await writes.update(tx, entry.resource, entry.res_id, now=now)
        services = centre_services()
        for service in services:
            await writes.update(tx, service, service["id"], now=now)
    return len(entries) + len(services)
