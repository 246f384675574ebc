"""Search-type reads (``Database.read()``) can be stopped: by cancellation and by a time limit.

SQLite runs them inline for at most 2 ms, then on reader threads so the event loop stays
free; the single reader thread used here proves an interrupted statement really stopped (the
next read would queue behind it).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from app.errors import QueryTimeout
from app.storage.database import Database, SqliteDatabase, asyncpg_dsn, create_database
from app.storage.sqlite_reader import SqliteReaders, fetch_all
from tests.conftest import Backend

# Minutes of work for SQLite: it only ends if interrupted.
COUNT_TO_1E9 = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) "
    "SELECT count(*) FROM c"
)
PG_SLEEP = "SELECT pg_sleep(5)"


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[SqliteDatabase]:
    db = SqliteDatabase(str(tmp_path / "limits.sqlite3"), read_threads=1)
    await db.open()
    try:
        yield db
    finally:
        await db.close()


async def _largest_gap(seconds: float, tick: float = 0.01) -> float:
    """How long the loop left a 10 ms ticker waiting, at worst, over ``seconds``."""
    worst = 0.0
    end = time.monotonic() + seconds
    while (now := time.monotonic()) < end:
        await asyncio.sleep(tick)
        worst = max(worst, time.monotonic() - now)
    return worst


async def test_sqlite_search_read_leaves_the_loop_free_and_stops_when_cancelled(sqlite_db):
    async with sqlite_db.read() as conn:
        slow = asyncio.create_task(conn.fetch(COUNT_TO_1E9))
        await asyncio.sleep(0.05)  # the query is now running on the reader thread

        # Inline on the loop, the count would hold every coroutine for minutes.
        assert await _largest_gap(0.5) < 0.5
        assert not slow.done()

        slow.cancel()
        async with asyncio.timeout(10):
            with pytest.raises(asyncio.CancelledError):
                await slow
        # One reader thread: this read only runs if the count was interrupted.
        assert await asyncio.wait_for(conn.fetch("SELECT 1"), 5) == [(1,)]


async def test_sqlite_read_by_id_and_reads_in_a_write_still_work(sqlite_db):
    async with sqlite_db.write() as conn:
        await conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)")
        await conn.execute("INSERT INTO t VALUES ($1, $2)", 1, "one")
        assert await conn.fetchrow("SELECT v FROM t WHERE k = $1", 1) == ("one",)

    assert await sqlite_db.fetchrow("SELECT v FROM t WHERE k = $1", 1) == ("one",)
    async with sqlite_db.read() as conn:
        assert await conn.fetch("SELECT k, v FROM t") == [(1, "one")]
        assert await conn.fetchrow("SELECT v FROM t WHERE k = $1", 2) is None


@pytest.fixture
async def limited_db(backend: Backend) -> AsyncIterator[Database]:
    db = create_database(backend.url, schema=backend.schema, pool_size=2, query_timeout=0.2)
    await db.open()
    try:
        yield db
    finally:
        await db.close()


async def _pg_sleepers(backend: Backend) -> int:
    conn = await asyncpg.connect(asyncpg_dsn(backend.url))
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE query = $1 AND state = 'active'",
            PG_SLEEP,
        )
        return count
    finally:
        await conn.close()


async def test_a_read_past_the_time_limit_becomes_a_503_timeout(backend, limited_db):
    slow = COUNT_TO_1E9 if backend.name == "sqlite" else PG_SLEEP
    started = time.monotonic()
    async with limited_db.read() as conn:
        with pytest.raises(QueryTimeout) as caught:
            await conn.fetch(slow)
    assert time.monotonic() - started < 4.5

    assert caught.value.status == 503
    assert caught.value.issue_code == "timeout"
    assert "Narrow the search" in caught.value.diagnostics
    async with limited_db.read() as conn:
        assert await conn.fetch("SELECT 1") == [(1,)]
    if backend.name == "postgresql":
        # asyncpg cancelled the statement on the server too (the cancel request is async).
        for _ in range(50):
            if await _pg_sleepers(backend) == 0:
                break
            await asyncio.sleep(0.1)
        assert await _pg_sleepers(backend) == 0


async def test_sqlite_fast_reads_stay_on_the_loop_and_slow_ones_move_to_a_thread(tmp_path):
    """A statement runs inline within a 2 ms budget; past it, again on a reader thread."""
    threads: list[str] = []

    def where(value: int) -> int:
        threads.append(threading.current_thread().name)
        return value

    def connect() -> sqlite3.Connection:
        conn = sqlite3.connect(str(tmp_path / "inline.sqlite3"), check_same_thread=False)
        conn.create_function("where_am_i", 1, where)
        return conn

    readers = SqliteReaders(connect, threads=1, timeout=None)
    try:
        assert await readers.call(fetch_all, "SELECT where_am_i(1)", ()) == [(1,)]
        assert threads == [threading.current_thread().name]
        threads.clear()
        slow = (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 3000000) "
            "SELECT where_am_i(max(x)) FROM c"
        )
        assert await readers.call(fetch_all, slow, ()) == [(3000000,)]
    finally:
        await readers.close()
    # the inline attempt was cut off before reaching where_am_i; the thread's run finished
    assert len(threads) == 1 and threads[0].startswith("mitral-sqlite-read")


async def test_sqlite_a_statement_that_outran_the_budget_goes_straight_to_a_thread(tmp_path):
    """The same SQL again skips the inline attempt (2 ms wasted per run otherwise); a fast
    statement keeps running inline."""
    readers = SqliteReaders(
        lambda: sqlite3.connect(str(tmp_path / "memory.sqlite3"), check_same_thread=False),
        threads=1,
        timeout=None,
    )
    attempts: list[str] = []
    try:
        await readers.call(fetch_all, "SELECT 1", ())
        inline = readers._inline
        assert inline is not None
        original = inline.run

        def counting(fn: Any, args: tuple[Any, ...]) -> Any:
            attempts.append(args[0])
            return original(fn, args)

        inline.run = counting  # type: ignore[method-assign]
        slow = (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) "
            "SELECT max(x) FROM c"
        )
        assert await readers.call(fetch_all, slow, (3_000_000,)) == [(3_000_000,)]
        assert await readers.call(fetch_all, slow, (2_000_000,)) == [(2_000_000,)]
        assert await readers.call(fetch_all, "SELECT 2", ()) == [(2,)]
    finally:
        await readers.close()
    assert attempts == [slow, "SELECT 2"]


async def test_fetch_planned_answers_like_fetch(backend, limited_db):
    """PostgreSQL prepares it afresh (a plan for these values, never a cached generic one);
    SQLite runs it as ``fetch``. Either way the rows are the same."""
    sql = "SELECT x, x * 2 FROM (SELECT 1 AS x UNION ALL SELECT 2) v WHERE x >= $1 ORDER BY x"
    async with limited_db.read() as conn:
        for _ in range(7):  # past the five runs after which a cached plan may go generic
            assert [tuple(r) for r in await conn.fetch_planned(sql, 2)] == [(2, 4)]
        assert [tuple(r) for r in await conn.fetch(sql, 1)] == [(1, 2), (2, 4)]


async def test_sqlite_connections_use_the_configured_page_cache(tmp_path: Path) -> None:
    """SQLite's 2 MiB default cache makes a grown database re-read index pages on every
    insert; the setting reaches the writer and the readers alike."""
    db = create_database(f"sqlite:///{tmp_path / 'cache.sqlite3'}", sqlite_cache_mib=48)
    await db.open()
    try:
        async with db.write() as conn:
            row = await conn.fetchrow("PRAGMA cache_size")
            assert row is not None and row[0] == -48 * 1024
        async with db.read() as conn:
            row = await conn.fetchrow("PRAGMA cache_size")
            assert row is not None and row[0] == -48 * 1024
    finally:
        await db.close()
