"""The versioned resource store: current rows, every version, and their index rows.

All SQL for resources and history lives here (search queries live in app.search.sql).
Callers open a write transaction with ``ResourceStore.write()`` and get a ``WriteTx``; one
FHIR interaction or one whole transaction Bundle runs inside one of these.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from app.storage.database import Connection, Database, Row
from app.storage.index_rows import COLUMNS, IndexRows, insert_sql

_SELECT_CURRENT = (
    "SELECT res_type, res_id, version_id, last_updated, deleted, content "
    "FROM resource WHERE res_type = $1 AND res_id = $2"
)
_SELECT_VERSION = (
    "SELECT res_type, res_id, version_id, last_updated, deleted, content, method "
    "FROM resource_version WHERE res_type = $1 AND res_id = $2 AND version_id = $3"
)
_UPSERT_CURRENT = (
    "INSERT INTO resource (res_type, res_id, version_id, last_updated, deleted, content, centre) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7) "
    "ON CONFLICT (res_type, res_id) DO UPDATE SET version_id = excluded.version_id, "
    "last_updated = excluded.last_updated, deleted = excluded.deleted, "
    "content = excluded.content, centre = excluded.centre"
)
_INSERT_VERSION = (
    "INSERT INTO resource_version "
    "(res_type, res_id, version_id, last_updated, method, deleted, content) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7)"
)
_DELETE_INDEX = {t: f"DELETE FROM {t} WHERE res_type = $1 AND res_id = $2" for t in COLUMNS}
_INSERT_INDEX = {t: insert_sql(t) for t in COLUMNS}


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


class WriteTx:
    """One open write transaction: the only way to change stored resources."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    async def lock(self, key: str) -> None:
        await self.conn.lock(key)

    async def current(self, res_type: str, res_id: str) -> StoredVersion | None:
        """The current row, locked against concurrent writers of the same resource."""
        await self.conn.lock(f"resource:{res_type}/{res_id}")
        return await read_current(self.conn, res_type, res_id)

    async def put(
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
        """Write a new current version with its index rows (caller has called current())."""
        await self.conn.execute(
            _UPSERT_CURRENT, res_type, res_id, version_id, last_updated, False, content, centre
        )
        await self.conn.execute(
            _INSERT_VERSION, res_type, res_id, version_id, last_updated, method, False, content
        )
        await self._replace_index(res_type, res_id, index, existed=existed)

    async def delete(
        self, *, res_type: str, res_id: str, version_id: int, last_updated: int
    ) -> None:
        await self.conn.execute(
            _UPSERT_CURRENT, res_type, res_id, version_id, last_updated, True, None, None
        )
        await self.conn.execute(
            _INSERT_VERSION, res_type, res_id, version_id, last_updated, "DELETE", True, None
        )
        await self._replace_index(res_type, res_id, IndexRows(), existed=True)

    async def _replace_index(
        self, res_type: str, res_id: str, index: IndexRows, *, existed: bool
    ) -> None:
        if existed:
            for table in COLUMNS:
                await self.conn.execute(_DELETE_INDEX[table], res_type, res_id)
        for table, rows in index.rows.items():
            await self.conn.executemany(
                _INSERT_INDEX[table], [(res_type, res_id, *row) for row in rows]
            )


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
        row = await self.db.fetchrow(_SELECT_VERSION, res_type, res_id, version_id)
        return _version(row) if row else None

    @asynccontextmanager
    async def write(self) -> AsyncIterator[WriteTx]:
        async with self.db.write() as conn:
            yield WriteTx(conn)

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
