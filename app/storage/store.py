"""The versioned resource store: current rows, every version, and their index rows.

All SQL for resources and history lives here (search queries live in app.search.sql).
Callers open a write transaction with ``ResourceStore.write()`` and get a ``WriteTx``; one
FHIR interaction or one whole transaction Bundle runs inside one of these.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from app.storage import writes_index, writes_pg
from app.storage.database import Connection, Database, Row
from app.storage.index_rows import COLUMNS, IndexRows

_SELECT_CURRENT = (
    "SELECT res_type, res_id, version_id, last_updated, deleted, content "
    "FROM resource WHERE res_type = $1 AND res_id = $2"
)
_SELECT_VERSION = (
    "SELECT res_type, res_id, version_id, last_updated, deleted, content, method "
    "FROM resource_version WHERE res_type = $1 AND res_id = $2 AND version_id = $3"
)
_UPSERT_CURRENT = (
    f"INSERT INTO resource ({', '.join(writes_pg.RESOURCE_COLUMNS)}) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7)" + writes_pg.ON_CONFLICT
)
_DELETE_INDEX = {t: f"DELETE FROM {t} WHERE res_type = $1 AND res_id = $2" for t in COLUMNS}
_ROW_ID = {"sqlite": "rowid = $1", "postgresql": "ctid = CAST($1 AS text)::tid"}
_DELETE_ROW = {
    (dialect, t): f"DELETE FROM {t} WHERE {row_id} AND res_type = $2 AND res_id = $3"
    for dialect, row_id in _ROW_ID.items()
    for t in COLUMNS
}
"""One stored index row (``writes_index``) by its row id, if still of that resource."""
_DELETE_INDEX_PARAM = {
    t: f"DELETE FROM {t} WHERE res_type = $1 AND res_id = $2 AND param = $3" for t in COLUMNS
}
_CURRENT_COLUMNS = "res_type, res_id, version_id, last_updated, deleted, content"
PATHWAY_SOURCES = frozenset(
    {
        "Patient",
        "ServiceRequest",
        "Encounter",
        "Procedure",
        "Observation",
        "Condition",
        "Appointment",
    }
)
"""Types whose writes change a patient's pathway: writing one queues the Patient(s) it is
about in ``pathway_dirty``, in the same transaction (CarePlans, derived from them, do not)."""
_QUEUE_DIRTY = (
    "INSERT INTO pathway_dirty (patient_id, queued_at) VALUES ($1, $2) "
    "ON CONFLICT (patient_id) DO UPDATE SET queued_at = excluded.queued_at"
)


def _patients_of(count: int) -> str:
    """The Patients some stored resources of one type reference (before a rewrite or a
    delete replaces their index rows).

    Only the (res_type, res_id) index suits this, so the target columns are compared as
    expressions (``|| ''``), which no index can serve: without statistics (a fresh database
    during a bulk load) PostgreSQL otherwise scanned every Patient reference of the type
    through the (res_type, param, target_id, ...) index, 30 ms per statement at 100,000
    rows and growing with the table. ``grp`` is read so that SQLite, too, seeks the
    (res_type, res_id) index rather than scanning the covering reference index."""
    marks = ", ".join(f"${n}" for n in range(2, count + 2))
    return (
        "SELECT DISTINCT target_id FROM search_reference WHERE res_type = $1 "
        f"AND res_id IN ({marks}) AND target_type || '' = 'Patient' "
        "AND target_id || '' <> '' AND (grp = grp OR grp IS NULL)"
    )


_PREFETCH = 500
"""Ids per prefetch statement (SQLite allows 32,766 parameters; keep statements small)."""


@dataclass(frozen=True, slots=True)
class StoredVersion:
    res_type: str
    res_id: str
    version_id: int
    last_updated: int
    """Microseconds since the epoch, UTC."""
    deleted: bool
    content: bytes | None
    method: str = ""


def _version(row: Row) -> StoredVersion:
    content = row[5]
    return StoredVersion(
        res_type=row[0],
        res_id=row[1],
        version_id=row[2],
        last_updated=row[3],
        deleted=bool(row[4]),
        content=bytes(content) if content is not None else None,
        method=row[6] if len(row) > 6 else "",
    )


async def read_current(conn: Connection, res_type: str, res_id: str) -> StoredVersion | None:
    row = await conn.fetchrow(_SELECT_CURRENT, res_type, res_id)
    return _version(row) if row else None


async def read_version(
    conn: Connection, res_type: str, res_id: str, version_id: int
) -> StoredVersion | None:
    if not 0 < version_id < 2**31:  # no such version; and the drivers reject larger ints
        return None
    row = await conn.fetchrow(_SELECT_VERSION, res_type, res_id, version_id)
    return _version(row) if row else None


class WriteTx:
    """One open write transaction: the only way to change stored resources.

    Writes are buffered and sent as one batched statement per table (``flush``): a
    transaction Bundle of 100 creates costs a handful of round trips, not hundreds. Any read
    through the transaction flushes first, so it always sees the transaction's own writes.
    """

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._known: dict[tuple[str, str], StoredVersion | None] = {}
        """Current rows this transaction has locked and read, or written: they are read
        once, and a read never has to flush pending writes first."""
        self._current: list[tuple[Any, ...]] = []
        self._new: list[tuple[Any, ...]] = []
        self._versions: list[tuple[Any, ...]] = []
        self._stale_index: list[tuple[str, str]] = []
        self._dirty: dict[str, int] = {}
        self._dirty_deleted: list[tuple[str, str, int]] = []
        self._index: dict[tuple[str, str], dict[str, list[tuple[Any, ...]]]] = {}
        """Pending index rows per resource: a second write of a resource before the flush
        replaces the first one's rows (they never reach the database)."""
        self._stored_index: dict[tuple[str, str], writes_index.Stored] = {}
        """Index rows as stored (``read_index``) of resources not written since."""
        self._diffed: dict[tuple[str, str], None] = {}
        """Rewritten resources among those: only their changed index rows are written."""

    async def connection(self) -> Connection:
        """The transaction's connection for queries, with pending writes flushed."""
        await self.flush()
        return self._conn

    async def lock(self, key: str) -> None:
        await self._conn.lock(key)

    async def current(self, res_type: str, res_id: str) -> StoredVersion | None:
        """The current row, locked against concurrent writers of the same resource."""
        key = (res_type, res_id)
        if key in self._known:
            return self._known[key]
        await self._conn.lock(f"resource:{res_type}/{res_id}")
        # No pending write touches a row missing from _known, so no flush is needed.
        found = await read_current(self._conn, res_type, res_id)
        self._known[key] = found
        return found

    async def prefetch(self, keys: Iterable[tuple[str, str]]) -> None:
        """Lock and read many current rows in a few statements, so that the ``current``
        calls of a batch of writes (an ingest chunk) cost no round trip each."""
        wanted = sorted({k for k in keys if k not in self._known})
        if not wanted:
            return
        await self._conn.lock_many([f"resource:{t}/{i}" for t, i in wanted])
        by_type: dict[str, list[str]] = {}
        for res_type, res_id in wanted:
            by_type.setdefault(res_type, []).append(res_id)
        for res_type, ids in by_type.items():
            for start in range(0, len(ids), _PREFETCH):
                chunk = ids[start : start + _PREFETCH]
                marks = ", ".join(f"${n}" for n in range(2, len(chunk) + 2))
                rows = await self._conn.fetch(
                    f"SELECT {_CURRENT_COLUMNS} FROM resource "
                    f"WHERE res_type = $1 AND res_id IN ({marks})",
                    res_type,
                    *chunk,
                )
                for row in rows:
                    found = _version(row)
                    self._known[(found.res_type, found.res_id)] = found
        for key in wanted:
            self._known.setdefault(key, None)

    async def read_index(self, res_type: str, ids: Iterable[str]) -> None:
        """Read the stored index rows of resources this transaction has locked (``current``,
        ``prefetch``): rewriting one then deletes and inserts only the index rows that
        differ (``writes_index``), instead of all of them."""
        conn = await self.connection()
        wanted = [i for i in dict.fromkeys(ids) if (res_type, i) in self._known]
        for start in range(0, len(wanted), _PREFETCH):
            chunk = wanted[start : start + _PREFETCH]
            sql = writes_index.read_sql(conn.dialect, len(chunk))
            if conn.dialect == "postgresql":
                rows = await conn.fetch(sql, res_type, chunk)
            else:
                rows = await conn.fetch(sql, res_type, *chunk)
            for res_id, stored in writes_index.parse(conn.dialect, rows, chunk).items():
                self._stored_index[(res_type, res_id)] = stored

    def put(
        self,
        *,
        res_type: str,
        res_id: str,
        version_id: int,
        last_updated: int,
        method: str,
        content: bytes,
        index: IndexRows,
        existed: bool,
        centre: str | None = None,
    ) -> None:
        """Queue a new current version with its index rows (caller has called current(),
        unless the id was freshly generated)."""
        row = (res_type, res_id, version_id, last_updated, False, content, centre)
        self._known[(res_type, res_id)] = StoredVersion(
            res_type, res_id, version_id, last_updated, False, content
        )
        # No row exists (checked under lock, or a fresh id): a plain insert, no upsert.
        (self._current if existed else self._new).append(row)
        self._versions.append((res_type, res_id, version_id, last_updated, method, False, content))
        if not existed:
            self._stored_index.pop((res_type, res_id), None)
        elif (res_type, res_id) in self._stored_index:
            self._diffed[(res_type, res_id)] = None
        else:
            self._stale_index.append((res_type, res_id))
        self._index[(res_type, res_id)] = index.rows
        if res_type in PATHWAY_SOURCES:
            if res_type == "Patient":
                self._dirty[res_id] = last_updated
            elif existed:  # the Patient it was about before this write, too
                self._dirty_deleted.append((res_type, res_id, last_updated))
            for ref in index.rows.get("search_reference", ()):
                if ref[2] == "Patient" and ref[3]:
                    self._dirty[ref[3]] = last_updated

    def delete(self, *, res_type: str, res_id: str, version_id: int, last_updated: int) -> None:
        self._known[(res_type, res_id)] = StoredVersion(
            res_type, res_id, version_id, last_updated, True, None
        )
        self._current.append((res_type, res_id, version_id, last_updated, True, None, None))
        self._versions.append((res_type, res_id, version_id, last_updated, "DELETE", True, None))
        self._stale_index.append((res_type, res_id))
        self._forget_index(res_type, res_id)
        self._index.pop((res_type, res_id), None)
        if res_type == "Patient":
            self._dirty[res_id] = last_updated
        elif res_type in PATHWAY_SOURCES:
            self._dirty_deleted.append((res_type, res_id, last_updated))

    async def reindex(
        self, res_type: str, res_id: str, index: IndexRows, params: list[str] | None = None
    ) -> None:
        """Replace the index rows of a stored resource: all of them, or only those whose
        ``param`` is in ``params``. The new rows are written with the next flush."""
        await self.flush()
        self._forget_index(res_type, res_id)
        if params is None:
            for table in COLUMNS:
                await self._conn.execute(_DELETE_INDEX[table], res_type, res_id)
        else:
            for table in COLUMNS:
                for param in params:
                    await self._conn.execute(_DELETE_INDEX_PARAM[table], res_type, res_id, param)
        self._index[(res_type, res_id)] = index.rows

    def _forget_index(self, res_type: str, res_id: str) -> None:
        """Its stored index rows are about to be deleted by other means."""
        self._stored_index.pop((res_type, res_id), None)
        self._diffed.pop((res_type, res_id), None)

    def _take_diffs(self) -> writes_index.Gone:
        """Pending index rows of rewritten resources whose stored rows are known reduced to
        the new rows; returns the stored rows to delete."""
        gone: writes_index.Gone = {}
        for key in self._diffed:
            stored = self._stored_index.pop(key)
            rows, fresh = writes_index.diff(*key, stored, self._index.get(key, {}))
            for table, found in rows.items():
                gone.setdefault(table, []).extend(found)
            self._index[key] = fresh
        self._diffed = {}
        return gone

    async def _previous_patients(self) -> None:
        by_type: dict[str, list[str]] = {}
        for res_type, res_id, _ in self._dirty_deleted:
            by_type.setdefault(res_type, []).append(res_id)
        at = max(when for _, _, when in self._dirty_deleted)
        for res_type, ids in by_type.items():
            for start in range(0, len(ids), _PREFETCH):
                chunk = ids[start : start + _PREFETCH]
                rows = await self._conn.fetch(_patients_of(len(chunk)), res_type, *chunk)
                for (patient_id,) in rows:
                    self._dirty.setdefault(patient_id, at)
        self._dirty_deleted = []

    async def flush(self, *, final: bool = False) -> None:
        """Send the pending writes; ``final`` (at commit) also queues the patients they
        changed for the pathway derivation."""
        gone = self._take_diffs()
        if self._conn.dialect == "postgresql" and self._one_statement(gone):
            await self._flush_pg(gone, final=final)
            return
        if self._new:
            await self._conn.insert_rows("resource", writes_pg.RESOURCE_COLUMNS, self._new)
            self._new = []
        if self._current:
            await self._conn.executemany(_UPSERT_CURRENT, self._current)
            self._current = []
        if self._versions:
            columns = writes_pg.VERSION_COLUMNS
            await self._conn.insert_rows("resource_version", columns, self._versions)
            self._versions = []
        await self._queue_patients(final=final)
        await self._flush_index(gone)

    async def _queue_patients(self, *, final: bool) -> None:
        if self._dirty_deleted:  # the Patients they were about, before their index rows go
            await self._previous_patients()
        if self._dirty and final:
            # One sorted statement at commit: writers and the derivation (which deletes these
            # rows) take the row locks in the same order, and hold them only to the commit.
            await self._conn.executemany(_QUEUE_DIRTY, sorted(self._dirty.items()))
            self._dirty = {}

    def _take_index_rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """The pending index rows per table (in ``COLUMNS`` order), with their resource."""
        by_table: dict[str, list[tuple[Any, ...]]] = {}
        for (res_type, res_id), tables in self._index.items():
            for table, rows in tables.items():
                if rows:
                    by_table.setdefault(table, []).extend((res_type, res_id, *r) for r in rows)
        self._index = {}
        return {table: by_table[table] for table in COLUMNS if table in by_table}

    async def _flush_index(self, gone: writes_index.Gone) -> None:
        if self._stale_index:
            for table in COLUMNS:
                await self._conn.executemany(_DELETE_INDEX[table], self._stale_index)
            self._stale_index = []
        for table, found in gone.items():
            await self._conn.executemany(_DELETE_ROW[(self._conn.dialect, table)], found)
        for table, rows in self._take_index_rows().items():
            await self._conn.insert_rows(table, ("res_type", "res_id", *COLUMNS[table]), rows)

    def _one_statement(self, gone: writes_index.Gone) -> bool:
        """Whether the pending writes are few enough for ``_flush_pg`` (more go by COPY), and
        each current row is written once (an upsert cannot touch a row twice)."""
        rows = len(self._versions) + sum(len(r) for t in self._index.values() for r in t.values())
        if rows + sum(len(r) for r in gone.values()) > writes_pg.ONE_STATEMENT_ROWS:
            return False
        keys = [(r[0], r[1]) for r in self._new] + [(r[0], r[1]) for r in self._current]
        return len(set(keys)) == len(keys)

    async def _flush_pg(self, gone: writes_index.Gone, *, final: bool) -> None:
        """PostgreSQL: the pending writes in one statement (``writes_pg``); the same rows as
        ``flush``, and the patients' queue entries still go first, in their order."""
        await self._queue_patients(final=final)
        parts: list[tuple[str, list[tuple[Any, ...]]]] = []
        if self._stale_index:
            parts.append(("stale", self._stale_index))
        parts.extend((f"gone:{table}", found) for table, found in gone.items())
        if self._new:
            parts.append(("new", self._new))
        if self._current:
            parts.append(("current", self._current))
        if self._versions:
            parts.append(("resource_version", self._versions))
        parts.extend(self._take_index_rows().items())
        self._new, self._current, self._versions, self._stale_index = [], [], [], []
        if not parts:
            return
        sql = writes_pg.statement(tuple(name for name, _ in parts))
        args: list[Any] = []
        for _, rows in parts:
            args.extend(list(column) for column in zip(*rows, strict=True))
        await self._conn.execute(sql, *args)


