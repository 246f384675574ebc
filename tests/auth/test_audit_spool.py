"""The audit trail's deferral: accesses are spooled at once (durable, cheap) and stored as
AuditEvents when no request is in flight, yet every reader of AuditEvents sees them all."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from app.auth import audit
from app.auth.access import AccessEvent, Principal
from app.auth.audit import AuditTrail, decode, encode
from app.auth.audit_event import build_audit_event
from app.main import create_app
from tests.auth.audit_events import (
    BASE,
    access,
    clinician,
    count_stored,
    system_client,
    trail_of,
)
from tests.conftest import Backend


async def count_spooled(application: FastAPI) -> int:
    async with application.state.fhir.db.read() as conn:
        row = await conn.fetchrow("SELECT count(*) FROM audit_queue")
    assert row is not None
    return int(row[0])


async def wait_for(check: Callable[[], Awaitable[bool]], timeout: float = 10.0) -> None:
    for _ in range(int(timeout / 0.05)):
        if await check():
            return
        await asyncio.sleep(0.05)
    assert await check()


async def until_spooled(application: FastAPI, count: int) -> None:
    async def spooled() -> bool:
        return trail_of(application).pending == 0 and await count_spooled(application) >= count

    await wait_for(spooled)


async def until_stored(application: FastAPI, principal: Principal, count: int) -> None:
    async def stored() -> bool:
        return await count_stored(application, principal) >= count

    await wait_for(stored)


def busy(application: FastAPI, monkeypatch: pytest.MonkeyPatch, value: bool) -> None:
    """Saturated (no CPU to spare for storing) or idle (all of it)."""
    monkeypatch.setattr(trail_of(application), "_budget", lambda: 0.0 if value else 10.0)


async def saturated(application: FastAPI, monkeypatch: pytest.MonkeyPatch) -> AuditTrail:
    """The app's trail with nothing left over from earlier tests, then kept busy."""
    trail = trail_of(application)
    await trail.flush()
    busy(application, monkeypatch, True)
    return trail


async def left_spooled(application: FastAPI, events: list[AccessEvent]) -> None:
    """What a worker killed after spooling leaves behind."""
    rows = [(encode(event, BASE),) for event in events]
    async with application.state.fhir.db.write() as conn:
        await conn.executemany("INSERT INTO audit_queue (event) VALUES ($1)", rows)


@pytest.mark.parametrize(
    "event",
    [
        access(clinician("sp-1"), res_id="sp-1", patients=("sp-1",)),
        access(
            system_client(),
            path="/fhir/Observation",
            interaction="search-type",
            res_type="Observation",
            res_id=None,
            query="subject=Patient/sp-2&_count=5",
            patients=(),
            address="ward-pc-7",
        ),
        access(system_client(), method="POST", status=201, interaction="create", address=None),
    ],
    ids=["user-in-context", "search", "create"],
)
def test_the_spooled_form_builds_the_same_audit_event(event: AccessEvent) -> None:
    direct = build_audit_event(event, base=BASE, observer="mitral-fhir")
    spooled = decode(encode(event, BASE))
    assert build_audit_event(spooled, base=BASE, observer="mitral-fhir") == direct


