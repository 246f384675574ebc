"""Turn a SearchRequest into SQL over the resource and index tables, and run it.

Bound parameters only: no request text is ever spliced into SQL. Results are keyset-paged on
(res_type, res_id), or on the ``_sort`` keys then (res_type, res_id), which stays correct
while writes happen (no offsets, no result cache).

Each clause becomes ``(r.res_type, r.res_id) [NOT] IN (SELECT ...)``: the leaf's matching
index rows (app/search/query_leaf.py) wrapped in one reference hop per chain link
(app/search/chain.py). Every subquery is non-correlated, so SQLite evaluates it once.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import orjson

from app.search.chain import composite_kinds, hop
from app.search.compartments import Compartment
from app.search.criteria import CompositeValue, DateValue, TokenValue
from app.search.date_bounds import bounded_select
from app.search.parameters import component_param, parameters_for
from app.search.query_leaf import TABLES, Binder, composite_select, date_condition, row_condition
from app.search.request import Clause, SearchRequest
from app.search.sort import after_cursor, decode_cursor, encode_cursor, order_by, sort_column
from app.storage.database import Connection, PgConnection

RESOURCE_LEVEL = frozenset({"_id", "_lastUpdated"})
_LIVE = "NOT r.deleted"


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
    prev_cursor: str | None = None


class _Sql(Binder):
    def __init__(self, dialect: str) -> None:
        super().__init__()
        self.dialect = dialect
        self.where: list[str] = []
        self.sets: dict[int, str] = {}
        """Positive ``IN`` conditions on ids of live resources: position in ``where`` -> the
        id set's SELECT (a reverse chain's ids are targets, which may not exist: not here)."""
        self.uses_resource = False
        """A condition reads a column of ``resource`` other than the key (``_lastUpdated``)."""
        self.unique: set[int] = set()
        """Positions in ``sets`` whose SELECT yields each resource at most once."""

    @property
    def subqueries(self) -> int:
        """Id-set conditions: with two or more, the best plan depends on the values."""
        return sum(1 for w in self.where if " IN (SELECT " in w)

    def fetcher(self, conn: Connection, joins: int = 0) -> Any:
        """``conn.fetch``, or ``fetch_planned`` once the statement joins two or more sets."""
        return conn.fetch_planned if self.subqueries + joins >= 2 else conn.fetch

    def member_of(self, select: str, *, live: bool = True, unique: bool = False) -> None:
        if live:
            if unique:
                self.unique.add(len(self.where))
            self.sets[len(self.where)] = select
        self.where.append(f"(r.res_type, r.res_id) IN ({select})")


def _resource_level(b: Binder, clause: Clause, alias: str) -> str:
    """``_id`` / ``_lastUpdated``: answered from the resource table itself."""
    if clause.modifier == "missing":  # every resource has both
        return "1 = 0" if clause.values[0] else "1 = 1"
    if clause.param == "_id":
        ids = [v.code for v in clause.values if isinstance(v, TokenValue)]
        return f"{alias}.res_id IN (" + ", ".join(b.arg(i) for i in ids) + ")"
    col = f"{alias}.last_updated"
    conds = [date_condition(b, v, col, col) for v in clause.values if isinstance(v, DateValue)]
    return "(" + " OR ".join(conds) + ")"


def _leaf_select(b: Binder, clause: Clause) -> tuple[str, bool]:
    """The (res_type, res_id) pairs of ``clause.types`` matching the leaf, and whether the
    clause asks for the resources *not* in that set (``:missing=true``, ``:not``)."""
    types = clause.types
    if clause.param in RESOURCE_LEVEL:
        cond = _resource_level(b, clause, "x")
        return (
            f"SELECT x.res_type, x.res_id FROM resource x WHERE {b.scope('x', types)} "
            f"AND NOT x.deleted AND {cond}",
            False,
        )
    kinds = composite_kinds(clause)
    table = TABLES[kinds[0] if kinds else clause.type]
    param = f"{clause.param}:of-type" if clause.modifier == "of-type" else clause.param
    if kinds:  # :missing on a composite: look for its first component's rows
        param = component_param(clause.param, 0)
    if kinds and clause.modifier != "missing":
        selects = [
            composite_select(b, clause.param, kinds, v, types)
            for v in clause.values
            if isinstance(v, CompositeValue)
        ]
        return " UNION ".join(selects), False
    rows = (
        f"SELECT t.res_type, t.res_id FROM {table} t "
        f"WHERE {b.scope('t', types)} AND t.param = {b.arg(param)}"
    )
    if clause.modifier == "missing":
        return rows, bool(clause.values[0])
    conds = [row_condition(b, clause.type, clause.modifier, v) for v in clause.values]
    # no values: an :in whose value set is empty matches nothing (its :not-in, everything)
    return f"{rows} AND ({' OR '.join(conds) or '1 = 0'})", clause.modifier == "not"


def _clause(b: _Sql, clause: Clause) -> None:
    if clause.param in RESOURCE_LEVEL and not clause.chain:
        b.uses_resource |= clause.param == "_lastUpdated"
        b.where.append(_resource_level(b, clause, "r"))
        return
    select, negate = _leaf_select(b, clause)
    if negate and clause.chain:  # negate among the leaf's own types, then follow the chain
        select = (
            f"SELECT x.res_type, x.res_id FROM resource x WHERE {b.scope('x', clause.types)} "
            f"AND NOT x.deleted AND (x.res_type, x.res_id) NOT IN ({select})"
        )
        negate = False
    for link in reversed(clause.chain):
        select = hop(b, link, select)
    if negate:
        b.where.append(f"NOT (r.res_type, r.res_id) IN ({select})")
    else:
        b.member_of(select, live=not clause.chain or clause.chain[0].forward)


def _singular(param: str, types: tuple[str, ...]) -> bool:
    found = [parameters_for(t).get(param) for t in types]
    return bool(found) and all(p is not None and p.singular for p in found)


def _date_ranges(b: _Sql, clauses: list[Clause]) -> tuple[list[tuple[str, bool]], list[Clause]]:
    """Plain one-value date clauses as index ranges (app/search/date_bounds.py), as id-set
    SELECTs, each with whether it yields a resource at most once; the clauses ANDed on one
    singular parameter as one range, since one row must meet them all (and it is unique:
    such a parameter has at most one row per resource)."""
    groups: dict[tuple[str, tuple[str, ...]], list[Clause]] = {}
    rest: list[Clause] = []
    for c in clauses:
        plain = c.type == "date" and not c.chain and c.modifier is None and len(c.values) == 1
        if plain and c.param not in RESOURCE_LEVEL and isinstance(c.values[0], DateValue):
            groups.setdefault((c.param, c.types), []).append(c)
        else:
            rest.append(c)
    conds: list[tuple[str, bool]] = []
    for (param, types), group in groups.items():
        singular = _singular(param, types)
        parts = [group] if singular else [[c] for c in group]
        for part in parts:
            values = [c.values[0] for c in part if isinstance(c.values[0], DateValue)]
            select = bounded_select(b, param, types, values, sqlite=b.dialect == "sqlite")
            if select is None:
                rest.extend(part)
            else:
                conds.append((select, singular))
    return conds, rest


def _build(request: SearchRequest, types: tuple[str, ...], dialect: str) -> _Sql:
    sql = _Sql(dialect)
    sql.where.append(_LIVE)
    if types:
        sql.where.append("r.res_type IN (" + ", ".join(sql.arg(t) for t in types) + ")")
    ranges, clauses = _date_ranges(sql, request.clauses)
    for select, unique in ranges:
        sql.member_of(select, unique=unique)
    for clause in clauses:
        _clause(sql, clause)
    if request.compartment:
        sql.member_of(_compartment(sql, request.compartment, types))
    return sql


def _compartment(b: Binder, compartment: Compartment, types: tuple[str, ...]) -> str:
    """Resources referencing the compartment's owner through any compartment parameter."""
    params = ", ".join(b.arg(p) for p in compartment.params)
    return (
        "SELECT t.res_type, t.res_id FROM search_reference t "
        f"WHERE {b.scope('t', types)} AND t.param IN ({params}) "
        f"AND t.target_type = {b.arg(compartment.code)} "
        f"AND t.target_id = {b.arg(compartment.res_id)}"
    )


