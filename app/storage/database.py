"""A thin async adapter over the two drivers we run on: sqlite3 and asyncpg.

Why not SQLAlchemy at run time: its async layer costs tens of microseconds per statement
(greenlet hops, result processing), which is most of the budget of a read by id. SQLAlchemy
still owns the schema and the Alembic migrations (`app/storage/schema.py`).

SQL is written once with PostgreSQL-style ``$1`` placeholders; for SQLite they become ``?1``.
Most SQLite calls run inline on the event loop: a read by id or a small write takes
microseconds in-process, and a thread hop (~60 µs) would cost more than the call. Reads through
``read()`` (search, history) are the exception: at a million resources one search can run for
seconds, which inline would stall every other request of the worker and could not be stopped;
they run on reader threads and are interrupted on cancellation or after ``query_timeout``
(``app/storage/sqlite_reader.py``). Writes on SQLite are serialized per process by an asyncio
lock (so a coroutine holding the write transaction can await without deadlocking the loop)
and across processes by SQLite's own lock with a busy timeout.

On PostgreSQL, ``read()`` statements get the same limit as an asyncpg ``timeout=``; cancelling
the awaiting task (or the limit passing) makes asyncpg send the server a cancel request.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sqlite3
import zlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import asyncpg

from app.errors import QueryTimeout, Transient
from app.storage import sqlite_reader
from app.storage.sqlite_reader import SqliteReaders

Row = Sequence[Any]

_PLACEHOLDER = re.compile(r"\$(\d+)")
_RETRY = {"Retry-After": "1"}
_INLINE_COMMIT_ROWS = 100
# asyncpg's own timeout=, or the server cancelling (e.g. a statement_timeout set by a DBA).
_LOCK_MANY = (
    "SELECT count(pg_advisory_xact_lock(k)) FROM unnest($1::bigint[]) WITH ORDINALITY AS t(k, n)"
)
"""Locks taken in the array's (sorted) order: unnest WITH ORDINALITY scans it in order."""
_PG_TIMEOUTS = (TimeoutError, asyncpg.exceptions.QueryCanceledError)


async def _to_thread_through_cancel(fn: Any, *args: Any) -> Any:
    """``asyncio.to_thread`` that, when cancelled, still waits for the thread to finish.

    The thread keeps running on its sqlite3 connection after a plain ``to_thread`` is
    cancelled; closing that connection (shutdown) or starting the next write on it meanwhile
    crashes the process (a segmentation fault was seen at shutdown mid-checkpoint).
    """
    running = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        await running
        raise


@lru_cache(maxsize=1024)
def to_sqlite(sql: str) -> str:
    return _PLACEHOLDER.sub(r"?\1", sql)


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    marks = ", ".join("?" * len(columns))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


def lock_key(text: str) -> int:
    """A stable signed 64-bit key for pg_advisory_xact_lock from any text."""
    crc_high = zlib.crc32(text.encode())
    crc_low = zlib.crc32(text.encode()[::-1])
    value = (crc_high << 32) | crc_low
    return value - (1 << 64) if value >= (1 << 63) else value