async def test_while_busy_accesses_are_spooled_not_stored_and_a_search_still_sees_them(
    audited: FastAPI, audit_http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    trail = await saturated(audited, monkeypatch)
    user = system_client()
    for n in range(5):
        trail.record(access(user, res_id=f"busy-{n}", patients=()))

    await until_spooled(audited, 5)  # the background task spools within ~0.2 s
    await asyncio.sleep(3 * audit.INTERVAL)  # several more ticks: still busy, still deferred
    assert await count_stored(audited, user) == 0
    assert await count_spooled(audited) >= 5

    response = await audit_http.get("AuditEvent", params={"altid": user.subject})
    assert response.status_code == 200, response.text
    assert response.json()["total"] == 5  # the search stored the backlog before it ran
    assert await count_spooled(audited) == 0


async def test_a_quiet_moment_stores_the_backlog(
    audited: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    trail = await saturated(audited, monkeypatch)
    user = system_client()
    for n in range(7):
        trail.record(access(user, res_id=f"quiet-{n}", patients=()))

    await until_spooled(audited, 7)
    assert await count_stored(audited, user) == 0
    busy(audited, monkeypatch, False)

    await until_stored(audited, user, 7)
    assert await count_stored(audited, user) == 7
    assert await count_spooled(audited) == 0


async def test_a_backlog_past_the_limit_is_stored_even_while_busy(
    audited: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    trail = await saturated(audited, monkeypatch)
    monkeypatch.setattr(trail, "defer_limit", 3)
    user = system_client()
    for n in range(10):
        trail.record(access(user, res_id=f"over-{n}", patients=()))

    await until_stored(audited, user, 10 - 3)  # down to the limit, then deferred again
    assert await count_spooled(audited) <= 3


async def test_accesses_spooled_before_a_crash_are_stored_after_the_restart(
    backend: Backend, audited: FastAPI
) -> None:
    """A killed process leaves its spool behind; the next start stores it, exactly once."""
    user = clinician("crash-1")
    await left_spooled(audited, [access(user, res_id="crash-1") for _ in range(4)])

    restarted = create_app(backend.settings(audit=True))
    async with restarted.router.lifespan_context(restarted):
        await until_stored(restarted, user, 4)  # idle: the new writer stores the old spool
    assert await count_stored(audited, user) == 4
    assert await count_spooled(audited) == 0


async def test_two_workers_storing_one_spool_store_each_access_once(
    backend: Backend, audited: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = system_client()
    monkeypatch.setattr(audit, "STORE_BATCH", 3)
    monkeypatch.setattr(audit, "CATCH_UP_BATCH", 3)
    other = create_app(backend.settings(audit=True))
    async with other.router.lifespan_context(other):
        busy(audited, monkeypatch, True)
        busy(other, monkeypatch, True)
        await left_spooled(audited, [access(user, res_id=f"two-{n}") for n in range(20)])
        await asyncio.gather(trail_of(audited).flush(), trail_of(other).flush())
    assert await count_stored(audited, user) == 20
    assert await count_spooled(audited) == 0


async def test_a_failed_store_keeps_the_spool(
    audited: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    trail = await saturated(audited, monkeypatch)
    user = system_client()
    trail.record(access(user, res_id="fail-store", patients=()))

    async def broken(limit: int) -> int:
        raise ConnectionError("database went away")

    with monkeypatch.context() as patched:
        patched.setattr(trail, "_store", broken)
        await trail.flush()  # spooled (by it or the writer task's tick); storing failed, logged
        assert trail.pending == 0
    assert await count_spooled(audited) >= 1
    assert await count_stored(audited, user) == 0
    await trail.flush()
    assert await count_stored(audited, user) == 1


class FakeClock:
    def __init__(self) -> None:
        self.wall = 100.0
        self.cpu = 10.0

    def monotonic(self) -> float:
        return self.wall

    def process_time(self) -> float:
        return self.cpu


@pytest.mark.parametrize(
    ("requests_cpu", "expected"),
    [
        (0.0, 0.8 * 0.2),  # idle: storing may use up to TARGET_LOAD of the tick
        (0.1, 0.3 * 0.2),  # half a core busy: what is left below TARGET_LOAD
        (0.2, 0.05 * 0.2),  # saturated: MIN_SHARE only
    ],
)
def test_the_pacer_gives_storing_the_cpu_requests_leave(
    monkeypatch: pytest.MonkeyPatch, requests_cpu: float, expected: float
) -> None:
    clock = FakeClock()
    monkeypatch.setattr(audit, "time", clock)
    pacer = audit.Pacer()
    clock.wall += 0.2
    clock.cpu += requests_cpu + 0.03
    pacer.spent(0.03)  # the trail's own storing does not count as load
    assert pacer.budget() == pytest.approx(expected)


async def test_paced_storing_keeps_to_its_share_when_a_batch_outlasts_a_tick(
    audited: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Saturated, each tick's budget (MIN_SHARE of it) is shorter than one batch of stores:
    the overrun is owed and taken from the next ticks, so storing keeps to its share
    instead of taking a batch every tick."""
    trail = await saturated(audited, monkeypatch)
    clock = FakeClock()
    monkeypatch.setattr(audit, "time", clock)
    batches: list[int] = []

    async def store(limit: int) -> int:  # a full batch, costing 7.5 ms of CPU
        clock.cpu += 0.0075
        batches.append(limit)
        return limit

    monkeypatch.setattr(trail, "_store", store)
    trail.backlog = 10_000  # well under the defer limit: paced, never caught up
    budget = 0.0039  # a 78 ms tick at MIN_SHARE
    for _ in range(20):
        await trail._store_backlog(budget)

    assert batches and set(batches) == {audit.STORE_BATCH}
    assert len(batches) * 0.0075 == pytest.approx(20 * budget, abs=0.0075)


async def test_past_the_defer_limit_storing_takes_big_transactions_down_to_the_limit(
    audited: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past the limit the backlog is stored whatever the load, 500 to a transaction, down to
    the limit and no further. Transactions of 50 (tried) let requests run between
    them, but requests also run during each transaction's awaits, and at saturation the
    backlog then kept growing past the limit (72,000-92,000 against 50,000): the bound on a
    reader's wait would not hold."""
    trail = await saturated(audited, monkeypatch)
    monkeypatch.setattr(trail, "defer_limit", 100)
    sizes: list[int] = []

    async def store(limit: int) -> int:
        sizes.append(limit)
        return limit

    monkeypatch.setattr(trail, "_store", store)
    trail.backlog = 100 + 3 * audit.CATCH_UP_BATCH
    await trail._store_backlog(0.0)  # saturated: no budget at all
    assert sizes == [audit.CATCH_UP_BATCH] * 3
    assert trail.backlog == 100  # the rest is paced again