def _types(request: SearchRequest) -> tuple[str, ...]:
    return (request.res_type,) if request.res_type else request.types


async def count(conn: Connection, request: SearchRequest) -> int:
    sql = _build(request, _types(request), conn.dialect)
    query = f"SELECT COUNT(*) FROM resource r WHERE {' AND '.join(sql.where)}"
    rows = await sql.fetcher(conn)(query, *sql.args)
    return int(rows[0][0]) if rows else 0


async def estimate(conn: Connection, request: SearchRequest) -> int:
    """``_total=estimate``: PostgreSQL's planner estimate (no rows are counted); SQLite keeps
    no statistics to estimate from, so it counts."""
    if not isinstance(conn, PgConnection):
        return await count(conn, request)
    sql = _build(request, _types(request), conn.dialect)
    row = await conn.fetchrow(
        f"EXPLAIN (FORMAT JSON) SELECT 1 FROM resource r WHERE {' AND '.join(sql.where)}",
        *sql.args,
    )
    if row is None:
        return 0
    plan: Any = orjson.loads(row[0]) if isinstance(row[0], str) else row[0]
    try:
        return int(plan[0]["Plan"]["Plan Rows"])
    except (TypeError, KeyError, IndexError, ValueError):
        return await count(conn, request)


_BACKWARD = "~"
"""Prefix of a ``_cursor`` that pages backwards (the ``previous`` link)."""


