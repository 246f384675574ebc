"""The index rows of a rewritten resource as a difference from its stored rows.

Rewriting a resource deletes all its index rows and inserts the new ones; for a resource that
changes a little each time (a pathway CarePlan gaining an activity) almost every row is
deleted and inserted again unchanged, and that index maintenance was most of the cost of a
derivation. Given the rows actually stored (read, under the resource's lock, with their row
ids), only the rows that went away are deleted and only the new ones inserted: the stored
rows end exactly as a full rewrite would leave them.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import orjson

from app.storage import writes_pg
from app.storage.index_rows import COLUMNS

Stored = dict[str, list[tuple[Any, tuple[Any, ...]]]]
"""One resource's stored index rows: table -> [(row id, values in ``COLUMNS`` order)]; the
row id is SQLite's rowid or PostgreSQL's ctid (as text)."""
Gone = dict[str, list[tuple[Any, str, str]]]
"""Rows to delete: table -> [(row id, res_type, res_id)]."""

_WIDTH = max(len(c) for c in COLUMNS.values())


@lru_cache(maxsize=64)
def read_sql(dialect: str, count: int) -> str:
    """Every index row of ``count`` resources of one type ($1, then the ids), in one
    statement. PostgreSQL returns each row's values as a JSON array (the tables' columns
    differ in number and type); SQLite, typeless, pads them with NULLs."""
    branches = []
    for table, columns in COLUMNS.items():
        if dialect == "postgresql":
            values = f"ctid::text, res_id, json_build_array({', '.join(columns)})::text"
            where = "res_id = p.id"
        else:
            pad = ", NULL" * (_WIDTH - len(columns))
            values = f"rowid, res_id, {', '.join(columns)}{pad}"
            where = f"res_id IN ({', '.join(f'${n}' for n in range(2, count + 2))})"
        branches.append(f"SELECT '{table}', {values} FROM {table} WHERE res_type = $1 AND {where}")
    if dialect == "postgresql":
        # one (res_type, res_id) seek per id: with ``= ANY`` and young statistics the
        # planner read every reference row of the type instead
        return (
            f"SELECT s.* FROM unnest({writes_pg.array(2, 'text')}) AS p(id) CROSS JOIN LATERAL ("
            + " UNION ALL ".join(branches)
            + ") s"
        )
    return " UNION ALL ".join(branches)


def parse(dialect: str, rows: Sequence[Sequence[Any]], ids: Sequence[str]) -> dict[str, Stored]:
    """The rows of ``read_sql`` by resource id (every id a key)."""
    out: dict[str, Stored] = {res_id: {} for res_id in ids}
    for row in rows:
        table, row_id, res_id = row[0], row[1], row[2]
        if dialect == "postgresql":
            values = tuple(orjson.loads(row[3]))
        else:
            values = tuple(row[3 : 3 + len(COLUMNS[table])])
        out[res_id].setdefault(table, []).append((row_id, values))
    return out


def _same(values: tuple[Any, ...]) -> tuple[tuple[type, ...], tuple[Any, ...]]:
    """Equal only when stored identically: same types (1, 1.0 and True are equal in Python)
    and floats bit for bit (0.0 == -0.0). A value read back differently (a JSON number, a
    boolean as 0/1) then counts as changed: a row rewritten, never a row wrongly kept."""
    types = tuple(map(type, values))
    if float in types:
        return types, tuple(v.hex() if isinstance(v, float) else v for v in values)
    return types, values


def diff(
    res_type: str, res_id: str, stored: Stored, new: dict[str, list[tuple[Any, ...]]]
) -> tuple[Gone, dict[str, list[tuple[Any, ...]]]]:
    """(stored rows to delete, new rows to insert) turning ``stored`` into ``new``: a stored
    row is kept once per equal new row (rows may repeat)."""
    gone: Gone = {}
    fresh: dict[str, list[tuple[Any, ...]]] = {}
    for table in COLUMNS:
        old_rows, new_rows = stored.get(table, ()), new.get(table, ())
        if not old_rows:
            if new_rows:
                fresh[table] = list(new_rows)
            continue
        new_keys = [_same(values) for values in new_rows]
        wanted: dict[tuple[tuple[type, ...], tuple[Any, ...]], int] = {}
        for key in new_keys:
            wanted[key] = wanted.get(key, 0) + 1
        for row_id, values in old_rows:
            key = _same(values)
            if wanted.get(key, 0) > 0:
                wanted[key] -= 1
            else:
                gone.setdefault(table, []).append((row_id, res_type, res_id))
        for values, key in zip(new_rows, new_keys, strict=True):
            if wanted.get(key, 0) > 0:  # the rows no stored row matched
                wanted[key] -= 1
                fresh.setdefault(table, []).append(values)
    return gone, fresh
