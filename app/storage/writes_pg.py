"""PostgreSQL: a small flush of a write transaction as one statement.

``WriteTx.flush`` otherwise sends one statement per table (index rows deleted per table,
a COPY per insert, itself two round trips): a REST write or a pathway derivation paid about
twenty round trips for a few rows. Here every part is a sub-statement of one ``WITH``, each
column one array parameter; all of them see the snapshot taken before any of them, so the
deletes of a resource's old index rows cannot remove the new rows inserted beside them.
"""

from __future__ import annotations

from functools import lru_cache

from app.storage.index_rows import COLUMNS

ONE_STATEMENT_ROWS = 1000
"""Up to this many version and index rows a flush is one statement (more go by COPY)."""
RESOURCE_COLUMNS = (
    "res_type",
    "res_id",
    "version_id",
    "last_updated",
    "deleted",
    "content",
    "centre",
)
VERSION_COLUMNS = (
    "res_type",
    "res_id",
    "version_id",
    "last_updated",
    "method",
    "deleted",
    "content",
)
ON_CONFLICT = (
    " ON CONFLICT (res_type, res_id) DO UPDATE SET version_id = excluded.version_id, "
    "last_updated = excluded.last_updated, deleted = excluded.deleted, "
    "content = excluded.content, centre = excluded.centre"
)
TYPES: dict[str, tuple[str, ...]] = {
    "resource": ("text", "text", "int4", "int8", "bool", "bytea", "text"),
    "resource_version": ("text", "text", "int4", "int8", "text", "bool", "bytea"),
    "search_token": ("text", "text", "text", "int4", "text", "text", "text"),
    "search_string": ("text", "text", "text", "int4", "text", "text"),
    "search_reference": ("text",) * 3 + ("int4",) + ("text",) * 6,
    "search_date": ("text", "text", "text", "int4", "int8", "int8", "int8"),
    "search_number": ("text", "text", "text", "int4", "float8", "float8", "float8"),
    "search_quantity": ("text", "text", "text", "int4") + ("float8",) * 3 + ("text",) * 3,
    "search_uri": ("text", "text", "text", "int4", "text"),
}
"""Column types of the tables a flush writes, in insert column order (the unnested arrays
must be typed; tests/storage check them against the schema)."""


def array(n: int, element: str) -> str:
    """Parameter ``$n`` as an array of ``element``, hidden from the planner in a subquery.

    PostgreSQL plans a prepared statement afresh at each run while that custom plan, which
    sees how long the arrays are, looks cheaper than the generic one (which assumes ten
    elements): with arrays of two or three it always does, and planning a statement of a
    dozen sub-statements cost more than running it (0.5 ms against 0.25 ms for the read of a
    few CarePlans' index rows). Hidden, both plans assume the same, and after five runs the
    generic plan is kept."""
    return f"(SELECT ${n}::{element}[])"


@lru_cache(maxsize=256)
def statement(parts: tuple[str, ...]) -> str:
    """The statement writing ``parts``, in order, each a run of array parameters:
    ``stale`` (res_type, res_id: every index row of these resources deleted), ``gone:T``
    (ctid, res_type, res_id: these rows of index table T deleted), ``new`` (resource rows
    inserted), ``current`` (resource rows upserted), ``resource_version``, or an index table
    (its rows inserted)."""
    ctes: list[str] = []
    n = 0

    def arrays(types: tuple[str, ...]) -> str:
        nonlocal n
        marks = ", ".join(array(n + k + 1, t) for k, t in enumerate(types))
        n += len(types)
        return marks

    for name in parts:
        if name == "stale":
            ctes.append(f"k AS (SELECT * FROM unnest({arrays(('text', 'text'))}) AS k(t, i))")
            ctes.extend(
                f"d_{table} AS (DELETE FROM {table} x USING k "
                "WHERE x.res_type = k.t AND x.res_id = k.i)"
                for table in COLUMNS
            )
        elif name.startswith("gone:"):
            table = name.removeprefix("gone:")
            ctes.append(
                f"g_{table} AS (DELETE FROM {table} x USING unnest("
                f"{arrays(('text', 'text', 'text'))}) AS g(r, t, i) "
                "WHERE x.ctid = g.r::tid AND x.res_type = g.t AND x.res_id = g.i)"
            )
        elif name in ("new", "current"):
            insert = (
                f"INSERT INTO resource ({', '.join(RESOURCE_COLUMNS)}) "
                f"SELECT * FROM unnest({arrays(TYPES['resource'])})"
            )
            ctes.append(f"w_{name} AS ({insert}{ON_CONFLICT if name == 'current' else ''})")
        elif name == "resource_version":
            columns = ", ".join(VERSION_COLUMNS)
            # seq follows the rows' order, as with COPY: history pages by it
            ctes.append(
                f"w_version AS (INSERT INTO resource_version ({columns}) SELECT {columns} "
                f"FROM unnest({arrays(TYPES[name])}) WITH ORDINALITY AS v({columns}, n) "
                "ORDER BY n)"
            )
        else:
            columns = ", ".join(("res_type", "res_id", *COLUMNS[name]))
            ctes.append(
                f"i_{name} AS (INSERT INTO {name} ({columns}) "
                f"SELECT * FROM unnest({arrays(TYPES[name])}))"
            )
    return "WITH " + ", ".join(ctes) + " SELECT 1"