@dataclass(frozen=True, slots=True)
class _Window:
    """One page of rows in display order, and the cursors either side of it."""

    rows: list[Any]
    next_cursor: str | None
    prev_cursor: str | None
    more: bool


def _window(request: SearchRequest, rows: list[Any], key_of: Any, backward: bool) -> _Window:
    """Trim the LIMIT n+1 probe row, restore display order, and place the cursors.

    Walking forwards, ``more`` means a next page exists and a cursor means we came from a
    previous one; walking backwards it is the other way round.
    """
    more = len(rows) > request.count
    rows = rows[: request.count]
    if backward:
        rows.reverse()
    if not rows:
        return _Window(rows, None, None, more)
    has_next = more if not backward else True
    has_prev = (more if backward else request.cursor is not None) and request.count > 0
    return _Window(
        rows,
        key_of(rows[-1]) if has_next else None,
        _BACKWARD + key_of(rows[0]) if has_prev else None,
        more,
    )


def _requires_value(clause: Clause, param: str) -> bool:
    """A plain clause on ``param``: only resources with a value of it can match."""
    return clause.param == param and not clause.chain and clause.modifier is None


def _lead_by_index(request: SearchRequest, types: tuple[str, ...]) -> bool:
    """Whether the page can be read from the first ``_sort`` key's index in key order: a
    date parameter with one value (so one row) per resource."""
    lead = request.sort[0]
    return lead.type == "date" and lead.param not in RESOURCE_LEVEL and _singular(lead.param, types)


