"""SQL for the ingest log (``ingest_unit``) and polling watermarks (``ingest_watermark``).

The log is what makes ingest lose nothing: a unit is inserted (and committed) before anything
acknowledges it or maps it, and its status changes in the same transaction as the resources
its mapping writes, so after a crash every unit is either mapped with its writes, quarantined
with its reason, or still ``received`` and mapped again on restart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.storage.database import Connection, Row

RECEIVED = "received"
MAPPED = "mapped"
QUARANTINED = "quarantined"
STATUSES = (RECEIVED, MAPPED, QUARANTINED)

_COLUMNS = (
    "unit_id, centre, kind, transport, source_name, position, context, content, received_at, "
    "status, attempts, updated_at, outcome, result, seq"
)
_INSERT = (
    "INSERT INTO ingest_unit (unit_id, centre, kind, transport, source_name, position, "
    "context, content, received_at, status, attempts, updated_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $9) ON CONFLICT (unit_id) DO NOTHING"
)
_SET_STATUS = (
    "UPDATE ingest_unit SET status = $2, outcome = $3, result = $4, updated_at = $5, "
    "attempts = attempts + $6 WHERE unit_id = $1"
)


@dataclass(frozen=True, slots=True)
class NewUnit:
    unit_id: str
    centre: str
    kind: str
    transport: str
    source_name: str | None
    position: str | None
    context: bytes | None
    """What the content needs to be read alone again (a CSV row's header line)."""
    content: bytes


@dataclass(frozen=True, slots=True)
class LoggedUnit:
    unit_id: str
    centre: str
    kind: str
    transport: str
    source_name: str | None
    position: str | None
    context: bytes | None
    content: bytes
    received_at: int
    status: str
    attempts: int
    updated_at: int
    outcome: bytes | None
    result: bytes | None
    seq: int


def _unit(row: Row) -> LoggedUnit:
    return LoggedUnit(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        row[5],
        bytes(row[6]) if row[6] is not None else None,
        bytes(row[7]),
        row[8],
        row[9],
        row[10],
        row[11],
        bytes(row[12]) if row[12] is not None else None,
        bytes(row[13]) if row[13] is not None else None,
        row[14],
    )


def _placeholders(count: int, start: int = 1) -> str:
    return ", ".join(f"${i}" for i in range(start, start + count))


async def log_units(conn: Connection, units: Sequence[NewUnit], now: int) -> dict[str, str]:
    """Insert the units not logged before; return every unit's status (new ones ``received``).

    The same input sent twice has the same ``unit_id``, so it is one row: its status tells
    the caller it was already mapped or quarantined."""
    if not units:
        return {}
    await conn.executemany(
        _INSERT,
        [
            (
                u.unit_id,
                u.centre,
                u.kind,
                u.transport,
                u.source_name,
                u.position,
                u.context,
                u.content,
                now,
                RECEIVED,
            )
            for u in units
        ],
    )
    ids = list(dict.fromkeys(u.unit_id for u in units))
    found: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = await conn.fetch(
            "SELECT unit_id, status FROM ingest_unit WHERE unit_id IN "
            f"({_placeholders(len(chunk))})",
            *chunk,
        )
        found.update((row[0], row[1]) for row in rows)
    return found


async def set_status(
    conn: Connection,
    unit_id: str,
    status: str,
    *,
    outcome: bytes | None,
    result: bytes | None,
    now: int,
    attempt: bool = True,
) -> None:
    """``attempt``: this status ends a mapping attempt (not a reset for replay)."""
    await conn.execute(_SET_STATUS, unit_id, status, outcome, result, now, int(attempt))


StatusRow = tuple[str, str, bytes | None, bytes | None, int, int]
"""(unit_id, status, outcome, result, now, attempt) for ``set_statuses``."""


def status_row(
    unit_id: str, status: str, *, outcome: bytes | None, result: bytes | None, now: int
) -> StatusRow:
    return (unit_id, status, outcome, result, now, 1)


async def set_statuses(conn: Connection, rows: Sequence[StatusRow]) -> None:
    """The new statuses of a chunk of units after a mapping attempt, in one statement."""
    await conn.executemany(_SET_STATUS, rows)


async def get_unit(conn: Connection, unit_id: str) -> LoggedUnit | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM ingest_unit WHERE unit_id = $1", unit_id)
    return _unit(row) if row is not None else None


async def get_units(conn: Connection, unit_ids: Sequence[str]) -> list[LoggedUnit]:
    """The units in log order (the order they arrived)."""
    out: list[LoggedUnit] = []
    for start in range(0, len(unit_ids), 500):
        chunk = list(unit_ids[start : start + 500])
        rows = await conn.fetch(
            f"SELECT {_COLUMNS} FROM ingest_unit WHERE unit_id IN ({_placeholders(len(chunk))})",
            *chunk,
        )
        out.extend(_unit(r) for r in rows)
    return sorted(out, key=lambda u: u.seq)


async def list_units(
    conn: Connection,
    *,
    status: str | None = None,
    centre: str | None = None,
    after_seq: int = 0,
    limit: int = 100,
) -> list[LoggedUnit]:
    """Units in arrival order, optionally of one status and centre (a quarantine listing)."""
    where = ["seq > $1"]
    args: list[object] = [after_seq]
    if status is not None:
        args.append(status)
        where.append(f"status = ${len(args)}")
    if centre is not None:
        args.append(centre)
        where.append(f"centre = ${len(args)}")
    args.append(limit)
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM ingest_unit WHERE {' AND '.join(where)} "
        f"ORDER BY seq LIMIT ${len(args)}",
        *args,
    )
    return [_unit(r) for r in rows]


async def status_counts(conn: Connection, centre: str | None = None) -> dict[str, int]:
    if centre is None:
        rows = await conn.fetch("SELECT status, COUNT(*) FROM ingest_unit GROUP BY status")
    else:
        rows = await conn.fetch(
            "SELECT status, COUNT(*) FROM ingest_unit WHERE centre = $1 GROUP BY status", centre
        )
    counts = dict.fromkeys(STATUSES, 0)
    counts.update((row[0], int(row[1])) for row in rows)
    return counts


async def get_watermark(conn: Connection, centre: str, res_type: str) -> str | None:
    row = await conn.fetchrow(
        "SELECT instant FROM ingest_watermark WHERE centre = $1 AND res_type = $2",
        centre,
        res_type,
    )
    return str(row[0]) if row is not None else None


async def set_watermark(conn: Connection, centre: str, res_type: str, instant: str) -> None:
    await conn.execute(
        "INSERT INTO ingest_watermark (centre, res_type, instant) VALUES ($1, $2, $3) "
        "ON CONFLICT (centre, res_type) DO UPDATE SET instant = excluded.instant",
        centre,
        res_type,
        instant,
    )


async def referencing(conn: Connection, target_type: str, target_id: str) -> list[tuple[str, str]]:
    """Resources whose search index holds a reference to ``target_type/target_id`` (merges)."""
    rows = await conn.fetch(
        "SELECT DISTINCT res_type, res_id FROM search_reference "
        "WHERE target_type = $1 AND target_id = $2",
        target_type,
        target_id,
    )
    return [(row[0], row[1]) for row in rows]
