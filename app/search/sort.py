"""``_sort``: order by one or more parameters, with keyset paging that stays correct.

Each key is a scalar subquery per result row (MIN of the parameter's index value for
ascending, MAX for descending, as R4 search.html#sort asks for repeating elements; dates by
the start of their range); resources
without a value sort last either way. Rows are always finished by (res_type, res_id) so the
order is total, and the ``_cursor`` carries the last row's key values: the next page starts
strictly after them, so inserts and deletes between pages never repeat or skip a row.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson

from app.errors import InvalidRequest
from app.search.query_leaf import TABLES, Binder

SORTABLE = frozenset({"date", "string", "token", "number", "quantity", "uri"})
_COLUMN = {"string": "value", "token": "code", "number": "value", "quantity": "value"}


@dataclass(frozen=True, slots=True)
class SortKey:
    param: str
    type: str
    descending: bool


def sort_column(b: Binder, key: SortKey) -> str:
    """The SQL value one result row (alias ``r``) sorts on for ``key``."""
    if key.param == "_id":
        return "r.res_id"
    if key.param == "_lastUpdated":
        return "r.last_updated"
    # Dates sort on their start both ways: an open-ended Period would otherwise sort as
    # "infinitely late" and every open one would tie.
    column = "low" if key.type == "date" else _COLUMN.get(key.type, "value")
    agg = "MAX" if key.descending else "MIN"
    return (
        f"(SELECT {agg}(s.{column}) FROM {TABLES[key.type]} s WHERE s.res_type = r.res_type "
        f"AND s.res_id = r.res_id AND s.param = {b.arg(key.param)})"
    )


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(text: str, size: int) -> list[Any]:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidRequest("_cursor is not a cursor this server issued") from exc
    if not isinstance(values, list) or len(values) != size:
        raise InvalidRequest("_cursor does not belong to this _sort")
    return values


def order_by(
    keys: tuple[SortKey, ...], collate: str, *, reverse: bool = False, lead_in_index: bool = False
) -> str:
    """The page order; ``reverse`` walks it backwards (for ``previous`` links).

    ``lead_in_index``: the first key is an index column that is never NULL, ordered with the
    database's default NULLS placement so the order is the index's own (PostgreSQL only
    walks an index for ``DESC NULLS FIRST`` / ``ASC NULLS LAST``).
    """
    nulls = "FIRST" if reverse else "LAST"
    parts = [
        f"q.s{i}{collate if k.type in ('string', 'token', 'uri') or k.param == '_id' else ''} "
        f"{'DESC' if k.descending != reverse else 'ASC'}"
        f"{'' if lead_in_index and i == 0 else f' NULLS {nulls}'}"
        for i, k in enumerate(keys)
    ]
    tie = " DESC" if reverse else ""
    return ", ".join([*parts, f"q.res_type{tie}", f"q.res_id{tie}"])


def after_cursor(
    b: Binder,
    keys: tuple[SortKey, ...],
    values: list[Any],
    collate: str,
    *,
    reverse: bool = False,
) -> str:
    """Rows strictly after the cursor in ``order_by`` order (NULLs last in every key; with
    ``reverse``, the same order walked backwards, so NULLs come first)."""
    ors: list[str] = []
    equal: list[str] = []
    for i, (key, value) in enumerate(zip(keys, values, strict=False)):
        textual = key.type in ("string", "token", "uri") or key.param == "_id"
        col = f"q.s{i}{collate if textual else ''}"
        if value is None:
            if reverse:  # walking backwards, every value comes after the NULLs
                ors.append("(" + " AND ".join([*equal, f"q.s{i} IS NOT NULL"]) + ")")
            equal.append(f"q.s{i} IS NULL")
            continue
        op = "<" if key.descending != reverse else ">"
        after = f"{col} {op} {b.arg(value)}"
        if not reverse:  # NULLs sort last, so they come after any value
            after = f"({after} OR q.s{i} IS NULL)"
        ors.append("(" + " AND ".join([*equal, after]) + ")")
        equal.append(f"{col} = {b.arg(value)}")
    res_type, res_id = values[-2], values[-1]
    op = "<" if reverse else ">"
    same_type = f"q.res_type = {b.arg(res_type)} AND q.res_id {op} {b.arg(res_id)}"
    tail = f"(q.res_type {op} {b.arg(res_type)} OR ({same_type}))"
    ors.append("(" + " AND ".join([*equal, tail]) + ")")
    return "(" + " OR ".join(ors) + ")"