class Connection(Protocol):
    dialect: str

    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...

    async def fetch_planned(self, sql: str, *args: Any) -> list[Row]:
        """``fetch``, planned for these values where the database would reuse a plan."""

    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...

    async def execute(self, sql: str, *args: Any) -> int: ...

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    async def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Bulk insert (COPY on PostgreSQL: a fraction of the server CPU of INSERTs)."""

    async def lock(self, key: str) -> None:
        """Serialize writers on a key until the transaction ends."""

    async def lock_many(self, keys: Sequence[str]) -> None:
        """``lock`` for many keys in one round trip (in a fixed order, so two writers
        locking overlapping sets cannot deadlock)."""


class SqliteConnection:
    dialect = "sqlite"

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return self._conn.execute(to_sqlite(sql), args).fetchall()

    async def fetch_planned(self, sql: str, *args: Any) -> list[Row]:
        return await self.fetch(sql, *args)  # SQLite keeps no generic plans to avoid

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        row: Row | None = self._conn.execute(to_sqlite(sql), args).fetchone()
        return row

    async def execute(self, sql: str, *args: Any) -> int:
        return self._conn.execute(to_sqlite(sql), args).rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._conn.executemany(to_sqlite(sql), rows)

    async def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        if rows:
            self._conn.executemany(_insert_sql(table, columns), rows)

    async def lock(self, key: str) -> None:  # noqa: ARG002
        # The SQLite write transaction is already exclusive (BEGIN IMMEDIATE).
        return None

    async def lock_many(self, keys: Sequence[str]) -> None:  # noqa: ARG002
        return None


class SqliteReadConnection:
    """The ``read()`` connection: every statement on a reader thread (see the module doc).

    The write methods exist for the Connection protocol only: writes belong in ``write()``,
    which holds the write lock.
    """

    dialect = "sqlite"

    def __init__(self, readers: SqliteReaders) -> None:
        self._readers = readers

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return await self._readers.call(sqlite_reader.fetch_all, to_sqlite(sql), args)

    async def fetch_planned(self, sql: str, *args: Any) -> list[Row]:
        return await self.fetch(sql, *args)  # SQLite keeps no generic plans to avoid

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        row: Row | None = await self._readers.call(sqlite_reader.fetch_one, to_sqlite(sql), args)
        return row

    async def execute(self, sql: str, *args: Any) -> int:
        return await self._readers.call(sqlite_reader.execute, to_sqlite(sql), args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            await self._readers.call(sqlite_reader.execute_many, to_sqlite(sql), rows)

    async def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        if rows:
            await self._readers.call(sqlite_reader.execute_many, _insert_sql(table, columns), rows)

    async def lock(self, key: str) -> None:  # noqa: ARG002
        return None

    async def lock_many(self, keys: Sequence[str]) -> None:  # noqa: ARG002
        return None


class PgConnection:
    """An asyncpg connection; ``timeout`` (the query limit) is set only on ``read()`` ones.

    The limit is asyncpg's client-side ``timeout=`` rather than ``SET statement_timeout``:
    reads and writes share one pool, and a session setting would outlive the read (the pool's
    reset does not undo SETs) or cost a round trip per read to set and clear. On timeout
    asyncpg cancels the statement on the server, as it does when the task is cancelled.
    """

    dialect = "postgresql"

    def __init__(
        self, conn: asyncpg.Connection, timeout: float | None = None, lock_prefix: str = ""
    ) -> None:
        self._conn = conn
        self._timeout = timeout
        self._lock_prefix = lock_prefix
        """Advisory locks are per database, not per schema: deployments (or test runs)
        sharing a database in different schemas must not wait on each other's keys."""

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        try:
            rows: list[Row] = await self._conn.fetch(sql, *args, timeout=self._timeout)
        except _PG_TIMEOUTS as exc:
            raise QueryTimeout.after(self._timeout) from exc
        return rows

    async def fetch_planned(self, sql: str, *args: Any) -> list[Row]:
        """``fetch`` with a plan made for these values.

        asyncpg keeps each statement prepared, and after five runs PostgreSQL may switch it
        to a generic plan that ignores the values. For a search joining two id sets the
        values decide the plan (a code matching 10 rows or 10,000: token AND token took
        16 ms generic instead of 1 ms at 14,000 resources), so such a statement is prepared
        afresh. Planning costs 0.15-0.4 ms, so single-set searches keep the cache.
        """
        try:
            statement = await self._conn.prepare(sql, timeout=self._timeout)
            rows: list[Row] = await statement.fetch(*args, timeout=self._timeout)
        except _PG_TIMEOUTS as exc:
            raise QueryTimeout.after(self._timeout) from exc
        return rows

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        try:
            row: Row | None = await self._conn.fetchrow(sql, *args, timeout=self._timeout)
        except _PG_TIMEOUTS as exc:
            raise QueryTimeout.after(self._timeout) from exc
        return row

    async def execute(self, sql: str, *args: Any) -> int:
        status: str = await self._conn.execute(sql, *args)
        tail = status.rsplit(" ", 1)[-1]
        return int(tail) if tail.isdigit() else 0

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            await self._conn.executemany(sql, rows)

    async def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        if rows:
            await self._conn.copy_records_to_table(table, records=rows, columns=list(columns))

    async def lock(self, key: str) -> None:
        await self._conn.execute(
            "SELECT pg_advisory_xact_lock($1)", lock_key(self._lock_prefix + key)
        )

    async def lock_many(self, keys: Sequence[str]) -> None:
        ordered = sorted({lock_key(self._lock_prefix + k) for k in keys})
        if ordered:
            await self._conn.execute(_LOCK_MANY, ordered)


class Database(Protocol):
    dialect: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def read(self) -> Any:
        """Async context manager yielding a Connection for reads (no transaction)."""

    def write(self) -> Any:
        """Async context manager yielding a Connection inside one transaction."""

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        """One-statement read on a pooled connection (the hot read path)."""