async def _sorted_rows(
    conn: Connection,
    request: SearchRequest,
    values: list[Any] | None,
    *,
    backward: bool,
    segment: str,
    limit: int,
) -> list[Any]:
    """Up to ``limit`` rows after the cursor ``values`` in ``_sort`` order, from one segment.

    ``all``: every match, each key a per-row subquery (any sort). With a singular date lead
    key the order splits in two: ``valued`` reads the lead key's index rows in key order,
    joined to their resources (the index walk stops after one page), and ``missing`` is the
    matches without a value, which sort after every value.
    """
    keys = request.sort
    types = _types(request)
    lead = keys[0]
    clauses = request.clauses
    if segment == "valued":  # clauses on the lead parameter hold on its one row, k0
        clauses = [c for c in clauses if not _requires_value(c, lead.param)]
    sql = _build(replace(request, clauses=clauses), types, conn.dialect)
    collate = ' COLLATE "C"' if isinstance(conn, PgConnection) else ""
    columns = [
        f"{sort_column(sql, k)} AS s{i}" for i, k in enumerate(keys) if i or segment == "all"
    ]
    source = "resource r"
    if segment == "valued":
        columns.insert(0, "k0.low AS s0")
        source += (
            " JOIN search_date k0 ON k0.res_type = r.res_type AND k0.res_id = r.res_id "
            f"AND k0.param = {sql.arg(lead.param)} AND {sql.scope('k0', types)}"
        )
        for c in request.clauses:
            if _requires_value(c, lead.param):
                conds = [row_condition(sql, c.type, None, v, "k0") for v in c.values]
                sql.where.append("(" + " OR ".join(conds) + ")")
        if values is not None and values[0] is not None:  # start the index walk there
            op = "<=" if lead.descending != backward else ">="
            sql.where.append(f"k0.low {op} {sql.arg(values[0])}")
    elif segment == "missing":
        columns.insert(0, "CAST(NULL AS BIGINT) AS s0")
        sql.where.append(
            "(r.res_type, r.res_id) NOT IN (SELECT t.res_type, t.res_id FROM search_date t "
            f"WHERE {sql.scope('t', types)} AND t.param = {sql.arg(lead.param)})"
        )
    after = "1 = 1"
    if values is not None:
        after = after_cursor(sql, keys, values, collate, reverse=backward)
    order = order_by(keys, collate, reverse=backward, lead_in_index=segment == "valued")
    rows = await sql.fetcher(conn, joins=segment != "all")(
        f"SELECT q.* FROM (SELECT r.res_type, r.res_id, r.content, {', '.join(columns)} "
        f"FROM {source} WHERE {' AND '.join(sql.where)}) q WHERE {after} "
        f"ORDER BY {order} LIMIT {sql.arg(limit)}",
        *sql.args,
    )
    return list(rows)


async def _sorted(
    conn: Connection, request: SearchRequest, cursor: str | None, backward: bool
) -> _Window:
    """One page in ``_sort`` order (see app/search/sort.py); backwards for ``previous``."""
    keys = request.sort
    values = decode_cursor(cursor, len(keys) + 2) if cursor else None
    segments = ["all"]
    if _lead_by_index(request, _types(request)):
        segments = ["valued"]
        if not any(_requires_value(c, keys[0].param) for c in request.clauses):
            segments.append("missing")
        if values is not None and (values[0] is None) != backward:
            # Forwards from a missing value, no value comes after; backwards from a value,
            # no missing one comes before it.
            segments = segments[1:] if values[0] is None else segments[:1]
        if backward:
            segments.reverse()
    rows: list[Any] = []
    for segment in segments:
        want = request.count + 1 - len(rows)
        if want > 0:
            rows += await _sorted_rows(
                conn, request, values, backward=backward, segment=segment, limit=want
            )

    def key_of(row: Any) -> str:
        return encode_cursor([*(row[3 + i] for i in range(len(keys))), row[0], row[1]])

    return _window(request, rows, key_of, backward)


