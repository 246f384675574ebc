"""SQLite reads off the event loop once they prove slow, each statement stoppable from the loop.

A search over a million resources can spend seconds inside ``sqlite3_step``; run inline, it
would hold up every other request of the worker. Each statement first runs on the loop with
a budget of INLINE_BUDGET (most finish well within it, and a thread hop would cost more than
they do); past it, it runs again on a reader thread. Each reader thread owns one connection (WAL
lets readers run alongside the writer), and the loop stops a statement with
``sqlite3.Connection.interrupt()``: when the awaiting task is cancelled (the client went away)
or when the time limit passes. The limit is a loop timer rather than a progress handler, so
the SQLite thread pays nothing for it; it counts from submission, queueing included, because
that is the time the client waits.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Generic, TypeVar, cast

from app.errors import QueryTimeout

T = TypeVar("T")


class _Job(Generic[T]):
    """One call on a reader thread.

    The connection is published only while the call runs (under the lock), so a late stop can
    never interrupt the thread's next job; a stop before the start skips the call entirely.
    """

    __slots__ = ("_args", "_conn", "_fn", "_lock", "stopped", "timed_out")

    def __init__(self, fn: Callable[..., T], args: tuple[Any, ...]) -> None:
        self._fn = fn
        self._args = args
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self.stopped = False
        self.timed_out = False

    def run(self, conn: sqlite3.Connection) -> T:
        with self._lock:
            if self.stopped:
                raise sqlite3.OperationalError("interrupted")
            self._conn = conn
        try:
            return self._fn(conn, *self._args)
        finally:
            with self._lock:
                self._conn = None

    def stop(self, timed_out: bool) -> None:
        with self._lock:
            if self.stopped:
                return
            self.stopped = True
            self.timed_out = timed_out
            if self._conn is not None:
                self._conn.interrupt()


INLINE_BUDGET = 0.002
"""Seconds a statement may run on the event loop before it moves to a reader thread."""
_SLOW_SHAPES = 256
"""How many statement shapes that outran the budget are remembered (least recent dropped)."""
_FAST_TO_FORGET = 8
"""Consecutive fast thread runs before a remembered shape tries inline again. One fast run
is not enough: a prefix search is fast for a rare prefix and slow for a common one, and
forgetting on the first fast run made the next slow one waste the budget again."""


class _Inline:
    """A connection on the event loop's thread that gives each statement a short budget.

    Most searches take well under a millisecond, less than the hop to a thread and back
    under load (measured at 1,000,000 resources: a reference search went from 0.3 to 1.5 ms
    at p50 when every read took the hop). So a statement first runs here; SQLite's progress
    handler interrupts it once it passes INLINE_BUDGET, and it runs again on a reader
    thread. A slow search thus holds the loop for at most the budget.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._deadline = 0.0
        self._exceeded = False
        conn.set_progress_handler(self._tick, 1000)

    def _tick(self) -> int:
        if time.perf_counter() > self._deadline:
            self._exceeded = True
            return 1
        return 0

    def run(self, fn: Callable[..., T], args: tuple[Any, ...]) -> tuple[bool, T | None]:
        """(True, result), or (False, None) when the budget ran out first."""
        self._deadline = time.perf_counter() + INLINE_BUDGET
        self._exceeded = False
        try:
            return True, fn(self.conn, *args)
        except sqlite3.OperationalError:
            if self._exceeded:
                return False, None
            raise


class SqliteReaders:
    """A fixed set of reader threads, one connection each, opened on first use, and the
    event loop's own connection that tries each statement first (see ``_Inline``)."""

    def __init__(
        self,
        connect: Callable[[], sqlite3.Connection],
        *,
        threads: int,
        timeout: float | None,
    ) -> None:
        self._connect = connect
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix="mitral-sqlite-read")
        self._local = threading.local()
        self._conns: list[sqlite3.Connection] = []
        self._inline: _Inline | None = None
        self.timeout = timeout or None
        self._thread_first: OrderedDict[str, int] = OrderedDict()
        """Statements (SQL text) that ran past the inline budget, with how many thread runs in a
        row have since been fast: the next run of the same shape goes straight to a thread
        instead of spending the budget again first."""

    def _run(self, job: _Job[T]) -> T:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            self._conns.append(conn)
        return job.run(conn)

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(connection, *args)``: inline within the budget, else on a reader thread,
        where cancelling the caller interrupts it."""
        if self._inline is None:
            self._inline = _Inline(self._connect())
            self._conns.append(self._inline.conn)
        shape = args[0] if args and isinstance(args[0], str) else None
        if shape is None or shape not in self._thread_first:
            done_inline, result = self._inline.run(fn, args)
            if done_inline:
                return cast(T, result)
            if shape is not None:
                self._remember_slow(shape)
        started = time.perf_counter()
        result = await self._on_thread(fn, args)
        if shape is not None:
            if time.perf_counter() - started >= INLINE_BUDGET / 2:
                self._remember_slow(shape)
            else:
                fast = self._thread_first.get(shape, 0) + 1
                if fast >= _FAST_TO_FORGET:
                    self._thread_first.pop(shape, None)  # fast for a while: try inline
                elif shape in self._thread_first:
                    self._thread_first[shape] = fast
        return result

    def _remember_slow(self, shape: str) -> None:
        self._thread_first[shape] = 0
        self._thread_first.move_to_end(shape)
        if len(self._thread_first) > _SLOW_SHAPES:
            self._thread_first.popitem(last=False)

    async def _on_thread(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        job = _Job(fn, args)
        loop = asyncio.get_running_loop()
        submitted = self._executor.submit(self._run, job)
        done = asyncio.wrap_future(submitted, loop=loop)
        timer = loop.call_later(self.timeout, job.stop, True) if self.timeout else None
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            job.stop(False)
            done.add_done_callback(_consume)  # its error is the interrupt we asked for
            if not submitted.cancel():
                # Running: wait the few milliseconds until SQLite notices the interrupt, so a
                # finished cancellation means the statement has stopped.
                await asyncio.wait([done])
            raise
        except sqlite3.OperationalError as exc:
            if job.timed_out and self.timeout:
                raise QueryTimeout.after(self.timeout) from exc
            raise
        finally:
            if timer is not None:
                timer.cancel()

    async def close(self) -> None:
        for conn in self._conns:
            conn.interrupt()
        await asyncio.to_thread(self._executor.shutdown, wait=True, cancel_futures=True)
        for conn in self._conns:
            conn.close()
        self._conns.clear()


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def fetch_all(conn: sqlite3.Connection, sql: str, args: Sequence[Any]) -> list[Any]:
    cursor = conn.execute(sql, args)
    try:
        return cursor.fetchall()
    finally:
        cursor.close()


def fetch_one(conn: sqlite3.Connection, sql: str, args: Sequence[Any]) -> Any:
    # Closing the cursor resets the statement, so a stop that arrives after it is a no-op.
    cursor = conn.execute(sql, args)
    try:
        return cursor.fetchone()
    finally:
        cursor.close()


def execute(conn: sqlite3.Connection, sql: str, args: Sequence[Any]) -> int:
    return conn.execute(sql, args).rowcount


def execute_many(conn: sqlite3.Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    conn.executemany(sql, rows)
