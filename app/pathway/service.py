"""The background derivation: drains the ``pathway_dirty`` queue while the service runs.

Ingest and REST writes only queue patients (cheap, in their own transaction); this task turns
the queue into CarePlans shortly after, in batches, so a burst of messages about one patient
costs one derivation, not one per message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from app.config import Settings
from app.fhir.context import FhirContext
from app.pathway import derivation

log = logging.getLogger(__name__)


async def _loop(ctx: FhirContext, interval: float) -> None:
    while True:
        try:
            done = await derivation.drain(ctx)
        except Exception:  # a background task must log, not vanish
            log.exception("pathway: derivation failed; retrying")
        else:
            if done.patients:
                log.debug("pathway: derived %d patients", done.patients)
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def pathway_service(ctx: FhirContext, settings: Settings) -> AsyncIterator[None]:
    if not settings.pathway_background:
        yield
        return
    task = asyncio.create_task(_loop(ctx, settings.pathway_interval_seconds))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
