"""What ingest runs beside the HTTP server: mapping units a crash left ``received``, and the
MLLP listener when one is configured."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from app.clients.fhir_client import FhirClient
from app.config import Settings
from app.ingest.mllp import MllpListener, serve_mllp
from app.ingest.mllp_handler import mllp_handler
from app.ingest.pipeline import Ingestor
from app.ingest.polling import CentrePoller, run_polling
from app.ingest.watermarks import DatabaseWatermarks

log = logging.getLogger(__name__)


async def _resume(ingestor: Ingestor) -> None:
    try:
        done = await ingestor.resume()
    except Exception:  # a background task must log, not vanish
        log.exception("ingest: resuming received units failed")
        return
    if done:
        log.info("ingest: mapped %d units left from an earlier run", len(done))


def poller(ingestor: Ingestor, centre: str, conf: dict[str, object]) -> CentrePoller:
    """A poller for one centre's FHIR API delivering each resource as one unit."""
    ingestor.spec(centre)
    client = FhirClient(str(conf["url"]), name=centre)

    async def deliver(centre: str, body: bytes) -> None:
        await ingestor.receive(centre, body, media_type="application/fhir+json", transport="poll")

    types = conf["types"]
    assert isinstance(types, list)
    return CentrePoller(
        client,
        centre=centre,
        resource_types=[str(t) for t in types],
        watermarks=DatabaseWatermarks(ingestor.ctx.db),
        deliver=deliver,
    )


@dataclass
class Services:
    mllp: MllpListener | None = None
    pollers: list[CentrePoller] = field(default_factory=list)


@contextlib.asynccontextmanager
async def ingest_services(ingestor: Ingestor | None, settings: Settings) -> AsyncIterator[Services]:
    if ingestor is None or not settings.ingest_background:
        yield Services()
        return
    resume = asyncio.create_task(_resume(ingestor))
    server = None
    if settings.mllp_port is not None:
        if not settings.mllp_centre:
            raise RuntimeError("MITRAL_FHIR_MLLP_PORT needs MITRAL_FHIR_MLLP_CENTRE")
        ingestor.spec(settings.mllp_centre)
        server = await serve_mllp(
            mllp_handler(ingestor, settings.mllp_centre),
            settings.mllp_host,
            settings.mllp_port,
            max_bytes=settings.mllp_max_message_bytes,
        )
        log.info(
            "MLLP listener for %s on %s:%d",
            settings.mllp_centre,
            settings.mllp_host,
            settings.mllp_port,
        )
    stop = asyncio.Event()
    pollers = [poller(ingestor, c, conf) for c, conf in settings.polls().items()]
    polls = [
        asyncio.create_task(
            run_polling(p, float(settings.polls()[p.centre].get("interval_seconds", 300)), stop)
        )
        for p in pollers
    ]
    try:
        yield Services(server, pollers)
    finally:
        stop.set()
        for task in polls:
            task.cancel()
        await asyncio.gather(*polls, return_exceptions=True)
        for p in pollers:
            await p.client.aclose()
        if server is not None:
            await server.close()
        resume.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await resume
