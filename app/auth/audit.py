"""The audit trail: every access becomes an AuditEvent, without the request paying for it.

Three steps, each cheaper for the request than the next:
- ``record`` appends the AccessEvent to an in-memory queue (no JSON, no I/O);
- every ``INTERVAL`` (or once ``BATCH`` are waiting) the queue is *spooled*: one small row per
  access in ``audit_queue``, a few µs each, so the access is durable;
- spooled accesses are *stored* as AuditEvents (built, indexed like any resource, ~150 µs
  each) with the CPU the service has to spare: while requests keep the process busy, storing
  gets only ``MIN_SHARE`` of the time, so a saturated service defers that work to quieter
  moments instead of taking it from its requests. A backlog past ``audit_defer_limit`` is stored at
  full speed, and anything that reads AuditEvents (``flush``, which the dispatcher calls
  first) stores the whole backlog before it reads, so the trail a client searches is complete.
Stored AuditEvents go straight through the store (no validation: the builder is ours; no
dispatcher, so an audit write is never itself audited). An access leaves the queue in the
transaction that stores its AuditEvent: never lost once spooled, never stored twice
(docs/audit.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Sequence
from typing import Any

import orjson

from app.auth.access import AccessEvent, Principal
from app.auth.audit_event import build_audit_event
from app.auth.scopes import Grants
from app.config import Settings
from app.fhir.context import FhirContext
from app.fhir.writes import new_id
from app.search.dates import format_instant
from app.search.extract import extract_index

log = logging.getLogger(__name__)

BATCH = 500
"""Accesses per spool transaction; the task also wakes early when this many are queued."""
STORE_BATCH = 25
"""AuditEvents per storing transaction when paced (~3 ms of work): a request arriving during
one waits for it. With 50 (~6 ms), reads at a steady 1,600 a second had a p99 of 7-9 ms; with
25, 4.5 ms (SQLite), and a saturated service stores about as much as before."""
CATCH_UP_BATCH = 500
"""... when catching up (a reader waits, or the backlog is past ``audit_defer_limit``): bigger
transactions write fewer index pages per AuditEvent."""
INTERVAL = 0.2
"""Seconds between spools of a queue smaller than a batch."""
TARGET_LOAD = 0.8
"""Storing may use the CPU the rest of the process leaves below this share of a core."""
MIN_SHARE = 0.05
"""Share of the time storing gets even when the process is saturated."""
RECHECK = 5.0
"""Seconds between looks at the queue table for accesses spooled by other workers."""
SHUTDOWN_BUDGET = 5.0
"""Seconds a clean stop spends storing the backlog; the rest waits, spooled, for the next."""
BACKLOG_WARNING = 50_000
"""In-memory accesses past which the database is evidently not keeping up (logged once)."""
MAX_BACKOFF = 5.0
"""Longest wait, in seconds, between retries of a failing write."""
OBSERVER = "mitral-fhir"

_SPOOL = "INSERT INTO audit_queue (event) VALUES ($1)"
_PEEK = "SELECT seq, event FROM audit_queue ORDER BY seq LIMIT $1"
_ANY = "SELECT seq FROM audit_queue LIMIT 1"
_COUNT = "SELECT count(*) FROM audit_queue"
_NO_GRANTS = Grants.parse("")


def _claim_sql(count: int) -> str:
    marks = ", ".join(f"${n}" for n in range(1, count + 1))
    return f"DELETE FROM audit_queue WHERE seq IN ({marks}) RETURNING seq"


def encode(event: AccessEvent, base: str) -> bytes:
    """The spooled form: what ``build_audit_event`` reads, with the base URL resolved."""
    principal = event.principal
    return orjson.dumps(
        (
            principal.client_id,
            principal.subject,
            principal.fhir_user,
            principal.token_id,
            event.method,
            event.path,
            event.interaction,
            event.status,
            event.recorded,
            event.res_type,
            event.res_id,
            event.query,
            event.patients,
            event.address,
            event.base or base,
        )
    )


def decode(raw: bytes) -> AccessEvent:
    (client_id, subject, fhir_user, token_id, method, path, interaction, status, recorded,
     res_type, res_id, query, patients, address, base) = orjson.loads(raw)  # fmt: skip
    principal = Principal(
        client_id=client_id,
        subject=subject,
        grants=_NO_GRANTS,
        fhir_user=fhir_user,
        token_id=token_id,
    )
    return AccessEvent(
        principal=principal,
        method=method,
        path=path,
        interaction=interaction,
        status=status,
        recorded=recorded,
        res_type=res_type,
        res_id=res_id,
        query=query,
        patients=tuple(patients),
        address=address,
        base=base,
    )


class Pacer:
    """How long the trail may spend storing now: the CPU share the process used for other
    work since the last look (``process_time``, every thread) decides."""

    def __init__(self) -> None:
        self._wall = time.monotonic()
        self._cpu = time.process_time()
        self._own = 0.0

    def budget(self) -> float:
        """CPU seconds storing may take until the next call."""
        wall, cpu = time.monotonic(), time.process_time()
        span = wall - self._wall
        load = max(0.0, cpu - self._cpu - self._own) / span if span > 0 else 1.0
        self._wall, self._cpu, self._own = wall, cpu, 0.0
        return span * max(MIN_SHARE, TARGET_LOAD - load)

    def spent(self, seconds: float) -> None:
        self._own += seconds


class AuditTrail:
    def __init__(self, ctx: FhirContext, settings: Settings) -> None:
        self._ctx = ctx
        self.enabled = settings.audit
        self.base: str | None = settings.base_url.rstrip("/") if settings.base_url else None
        """The FHIR base URL events are about (``source.site``; fhirUser references under it
        are stored relative): the configured one, else the request's (``AccessEvent.base``),
        else ``http://<host>:<port>/fhir``."""
        self._fallback_base = f"http://{settings.host}:{settings.port}/fhir"
        self._pacer = Pacer()
        self.defer_limit = settings.audit_defer_limit
        """Spooled accesses past which they are stored at full speed, busy or not (a reader
        then waits for at most this many stores)."""
        self._queue: deque[AccessEvent] = deque()
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._warned = False
        self._failed = False
        self.backlog = 0
        """Spooled accesses not yet stored, as far as this process knows (other workers
        spool into the same table; ``RECHECK`` catches those)."""
        self._checked = 0.0
        self._owed = 0.0
        """CPU seconds paced storing overran its budgets by, taken from the next ones."""

    @property
    def pending(self) -> int:
        """Accesses recorded in memory, not yet spooled."""
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
        """Spool what is queued and store every spooled access (this process's and any
        other's) as an AuditEvent: called before AuditEvents are read, by tests and at a
        clean stop. Returns how many in-memory accesses were spooled; a failure is logged,
        never raised, and what failed stays queued."""
        async with self._lock:
            spooled = await self._spool()
            if not self._failed:
                await self._store_backlog(None)
        return spooled

    async def _spool(self) -> int:
        written = 0
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
            self.backlog += len(batch)
        if len(self._queue) <= BACKLOG_WARNING:
            self._warned = False
        return written

    async def _write(self, batch: list[AccessEvent]) -> None:
        """Spool one batch: one row per access, one transaction."""
        default = self.base or self._fallback_base
        rows = [(encode(event, default),) for event in batch]
        async with self._ctx.db.write() as conn:
            await conn.executemany(_SPOOL, rows)

    async def _store_backlog(self, budget: float | None) -> int:
        """Store spooled accesses, a batch at a time, within ``budget`` CPU seconds (None:
        all of them; past ``audit_defer_limit``, regardless); yields between batches so requests
        run. Returns how many were stored.

        A batch is started while budget is left, so the last one overruns it: the overrun is
        owed (``_owed``) and taken from the next budgets. Saturated, a tick's budget is
        smaller than one batch, and storing took a batch every tick (about twice
        ``MIN_SHARE``) before the overrun was carried over."""
        stored = 0
        left = None if budget is None else budget - self._owed
        while left is None or left > 0 or self.backlog > self.defer_limit:
            paced = left is not None and self.backlog <= self.defer_limit
            started = time.process_time()
            size = STORE_BATCH if paced else CATCH_UP_BATCH
            try:
                done = await self._store(size)
            except asyncio.CancelledError:
                raise
            except Exception:  # spooled rows stay queued: nothing is lost
                log.exception("audit: storing spooled events failed; will retry")
                self._failed = True
                break
            finally:
                used = time.process_time() - started
                if paced and left is not None:  # catching up is owed to nobody
                    left -= used
                self._pacer.spent(used)
            stored += done
            if done < size:
                self.backlog = 0
                break
            self.backlog = max(0, self.backlog - done)
            await asyncio.sleep(0)
        if left is not None:
            self._owed = max(0.0, -left) if self.backlog else 0.0
        return stored

    async def _store(self, limit: int) -> int:
        """One transaction: the oldest spooled accesses as AuditEvents, removed from the queue
        in the same transaction. They are read and built before it opens (the write lock, on
        SQLite the only one, is held for the inserts alone); the DELETE ... RETURNING says
        which are still there (another worker may have stored some meanwhile)."""
        ctx = self._ctx
        async with ctx.db.read() as conn:
            rows = await conn.fetch(_PEEK, limit)
        if not rows:
            return 0
        built: dict[int, tuple[str, dict[str, Any], Any]] = {}
        for seq, raw in rows:
            event = decode(bytes(raw))
            assert event.base is not None  # resolved when spooled
            body = build_audit_event(event, base=event.base, observer=OBSERVER)
            built[seq] = (new_id(), body, extract_index(body))
        async with ctx.store.write() as tx:
            conn = await tx.connection()
            claimed: Sequence[Any] = await conn.fetch(_claim_sql(len(built)), *built)
            now = ctx.now()
            meta = {"versionId": "1", "lastUpdated": format_instant(now)}
            for (seq,) in claimed:
                res_id, body, index = built[seq]
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
        return len(rows)

    async def _look(self) -> None:
        """Now and then, whether another worker (or an earlier run) left accesses spooled."""
        now = time.monotonic()
        if self.backlog or now - self._checked < RECHECK:
            return
        self._checked = now
        async with self._ctx.db.read() as conn:
            if await conn.fetchrow(_ANY) is not None:
                self.backlog = max(self.backlog, 1)

    def _budget(self) -> float:
        return self._pacer.budget()

    async def run(self) -> None:
        """Spool every ``INTERVAL`` seconds, or as soon as a batch is queued; store while
        nothing else runs; after a failed write, back off (up to ``MAX_BACKOFF``) rather
        than retry on every new event."""
        failures = 0
        async with self._ctx.db.read() as conn:
            row = await conn.fetchrow(_COUNT)
        self.backlog = int(row[0]) if row else 0
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(INTERVAL):
                    await self._wake.wait()
            self._wake.clear()
            async with self._lock:
                await self._spool()
                if not self._failed:
                    with contextlib.suppress(Exception):  # a failed look is no failed write
                        await self._look()
                    budget = self._budget()
                    if self.backlog:
                        await self._store_backlog(budget)
            failures = failures + 1 if self._failed else 0
            if failures:
                await asyncio.sleep(min(MAX_BACKOFF, INTERVAL * 2**failures))

    async def close(self) -> None:
        """A clean stop: spool everything (retrying), then store what fits in
        ``SHUTDOWN_BUDGET``; the rest stays spooled for the next start."""
        for attempt in range(3):
            if attempt:
                await asyncio.sleep(INTERVAL * 2**attempt)
            async with self._lock:
                await self._spool()
            if not self.pending:
                break
        if self.pending:
            log.error("audit: %d events could not be written at shutdown", self.pending)
        async with self._lock:
            await self._store_backlog(SHUTDOWN_BUDGET)
        if self.backlog:
            log.info("audit: %d spooled events will be stored after the next start", self.backlog)


@contextlib.asynccontextmanager
async def audit_trail(ctx: FhirContext, settings: Settings) -> AsyncIterator[AuditTrail]:
    """The trail and its writer task for the app's lifespan; on exit, what is queued is
    spooled (and as much as time allows stored) before the database closes."""
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
        await trail.close()