_WAL_KEEP_BYTES = 64 * 1024 * 1024
_CHECKPOINT_PASSES = 4
"""Unlocked checkpoint passes at most before the one under the write lock."""
_CHECKPOINT_FEW_FRAMES = 2000
"""Frames appended during a pass few enough to finish under the lock (8 MiB)."""


def _sync_file(path: str) -> None:
    """fsync the database file through a descriptor SQLite holds open on it.

    Never through one of our own: closing any descriptor of a file drops every POSIX lock
    the process holds on it, SQLite's included, and another connection could then write
    under a writer (a test database was corrupted so). Found in ``/proc/self/fd`` (Linux;
    elsewhere nothing is synced here and the locked pass does it all, as before). Should
    the descriptor be closed and its number reused meanwhile, another file is synced: no
    harm."""
    if path == ":memory:":
        return
    target = os.path.realpath(path)
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:
        return
    for name in names:
        try:
            if os.readlink(f"/proc/self/fd/{name}") == target:
                os.fsync(int(name))
                return
        except OSError:
            continue


class SqliteDatabase:
    dialect = "sqlite"

    def __init__(
        self,
        path: str,
        *,
        checkpoint_seconds: float = 1.0,
        query_timeout: float | None = None,
        read_threads: int = 4,
        cache_mib: int = 32,
    ) -> None:
        self.path = path
        self._cache_kib = cache_mib * 1024
        self.query_timeout = query_timeout
        self._read_threads = read_threads
        self._reader: sqlite3.Connection | None = None
        self._readers: SqliteReaders | None = None
        self._writer: sqlite3.Connection | None = None
        self._write_lock = asyncio.Lock()
        self._checkpoint_seconds = checkpoint_seconds
        self._checkpointer: asyncio.Task[None] | None = None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=30000")
        # SQLite's 2 MiB default makes every index insert of a grown database a read syscall.
        conn.execute(f"PRAGMA cache_size=-{self._cache_kib}")
        # A WAL started again from the beginning keeps its size on disk; trim it back.
        conn.execute(f"PRAGMA journal_size_limit={_WAL_KEEP_BYTES}")
        return conn

    async def open(self) -> None:
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._writer = self._connect()
        # Checkpoints (copying the WAL back into the database, with an fsync) would otherwise
        # run inside whichever COMMIT crosses 1,000 pages, blocking the event loop; a
        # background thread does them instead (see _checkpoint_loop).
        self._writer.execute("PRAGMA wal_autocheckpoint=0")
        self._reader = self._connect()
        self._readers = SqliteReaders(
            self._connect, threads=self._read_threads, timeout=self.query_timeout
        )
        self._checkpointer = asyncio.create_task(self._checkpoint_loop())

    async def _checkpoint_loop(self) -> None:
        """Copy the WAL back while writers go on, then finish between write transactions
        (the write lock held, so no frame is appended meanwhile): only a checkpoint that
        copied the whole WAL lets the next writer start it again from the beginning. Racing
        the writer alone, a checkpoint never caught up during a long ingest and the WAL only
        grew (2 GB for a 210 MB database after 14,000 units; 30 GB at 20,000 patients).

        Only a pass that copies the whole WAL syncs the database file, so the finishing pass
        would flush everything the passes before it copied with writers waiting (250 ms a
        second under a derivation per message). Each unlocked pass is followed by an fsync of
        the file instead (``_sync_file``), and passes repeat while writers append much
        meanwhile: the pass under the lock has little left to copy or flush (writers then
        waited 0.2 ms a transaction on average, not 2.3 ms)."""
        conn = self._connect()
        checkpoint = "PRAGMA wal_checkpoint(PASSIVE)"

        def passive() -> int:
            row = conn.execute(checkpoint).fetchone()
            return int(row[1]) if row else 0  # frames in the WAL

        try:
            while True:
                await asyncio.sleep(self._checkpoint_seconds)
                seen = 0
                for _ in range(_CHECKPOINT_PASSES):
                    frames = await _to_thread_through_cancel(passive)
                    await _to_thread_through_cancel(_sync_file, self.path)
                    appended = frames - seen if frames >= seen else frames  # restarted
                    seen = frames
                    if appended < _CHECKPOINT_FEW_FRAMES:
                        break
                async with self._write_lock:  # the frames appended meanwhile: a few
                    await _to_thread_through_cancel(conn.execute, checkpoint)
        finally:
            conn.close()

    async def close(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpointer
            self._checkpointer = None
        if self._readers is not None:
            await self._readers.close()
            self._readers = None
        if self._writer is not None:
            self._writer.execute("PRAGMA wal_checkpoint(PASSIVE)")
        for conn in (self._reader, self._writer):
            if conn is not None:
                conn.close()
        self._reader = self._writer = None

    def _reader_conn(self) -> sqlite3.Connection:
        if self._reader is None:
            raise RuntimeError("database is not open")
        return self._reader

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        if self._readers is None:
            raise RuntimeError("database is not open")
        yield SqliteReadConnection(self._readers)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Connection]:
        async with self._write_lock:
            conn = self._writer
            if conn is None:
                raise RuntimeError("database is not open")
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:  # busy timeout ran out
                raise Transient(f"The database is busy: {exc}", headers=_RETRY) from exc
            changes = conn.total_changes
            try:
                yield SqliteConnection(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            if conn.total_changes - changes < _INLINE_COMMIT_ROWS:
                conn.execute("COMMIT")
            else:
                # A large commit writes many WAL pages: off the loop, so other requests
                # parse and validate meanwhile. (A thread hop costs ~60 µs: not worth it
                # for a single small write.)
                await _to_thread_through_cancel(conn.execute, "COMMIT")

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        """Inline on the loop: this is the read by id, a primary-key lookup of a few µs.

        A thread hop would cost ten times the query, and the lookup cannot run long, so it needs
        neither the time limit nor interruption. Anything that scans belongs in ``read()``.
        """
        row: Row | None = self._reader_conn().execute(to_sqlite(sql), args).fetchone()
        return row


async def _reset_connection(conn: asyncpg.Connection) -> None:
    """Replaces asyncpg's default reset (a round trip per release: ~40 µs of a 90 µs read).

    We keep no session state: advisory locks are transaction-scoped, no cursors, LISTEN or SET.
    Only a transaction left open by a crash mid-request needs undoing.
    """
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


class PgDatabase:
    dialect = "postgresql"

    def __init__(
        self, dsn: str, *, schema: str | None, pool_size: int, query_timeout: float | None = None
    ) -> None:
        self.dsn = dsn
        self.schema = schema
        self.pool_size = pool_size
        self.query_timeout = query_timeout or None
        self._lock_prefix = f"{schema}:" if schema else ""
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        settings = {"search_path": self.schema} if self.schema else {}
        self._pool = await asyncpg.create_pool(
            self.dsn,
            min_size=1,
            max_size=self.pool_size,
            server_settings=settings,
            reset=_reset_connection,
        )

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    def _get_pool(self) -> asyncpg.Pool:
        if self._pool is None:
            raise RuntimeError("database is not open")
        return self._pool

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Connection]:
        async with self._get_pool().acquire() as conn:
            yield PgConnection(conn, self.query_timeout, self._lock_prefix)

    @asynccontextmanager
    async def write(self) -> AsyncIterator[Connection]:
        try:
            async with self._get_pool().acquire() as conn, conn.transaction():
                yield PgConnection(conn, lock_prefix=self._lock_prefix)
        except (
            asyncpg.exceptions.DeadlockDetectedError,
            asyncpg.exceptions.SerializationError,
        ) as exc:
            raise Transient(
                f"A concurrent transaction touched the same resources: {exc}", headers=_RETRY
            ) from exc

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        row: Row | None = await self._get_pool().fetchrow(sql, *args)
        return row


def asyncpg_dsn(url: str) -> str:
    """Accept postgresql://, postgresql+asyncpg:// or postgresql+psycopg:// URLs."""
    scheme, _, rest = url.partition("://")
    if not scheme.startswith(("postgresql", "postgres")):
        raise ValueError(f"not a PostgreSQL URL: {url}")
    return f"postgresql://{rest}"


def sqlite_path(url: str) -> str:
    """sqlite:///relative/path, sqlite:////absolute/path or sqlite:///:memory:."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise ValueError(f"not a SQLite URL (expected sqlite:///path): {url}")
    return url[len(prefix) :]


def create_database(
    url: str,
    *,
    schema: str | None = None,
    pool_size: int = 10,
    query_timeout: float | None = None,
    sqlite_cache_mib: int = 32,
) -> Database:
    """``query_timeout`` (seconds; None or 0 for none) bounds each statement of ``read()``."""
    if url.startswith("sqlite"):
        return SqliteDatabase(
            sqlite_path(url), query_timeout=query_timeout, cache_mib=sqlite_cache_mib
        )
    return PgDatabase(
        asyncpg_dsn(url), schema=schema, pool_size=pool_size, query_timeout=query_timeout
    )
