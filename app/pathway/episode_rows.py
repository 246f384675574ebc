"""The ``pathway_episode`` table: one flat row per derived episode, the metrics' input.

Written in the same transaction as the episode's CarePlan, so the rows and the CarePlans never
disagree; read back as ``Episode`` facts (without activities) for the metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

import orjson

from app.pathway.model import Episode
from app.storage.database import Connection

_SKIP = {"activities"}
COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Episode) if f.name not in _SKIP)
_INSERT = (
    f"INSERT INTO pathway_episode ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join(f'${n}' for n in range(1, len(COLUMNS) + 1))})"
)
_UPSERT = (
    _INSERT
    + " ON CONFLICT (careplan_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "careplan_id")
)
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM pathway_episode"
CAREPLAN = COLUMNS.index("careplan_id")
"""Where a row holds its CarePlan id."""


def _row(episode: Episode) -> tuple[Any, ...]:
    values = []
    for name in COLUMNS:
        value = getattr(episode, name)
        values.append(" ".join(value) if name == "centres" else value)
    return tuple(values)


def _episode(row: Sequence[Any]) -> Episode:
    values = dict(zip(COLUMNS, row, strict=True))
    values["centres"] = tuple((values["centres"] or "").split())
    if values["repair"] is not None:
        values["repair"] = bool(values["repair"])
    return Episode(**values)


async def _delete(conn: Connection, column: str, values: Sequence[str]) -> None:
    """The rows whose ``column`` is one of ``values``, 500 values a statement."""
    for start in range(0, len(values), 500):
        chunk = list(values[start : start + 500])
        marks = ", ".join(f"${n}" for n in range(1, len(chunk) + 1))
        await conn.execute(f"DELETE FROM pathway_episode WHERE {column} IN ({marks})", *chunk)


async def replace(conn: Connection, patient_ids: Sequence[str], episodes: list[Episode]) -> None:
    """The episodes of these patients are now exactly ``episodes``."""
    await _delete(conn, "patient_id", patient_ids)
    if episodes:
        await conn.executemany(_INSERT, [_row(e) for e in episodes])


async def write(
    conn: Connection, patients: Sequence[tuple[list[Episode], dict[str, tuple[Any, ...]]]]
) -> None:
    """Each patient's episodes (with its stored rows, ``stored_row``) made the stored rows:
    only the rows that differ are written, a row per changed episode (an upsert) and a delete
    of the episodes that are gone, so a derivation that changed one episode costs a statement,
    and an unchanged one none. The rows end as ``replace`` would leave them."""
    upserts: list[tuple[Any, ...]] = []
    gone: list[str] = []
    for episodes, rows in patients:
        keep = set()
        for episode in episodes:
            row = _row(episode)
            keep.add(episode.careplan_id)
            if rows.get(episode.careplan_id) != row:
                upserts.append(row)
        gone.extend(careplan_id for careplan_id in rows if careplan_id not in keep)
    await _delete(conn, "careplan_id", gone)
    if upserts:
        await conn.executemany(_UPSERT, upserts)


AS_JSON = {
    "sqlite": f"CAST(json_array({', '.join(COLUMNS)}) AS BLOB)",
    "postgresql": f"convert_to(json_build_array({', '.join(COLUMNS)})::text, 'UTF8')",
}
"""A stored row as the bytes of a JSON array (``COLUMNS`` order): how the derivation reads
a batch's rows in the statement that loads its resources (``stored_row`` reads it back)."""


def stored_row(row_json: bytes) -> tuple[Any, ...]:
    """A row of ``AS_JSON`` as ``_row`` gives it (SQLite's booleans stay 0/1, equal to them)."""
    return tuple(orjson.loads(row_json))


async def of_patient(conn: Connection, patient_id: str) -> list[Episode]:
    rows = await conn.fetch(f"{_SELECT} WHERE patient_id = $1 ORDER BY number", patient_id)
    return [_episode(r) for r in rows]


async def load(conn: Connection, *, until: str | None = None) -> list[Episode]:
    """Every episode referred on or before ``until`` (ISO date), or every episode: a metric
    over a period needs the episodes that started before it too (waits, open pathways)."""
    if until is None:
        rows = await conn.fetch(_SELECT)
    else:
        rows = await conn.fetch(f"{_SELECT} WHERE referred <= $1", until)
    return [_episode(r) for r in rows]


async def count(conn: Connection) -> int:
    row = await conn.fetchrow("SELECT COUNT(*) FROM pathway_episode")
    return int(row[0]) if row else 0
