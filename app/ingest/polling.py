"""Pulling a centre's changes from its FHIR API (Hammersmith): a ``_lastUpdated`` watermark per
resource type, each changed resource delivered to ingest as one unit.

Each poll asks for ``_lastUpdated=gt<watermark - overlap>`` sorted by ``_lastUpdated``. The
overlap (60 s by default) re-reads the last minute on purpose: an upstream transaction stamped
at T may commit after we already read past T, upstream nodes' clocks may disagree, and two
writes in the same millisecond can straddle a page we already read; a strict ``gt<watermark>``
would skip those for ever. Re-delivering a resource is harmless because ingest is idempotent
(identical bytes are deduplicated; mapping the same content again leaves the store unchanged).

A type's watermark advances only after all its pages were read and delivered, to the greatest
``meta.lastUpdated`` seen (never backwards). A failure part-way leaves it where it was, so the
next poll re-delivers from the old watermark. The first poll of a type (no watermark) reads
everything.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import orjson

from app.clients.errors import UpstreamError
from app.clients.fhir_client import FhirClient
from app.errors import Issue

__all__ = [
    "CentrePoller",
    "MemoryWatermarks",
    "PollResult",
    "Poller",
    "TypeResult",
    "WatermarkStore",
    "backoff_delay",
    "run_polling",
]

log = logging.getLogger(__name__)

Deliver = Callable[[str, bytes], Awaitable[None]]


class WatermarkStore(Protocol):
    """Where each centre's last-seen ``meta.lastUpdated`` per resource type is kept."""

    async def get(self, centre: str, res_type: str) -> str | None: ...

    async def set(self, centre: str, res_type: str, instant: str) -> None: ...


class MemoryWatermarks:
    """A ``WatermarkStore`` in a dict: tests, and one-off runs that may start over."""

    def __init__(self, initial: dict[tuple[str, str], str] | None = None) -> None:
        self.marks: dict[tuple[str, str], str] = dict(initial or {})

    async def get(self, centre: str, res_type: str) -> str | None:
        return self.marks.get((centre, res_type))

    async def set(self, centre: str, res_type: str, instant: str) -> None:
        self.marks[(centre, res_type)] = instant


@dataclass(frozen=True, slots=True)
class TypeResult:
    resource_type: str
    delivered: int
    watermark: str | None
    """After this poll: advanced if the type completed, else as it was."""
    error: str | None = None
    """Why the type stopped part-way, with what the upstream said."""
    issues: tuple[Issue, ...] = ()
    """The upstream OperationOutcome's issues, when it sent one."""


@dataclass(frozen=True, slots=True)
class PollResult:
    centre: str
    types: tuple[TypeResult, ...]

    @property
    def counts(self) -> dict[str, int]:
        return {t.resource_type: t.delivered for t in self.types}

    @property
    def watermarks(self) -> dict[str, str | None]:
        return {t.resource_type: t.watermark for t in self.types}

    @property
    def failed(self) -> bool:
        return any(t.error is not None for t in self.types)


class Poller(Protocol):
    centre: str

    async def poll_once(self) -> PollResult: ...