@dataclass(frozen=True, slots=True)
class HistoryPage:
    versions: list[StoredVersion]
    next_seq: int | None
    """The seq to continue from (exclusive), or None on the last page."""


class ResourceStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def read(self, res_type: str, res_id: str) -> StoredVersion | None:
        row = await self.db.fetchrow(_SELECT_CURRENT, res_type, res_id)
        return _version(row) if row else None

    async def vread(self, res_type: str, res_id: str, version_id: int) -> StoredVersion | None:
        if not 0 < version_id < 2**31:  # no such version; and the drivers reject larger ints
            return None
        row = await self.db.fetchrow(_SELECT_VERSION, res_type, res_id, version_id)
        return _version(row) if row else None

    @asynccontextmanager
    async def write(self) -> AsyncIterator[WriteTx]:
        async with self.db.write() as conn:
            tx = WriteTx(conn)
            yield tx
            await tx.flush(final=True)

    async def current_page(
        self, *, res_type: str | None, after: tuple[str, str] | None, limit: int
    ) -> list[StoredVersion]:
        """Live (not deleted) current versions in (res_type, res_id) order, after a keyset
        cursor: how reindex walks the store in resumable batches."""
        where = ["deleted = $1"]
        args: list[Any] = [False]
        if res_type is not None:
            args.append(res_type)
            where.append(f"res_type = ${len(args)}")
        if after is not None:
            args.extend(after)
            t, i = len(args) - 1, len(args)
            where.append(f"(res_type > ${t} OR (res_type = ${t} AND res_id > ${i}))")
        args.append(limit)
        sql = (
            f"SELECT {_CURRENT_COLUMNS} FROM resource WHERE {' AND '.join(where)} "
            f"ORDER BY res_type, res_id LIMIT ${len(args)}"
        )
        async with self.db.read() as conn:
            rows = await conn.fetch(sql, *args)
        return [_version(r) for r in rows]

    async def count_current(self, *, res_type: str | None) -> int:
        """How many live current resources (of one type) there are."""
        if res_type is None:
            row = await self.db.fetchrow("SELECT count(*) FROM resource WHERE deleted = $1", False)
        else:
            row = await self.db.fetchrow(
                "SELECT count(*) FROM resource WHERE deleted = $1 AND res_type = $2",
                False,
                res_type,
            )
        return int(row[0]) if row else 0

    async def history(
        self,
        *,
        res_type: str | None,
        res_id: str | None,
        since: int | None,
        before_seq: int | None,
        limit: int,
    ) -> HistoryPage:
        """Versions newest first, keyset-paged on seq so pages stay stable under writes."""
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("res_type", res_type), ("res_id", res_id)):
            if value is not None:
                args.append(value)
                where.append(f"{column} = ${len(args)}")
        if since is not None:
            args.append(since)
            where.append(f"last_updated >= ${len(args)}")
        if before_seq is not None:
            args.append(before_seq)
            where.append(f"seq < ${len(args)}")
        args.append(limit + 1)
        sql = (
            "SELECT res_type, res_id, version_id, last_updated, deleted, content, method, seq "
            "FROM resource_version"
            + (f" WHERE {' AND '.join(where)}" if where else "")
            + f" ORDER BY seq DESC LIMIT ${len(args)}"
        )
        async with self.db.read() as conn:
            rows = await conn.fetch(sql, *args)
        more = len(rows) > limit
        rows = rows[:limit]
        return HistoryPage([_version(r) for r in rows], rows[-1][7] if more else None)