def _ids_first(sql: _Sql, order: str, limit: str) -> str:
    """The page's ids from the index tables alone, then only those resources fetched.

    Index rows exist for live resources only, so when no condition reads ``resource`` the
    first id set can be the source (aliased ``r``, as every condition expects) and the others
    filter it; the page is cut before any resource row is read. Otherwise the planner tends
    to fetch every candidate resource, then sort, then keep one page (178 ms at 1M for a
    token AND token search whose ids alone take a few ms).
    """
    first = min(sql.sets)
    distinct = "" if first in sql.unique else "DISTINCT "
    where = [
        _probe(sql.sets[i]) if i in sql.sets and sql.dialect == "sqlite" else w
        for i, w in enumerate(sql.where)
        if i != first and w != _LIVE
    ]
    return (
        f"SELECT x.res_type, x.res_id, x.content FROM (SELECT {distinct}r.res_type, r.res_id "
        f"FROM ({sql.sets[first]}) r WHERE {' AND '.join(where) or '1 = 1'} "
        f"ORDER BY {order} LIMIT {limit}) ids "
        "JOIN resource x ON x.res_type = ids.res_type AND x.res_id = ids.res_id "
        f"ORDER BY {order.replace('r.', 'x.')}"
    )


def _probe(select: str) -> str:
    """SQLite: another id set as a probe per candidate (its index holds res_id), not ``IN``,
    which SQLite materializes whole and then drives from (all 60,000 ``status=active``
    rows at 1M, to keep 51 of one code's ids: 70 ms instead of 1 ms). PostgreSQL plans
    ``IN`` as a semi-join and picks merge, hash or probe itself."""
    return (
        f"EXISTS (SELECT 1 FROM ({select}) s WHERE s.res_type = r.res_type AND s.res_id = r.res_id)"
    )


async def _unsorted(
    conn: Connection, request: SearchRequest, cursor: str | None, backward: bool
) -> _Window:
    sql = _build(request, _types(request), conn.dialect)
    if cursor:
        cursor_type, _, cursor_id = cursor.rpartition("/")
        op = "<" if backward else ">"
        sql.where.append(
            f"(r.res_type {op} {sql.arg(cursor_type)} OR "
            f"(r.res_type = {sql.arg(cursor_type)} AND r.res_id {op} {sql.arg(cursor_id)}))"
        )
    order = "r.res_type DESC, r.res_id DESC" if backward else "r.res_type, r.res_id"
    limit = sql.arg(request.count + 1)
    query = (
        "SELECT r.res_type, r.res_id, r.content FROM resource r "
        f"WHERE {' AND '.join(sql.where)} ORDER BY {order} LIMIT {limit}"
    )
    if sql.sets and not sql.uses_resource:
        query = _ids_first(sql, order, limit)
    rows = await sql.fetcher(conn)(query, *sql.args)
    return _window(request, list(rows), lambda row: f"{row[0]}/{row[1]}", backward)


async def search(conn: Connection, request: SearchRequest) -> SearchPage:
    if request.count == 0:  # _count=0 asks for the total only (R4 search.html#count)
        return SearchPage([], None, await count(conn, request))
    cursor = request.cursor
    backward = bool(cursor and cursor.startswith(_BACKWARD))
    if cursor and backward:
        cursor = cursor[len(_BACKWARD) :]
    page = (
        await _sorted(conn, request, cursor, backward)
        if request.sort
        else await _unsorted(conn, request, cursor, backward)
    )
    matches = [Match(r[0], r[1], bytes(r[2])) for r in page.rows]
    total: int | None = None
    if request.total == "estimate" and (page.more or request.cursor):
        total = max(await estimate(conn, request), len(matches) + page.more)
    elif request.total == "accurate" and (page.more or request.cursor):
        total = await count(conn, request)
    elif not page.more and not request.cursor:
        total = len(matches)
    return SearchPage(matches, page.next_cursor, total, page.prev_cursor)


async def find_ids(conn: Connection, request: SearchRequest, limit: int = 2) -> list[str]:
    """Ids matching a conditional interaction's criteria (at most ``limit``)."""
    request.count = limit
    request.cursor = None
    page = await search(conn, request)
    return [m.res_id for m in page.matches]
