"""Turn a SearchRequest into SQL over the resource and index tables, and run it.

Bound parameters only: no request text is ever spliced into SQL. Results are keyset-paged on
(res_type, res_id), which stays correct while writes happen (no offsets, no result cache).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.search.request import Clause, DateValue, SearchRequest, TokenValue
from app.storage.database import Connection


@dataclass(frozen=True, slots=True)
class Match:
    res_type: str
    res_id: str
    content: bytes


@dataclass(frozen=True, slots=True)
class SearchPage:
    matches: list[Match]
    next_cursor: str | None
    total: int | None


class _Sql:
    def __init__(self) -> None:
        self.where: list[str] = []
        self.args: list[Any] = []

    def arg(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"


def _date_condition(sql: _Sql, value: DateValue, column: str) -> str:
    # Bind only the bounds a prefix uses: PostgreSQL cannot type an unused parameter.
    match value.prefix:
        case "eq":
            return f"({column} >= {sql.arg(value.low)} AND {column} <= {sql.arg(value.high)})"
        case "ne":
            return f"({column} < {sql.arg(value.low)} OR {column} > {sql.arg(value.high)})"
        case "gt" | "sa":
            return f"{column} > {sql.arg(value.high)}"
        case "lt" | "eb":
            return f"{column} < {sql.arg(value.low)}"
        case "ge":
            return f"{column} >= {sql.arg(value.low)}"
        case "le":
            return f"{column} <= {sql.arg(value.high)}"
        case _:  # ap: within 10% of the range's width either side, at least a day
            width = max((value.high - value.low) // 10, 86_400_000_000)
            low, high = sql.arg(value.low - width), sql.arg(value.high + width)
            return f"({column} >= {low} AND {column} <= {high})"


def _token_condition(sql: _Sql, value: TokenValue) -> str:
    parts = []
    if value.code is not None:
        parts.append(f"t.code = {sql.arg(value.code)}")
    if not value.any_system:
        parts.append(f"t.system = {sql.arg(value.system)}" if value.system else "t.system IS NULL")
    return "(" + " AND ".join(parts or ["1 = 1"]) + ")"


def _index_subquery(sql: _Sql, table: str, param: str, types: tuple[str, ...]) -> str:
    """Rows of one index table for one parameter, as a non-correlated IN subquery.

    Non-correlated on purpose: SQLite runs a correlated EXISTS once per resource row (a scan),
    while ``IN (SELECT ...)`` is evaluated once through the (res_type, param, value) index.
    """
    scope = (
        f"t.res_type = {sql.arg(types[0])}"
        if len(types) == 1
        else "t.res_type IN (" + ", ".join(sql.arg(t) for t in types) + ")"
        if types
        else "1 = 1"
    )
    return (
        f"(r.res_type, r.res_id) IN (SELECT t.res_type, t.res_id FROM {table} t "
        f"WHERE {scope} AND t.param = {sql.arg(param)}"
    )


def _clause(sql: _Sql, clause: Clause, types: tuple[str, ...]) -> str:
    if clause.param == "_id":
        ids = [v.code for v in clause.values if isinstance(v, TokenValue)]
        return "r.res_id IN (" + ", ".join(sql.arg(i) for i in ids) + ")"
    if clause.param == "_lastUpdated":
        conds = [
            _date_condition(sql, v, "r.last_updated")
            for v in clause.values
            if isinstance(v, DateValue)
        ]
        return "(" + " OR ".join(conds) + ")"
    subquery = _index_subquery(sql, "search_token", clause.param, types)
    if clause.modifier == "missing":
        return f"NOT {subquery})" if clause.values[0] else f"{subquery})"
    conds = [_token_condition(sql, v) for v in clause.values if isinstance(v, TokenValue)]
    return f"{subquery} AND ({' OR '.join(conds)}))"


def _build(request: SearchRequest, types: tuple[str, ...]) -> _Sql:
    sql = _Sql()
    sql.where.append("NOT r.deleted")
    if types:
        sql.where.append("r.res_type IN (" + ", ".join(sql.arg(t) for t in types) + ")")
    for clause in request.clauses:
        sql.where.append(_clause(sql, clause, types))
    return sql


def _types(request: SearchRequest) -> tuple[str, ...]:
    return (request.res_type,) if request.res_type else request.types


async def count(conn: Connection, request: SearchRequest) -> int:
    sql = _build(request, _types(request))
    row = await conn.fetchrow(
        f"SELECT COUNT(*) FROM resource r WHERE {' AND '.join(sql.where)}", *sql.args
    )
    return int(row[0]) if row else 0


async def search(conn: Connection, request: SearchRequest) -> SearchPage:
    if request.count == 0:  # _count=0 asks for the total only (R4 search.html#count)
        return SearchPage([], None, await count(conn, request))
    sql = _build(request, _types(request))
    if request.cursor:
        cursor_type, _, cursor_id = request.cursor.rpartition("/")
        sql.where.append(
            f"(r.res_type > {sql.arg(cursor_type)} OR "
            f"(r.res_type = {sql.arg(cursor_type)} AND r.res_id > {sql.arg(cursor_id)}))"
        )
    limit = sql.arg(request.count + 1)
    rows = await conn.fetch(
        "SELECT r.res_type, r.res_id, r.content FROM resource r "
        f"WHERE {' AND '.join(sql.where)} ORDER BY r.res_type, r.res_id LIMIT {limit}",
        *sql.args,
    )
    more = len(rows) > request.count
    rows = rows[: request.count]
    matches = [Match(r[0], r[1], bytes(r[2])) for r in rows]
    next_cursor = f"{rows[-1][0]}/{rows[-1][1]}" if more and rows else None
    total: int | None = None
    if request.total in ("accurate", "estimate") and (more or request.cursor):
        total = await count(conn, request)
    elif not more and not request.cursor:
        total = len(matches)
    return SearchPage(matches, next_cursor, total)


async def find_ids(conn: Connection, request: SearchRequest, limit: int = 2) -> list[str]:
    """Ids matching a conditional interaction's criteria (at most ``limit``)."""
    request.count = limit
    request.cursor = None
    page = await search(conn, request)
    return [m.res_id for m in page.matches]