class CentrePoller:
    """Polls one centre's FHIR API for the given resource types, in order."""

    def __init__(
        self,
        client: FhirClient,
        *,
        centre: str,
        resource_types: list[str],
        watermarks: WatermarkStore,
        deliver: Deliver,
        page_size: int = 100,
        overlap_seconds: float = 60,
    ) -> None:
        self.client = client
        self.centre = centre
        self.resource_types = list(resource_types)
        self.watermarks = watermarks
        self.deliver = deliver
        self.page_size = page_size
        self.overlap = timedelta(seconds=overlap_seconds)

    async def poll_once(self) -> PollResult:
        """One pass over every type. An upstream failure stops only its own type (reported
        in the result); a failure to deliver is ours and propagates."""
        results = [await self._poll_type(t) for t in self.resource_types]
        return PollResult(self.centre, tuple(results))

    def search_params(self, watermark: str | None) -> dict[str, str | int]:
        params: dict[str, str | int] = {"_sort": "_lastUpdated", "_count": self.page_size}
        if watermark is not None:
            since = _instant(watermark)
            if since is None:
                log.warning(
                    "%s: unreadable watermark %r, reading everything", self.centre, watermark
                )
            else:
                params["_lastUpdated"] = "gt" + _format_instant(since - self.overlap)
        return params

    async def _poll_type(self, res_type: str) -> TypeResult:
        old = await self.watermarks.get(self.centre, res_type)
        newest = old
        newest_at = _instant(old) if old is not None else None
        delivered = 0
        try:
            async for page in self.client.pages(res_type, self.search_params(old)):
                for resource in self._matches(page, res_type):
                    await self.deliver(self.centre, orjson.dumps(resource))
                    delivered += 1
                    meta = resource.get("meta")
                    stamp = meta.get("lastUpdated") if isinstance(meta, dict) else None
                    at = _instant(stamp) if isinstance(stamp, str) else None
                    if at is None:
                        log.warning(
                            "%s %s/%s has no meta.lastUpdated",
                            self.centre,
                            res_type,
                            resource.get("id"),
                        )
                    elif newest_at is None or at > newest_at:
                        newest, newest_at = stamp, at
        except UpstreamError as exc:
            log.warning("%s %s: poll stopped after %d: %s", self.centre, res_type, delivered, exc)
            return TypeResult(res_type, delivered, old, exc.diagnostics, exc.upstream_issues)
        if newest is not None and newest != old:
            await self.watermarks.set(self.centre, res_type, newest)
        return TypeResult(res_type, delivered, newest)

    def _matches(self, page: dict[str, Any], res_type: str) -> list[dict[str, Any]]:
        """The page's resources of the polled type; outcome entries are logged, others
        (``_include``s a server added) skipped."""
        found: list[dict[str, Any]] = []
        for entry in page.get("entry") or ():
            resource = entry.get("resource") if isinstance(entry, dict) else None
            if not isinstance(resource, dict):
                continue
            mode = (entry.get("search") or {}).get("mode")
            if resource.get("resourceType") == "OperationOutcome" and mode == "outcome":
                for issue in resource.get("issue") or ():
                    log.warning(
                        "%s %s search: %s", self.centre, res_type, (issue or {}).get("diagnostics")
                    )
            elif resource.get("resourceType") == res_type and mode in (None, "match"):
                found.append(resource)
        return found


def _instant(text: str) -> datetime | None:
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _format_instant(at: datetime) -> str:
    utc = at.astimezone(UTC)
    spec = "seconds" if utc.microsecond == 0 else "milliseconds"
    return utc.isoformat(timespec=spec).replace("+00:00", "Z")


def backoff_delay(interval: float, failures: int, cap: float) -> float:
    """Seconds to wait after ``failures`` polls in a row failed: the interval, doubled per
    failure, at most ``cap`` (never below the interval)."""
    if failures <= 0:
        return interval
    return max(interval, min(interval * float(2**failures), cap))


async def run_polling(
    poller: Poller,
    interval_seconds: float,
    stop: asyncio.Event,
    *,
    max_backoff_seconds: float = 900,
) -> None:
    """Poll until ``stop`` is set. A failed poll (upstream error, or delivery failing) is
    logged and retried later with backoff; watermarks stay where the failure left them."""
    failures = 0
    while not stop.is_set():
        try:
            result = await poller.poll_once()
            ok = not result.failed
        except Exception:
            log.exception("%s: poll failed", poller.centre)
            ok = False
        failures = 0 if ok else failures + 1
        delay = backoff_delay(interval_seconds, failures, max_backoff_seconds)
        try:
            await asyncio.wait_for(stop.wait(), timeout=delay)
        except TimeoutError:
            continue
