"""The ``pathway_episode`` table: one flat row per derived episode, the metrics' input.

Written in the same transaction as the episode's CarePlan, so the rows and the CarePlans never
disagree; read back as ``Episode`` facts (without activities) for the metrics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from app.pathway.model import Episode
from app.storage.database import Connection

_SKIP = {"activities"}
COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(Episode) if f.name not in _SKIP)
_INSERT = (
    f"INSERT INTO pathway_episode ({', '.join(COLUMNS)}) "
    f"VALUES ({', '.join(f'${n}' for n in range(1, len(COLUMNS) + 1))})"
)
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM pathway_episode"
_PATIENT, _CAREPLAN = COLUMNS.index("patient_id"), COLUMNS.index("careplan_id")

Stored = dict[str, dict[str, tuple[Any, ...]]]
"""Stored rows: patient id -> careplan id -> row (values in ``COLUMNS`` order)."""


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


async def replace(conn: Connection, patient_ids: Sequence[str], episodes: list[Episode]) -> None:
    """The episodes of these patients are now exactly ``episodes``."""
    for start in range(0, len(patient_ids), 500):
        chunk = list(patient_ids[start : start + 500])
        marks = ", ".join(f"${n}" for n in range(1, len(chunk) + 1))
        await conn.execute(f"DELETE FROM pathway_episode WHERE patient_id IN ({marks})", *chunk)
    if episodes:
        await conn.executemany(_INSERT, [_row(e) for e in episodes])


async def stored(conn: Connection, patient_ids: Sequence[str]) -> Stored:
    """The stored rows of these patients (each of them a key, with or without rows)."""
    out: Stored = {pid: {} for pid in patient_ids}
    for start in range(0, len(patient_ids), 500):
        chunk = list(patient_ids[start : start + 500])
        marks = ", ".join(f"${n}" for n in range(1, len(chunk) + 1))
        for row in await conn.fetch(f"{_SELECT} WHERE patient_id IN ({marks})", *chunk):
            values = tuple(row)
            out.setdefault(values[_PATIENT], {})[values[_CAREPLAN]] = values
    return out


def unchanged(episodes: list[Episode], rows: dict[str, tuple[Any, ...]]) -> bool:
    """Whether ``rows`` (one patient's, from ``stored``) are already exactly these episodes:
    a rebuild of unchanged data then rewrites no row (SQLite reads back a boolean as 0/1,
    which compares equal)."""
    return len(episodes) == len(rows) and all(rows.get(e.careplan_id) == _row(e) for e in episodes)


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
