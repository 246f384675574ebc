"""The audit trail: every access becomes an AuditEvent, written off the request path.

``record`` only appends the AccessEvent to a queue: no JSON, no I/O while a request waits.
A background task turns the queue into AuditEvents in batches, one write transaction per
batch, straight through the store (no validation: the builder is ours; no dispatcher, so an
audit write is never itself audited). Events still queued when the process is killed are
lost; a clean stop flushes them (docs/audit.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import AsyncIterator

import orjson

from app.auth.access import AccessEvent
from app.auth.audit_event import build_audit_event
from app.config import Settings
from app.fhir.context import FhirContext
from app.fhir.writes import new_id
from app.search.dates import format_instant
from app.search.extract import extract_index

log = logging.getLogger(__name__)

BATCH = 200
"""Events per write transaction; the task also wakes early when this many are queued."""
INTERVAL = 0.2
"""Seconds between flushes of a queue smaller than a batch."""
BACKLOG_WARNING = 50_000
"""Queued events past which the database is evidently not keeping up (logged once)."""
MAX_BACKOFF = 5.0
"""Longest wait, in seconds, between retries of a failing write."""
OBSERVER = "mitral-fhir"


class AuditTrail:
    def __init__(self, ctx: FhirContext, settings: Settings) -> None:
        self._ctx = ctx
        self.enabled = settings.audit
        self.base: str | None = settings.base_url.rstrip("/") if settings.base_url else None
        """The FHIR base URL events are about (``source.site``; fhirUser references under it
        are stored relative): the configured one, else the request's (``AccessEvent.base``),
        else ``http://<host>:<port>/fhir``."""
        self._fallback_base = f"http://{settings.host}:{settings.port}/fhir"
        self._queue: deque[AccessEvent] = deque()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._warned = False
        self._failed = False

    @property
    def pending(self) -> int:
        return len(self._queue)

    def record(self, event: AccessEvent) -> None:
        """Queue one access (called on the request path: must stay cheap and never raise)."""
        if not self.enabled:
            return
        self._queue.append(event)
        size = len(self._queue)
        if size >= BATCH:
            self._wake.set()
            if size > BACKLOG_WARNING and not self._warned:
                self._warned = True
                log.warning(
                    "audit: %d events waiting to be written; the database is not keeping up "
                    "(events are kept, not dropped)",
                    size,
                )

    async def flush(self) -> int:
        """Write everything queued now; returns how many events were written. A failed batch
        goes back to the front of the queue and is logged, never raised."""
        written = 0
        async with self._lock:
            self._failed = False
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(BATCH, len(self._queue)))]
                try:
                    await self._write(batch)
                except asyncio.CancelledError:  # stopped mid-write: the shutdown flush has it
                    self._queue.extendleft(reversed(batch))
                    raise
                except Exception:  # a background write must log and retry, not vanish
                    self._queue.extendleft(reversed(batch))
                    log.exception("audit: writing %d events failed; will retry", len(batch))
                    self._failed = True
                    break
                written += len(batch)
                await asyncio.sleep(0)  # a backlog is many batches: let requests run between
            if len(self._queue) <= BACKLOG_WARNING:
                self._warned = False
        return written

    async def _write(self, batch: list[AccessEvent]) -> None:
        """One transaction for the batch. The resources and their index rows are built
        before it opens (the write lock, on SQLite the only one, is held for the inserts
        alone); ``lastUpdated`` is taken inside it, as for every other write."""
        default = self.base or self._fallback_base
        built = []
        for event in batch:
            body = build_audit_event(event, base=event.base or default, observer=OBSERVER)
            built.append((new_id(), body, extract_index(body)))
        ctx = self._ctx
        async with ctx.store.write() as tx:
            now = ctx.now()
            meta = {"versionId": "1", "lastUpdated": format_instant(now)}
            for res_id, body, index in built:
                resource = {"resourceType": "AuditEvent", "id": res_id, "meta": meta, **body}
                tx.put(
                    res_type="AuditEvent",
                    res_id=res_id,
                    version_id=1,
                    last_updated=now,
                    method="POST",
                    content=orjson.dumps(resource),
                    index=index,
                    existed=False,
                )

    async def run(self) -> None:
        """Flush every ``INTERVAL`` seconds, or as soon as a batch is full; after a failed
        write, back off (up to ``MAX_BACKOFF``) rather than retry on every new event."""
        failures = 0
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(INTERVAL):
                    await self._wake.wait()
            self._wake.clear()
            await self.flush()
            failures = failures + 1 if self._failed else 0
            if failures:
                await asyncio.sleep(min(MAX_BACKOFF, INTERVAL * 2**failures))


@contextlib.asynccontextmanager
async def audit_trail(ctx: FhirContext, settings: Settings) -> AsyncIterator[AuditTrail]:
    """The trail and its writer task for the app's lifespan; on exit, what is queued is
    written before the database closes."""
    trail = AuditTrail(ctx, settings)
    if not trail.enabled:
        yield trail
        return
    task = asyncio.create_task(trail.run())
    try:
        yield trail
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for attempt in range(3):
            if attempt:
                await asyncio.sleep(INTERVAL * 2**attempt)
            await trail.flush()
            if not trail.pending:
                break
        if trail.pending:
            log.error("audit: %d events could not be written at shutdown", trail.pending)
