"""SQL for a leaf parameter: which index rows match one parsed value, per search type.

Each function returns a condition on one index row (alias ``t``) with every value bound
through ``Binder.arg``; no request text is ever spliced into SQL. Range semantics follow R4
search.html: a stored date is an inclusive [low, high] range, a stored number or quantity
is compared through the search value's implicit precision range.
"""

from __future__ import annotations

import time
from typing import Any

from app.errors import NotSupported
from app.search.criteria import (
    CompositeValue,
    DateValue,
    NumberValue,
    OfTypeValue,
    QuantityValue,
    ReferenceValue,
    TokenValue,
    ValueSetRef,
)
from app.search.parameters import component_param

TABLES = {
    "token": "search_token",
    "string": "search_string",
    "reference": "search_reference",
    "date": "search_date",
    "number": "search_number",
    "quantity": "search_quantity",
    "uri": "search_uri",
}
US = 1_000_000


class Binder:
    """Collects bound arguments and hands out their ``$n`` placeholders."""

    def __init__(self) -> None:
        self.args: list[Any] = []

    def arg(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def scope(self, alias: str, types: tuple[str, ...]) -> str:
        if not types:
            return "1 = 1"
        if len(types) == 1:
            return f"{alias}.res_type = {self.arg(types[0])}"
        return f"{alias}.res_type IN (" + ", ".join(self.arg(t) for t in types) + ")"


def like_pattern(text: str, *, contains: bool) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return ("%" if contains else "") + escaped + "%"


def _like(b: Binder, column: str, text: str, *, contains: bool) -> str:
    return f"{column} LIKE {b.arg(like_pattern(text, contains=contains))} ESCAPE '\\'"


def prefix_successor(prefix: str) -> str | None:
    """The smallest string above every string starting with ``prefix`` (None if none is)."""
    if not prefix or ord(prefix[-1]) >= 0x10FFFF:
        return None
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _starts_with(b: Binder, column: str, text: str) -> str:
    """``column`` starts with ``text``, as a range on the column (code point order).

    ``value >= text AND value < successor`` can be answered from the (res_type, param,
    value) index, where ``LIKE 'text%' ESCAPE`` cannot: SQLite's LIKE is case-insensitive, so
    it cannot use a BINARY index, and PostgreSQL only turns LIKE into an index range under
    the "C" collation (and never for a bound pattern in a generic plan). The range is exact
    under code point order: SQLite's BINARY collation, and PostgreSQL's "C" collation, which
    migration 0002 gives search_string.value.
    """
    successor = prefix_successor(text)
    if successor is None:
        return _like(b, column, text, contains=False)
    return f"({column} >= {b.arg(text)} AND {column} < {b.arg(successor)})"


def ap_delta(v: DateValue) -> int:
    """How far ``ap`` widens the search range: 10% of its distance from now, at least 1 s."""
    return max(abs(int(time.time() * US) - v.low) // 10, US)


def date_condition(b: Binder, v: DateValue, low: str, high: str) -> str:
    """R4 date prefixes between a stored range [low, high] and the search range."""

    def within() -> str:
        return f"({low} >= {b.arg(v.low)} AND {high} <= {b.arg(v.high)})"

    match v.prefix:
        case "eq":
            return within()
        case "ne":
            return f"({low} < {b.arg(v.low)} OR {high} > {b.arg(v.high)})"
        case "gt":
            return f"{high} > {b.arg(v.high)}"
        case "lt":
            return f"{low} < {b.arg(v.low)}"
        case "ge":
            return f"({high} > {b.arg(v.high)} OR {within()})"
        case "le":
            return f"({low} < {b.arg(v.low)} OR {within()})"
        case "sa":
            return f"{low} > {b.arg(v.high)}"
        case "eb":
            return f"{high} < {b.arg(v.low)}"
        case _:  # ap: overlaps the search range widened by 10% of its distance from now
            delta = ap_delta(v)
            return f"({low} <= {b.arg(v.high + delta)} AND {high} >= {b.arg(v.low - delta)})"


def number_condition(b: Binder, v: NumberValue, column: str) -> str:
    """R4 number prefixes: ``eq`` uses the search value's precision range [low, high)."""
    match v.prefix:
        case "eq":
            return f"({column} >= {b.arg(v.low)} AND {column} < {b.arg(v.high)})"
        case "ne":
            return f"({column} < {b.arg(v.low)} OR {column} >= {b.arg(v.high)})"
        case "gt" | "sa":
            return f"{column} > {b.arg(v.value)}"
        case "lt" | "eb":
            return f"{column} < {b.arg(v.value)}"
        case "ge":
            return f"{column} >= {b.arg(v.value)}"
        case "le":
            return f"{column} <= {b.arg(v.value)}"
        case _:  # ap: within 10% of the value
            spread = abs(v.value) / 10
            return (
                f"({column} >= {b.arg(v.value - spread)} AND {column} <= {b.arg(v.value + spread)})"
            )


def token_condition(
    b: Binder, v: TokenValue, system: str = "t.system", code: str = "t.code"
) -> str:
    parts = []
    if v.code is not None:
        parts.append(f"{code} = {b.arg(v.code)}")
    if not v.any_system:
        parts.append(f"{system} = {b.arg(v.system)}" if v.system else f"{system} IS NULL")
    return "(" + " AND ".join(parts or ["1 = 1"]) + ")"


def _quantity(b: Binder, v: QuantityValue, a: str) -> str:
    parts = [number_condition(b, v.number, f"{a}.value")]
    if v.system:
        parts.append(f"{a}.system = {b.arg(v.system)}")
    if v.code:
        code = b.arg(v.code)
        parts.append(
            f"{a}.code = {code}" if v.system else f"({a}.code = {code} OR {a}.unit = {code})"
        )
    return "(" + " AND ".join(parts) + ")"


def _reference(b: Binder, v: ReferenceValue, a: str) -> str:
    if v.url is not None:
        cond = f"{a}.url = {b.arg(v.url)}"
        if v.version:
            cond += f" AND {a}.target_version = {b.arg(v.version)}"
        return f"({cond})"
    cond = f"{a}.target_id = {b.arg(v.target_id)}"
    if v.target_type:
        cond += f" AND {a}.target_type = {b.arg(v.target_type)}"
    return f"({cond})"


def _uri(b: Binder, v: str, modifier: str | None, a: str) -> str:
    """``:below``/``:above`` compare whole path segments (``/ipg309`` is not below ``/ipg``)."""
    if modifier == "below":
        if v.endswith("/"):
            return _like(b, f"{a}.value", v, contains=False)
        exact = b.arg(v)
        return f"({a}.value = {exact} OR {_like(b, f'{a}.value', v + '/', contains=False)})"
    if modifier == "above":
        given = f"CAST({b.arg(v)} AS TEXT)"
        head = f"substr({given}, 1, length({a}.value))"
        next_char = f"substr({given}, length({a}.value) + 1, 1)"
        return (
            f"({head} = {a}.value AND (length({a}.value) = length({given}) "
            f"OR {next_char} = '/' OR substr({a}.value, length({a}.value), 1) = '/'))"
        )
    return f"{a}.value = {b.arg(v)}"


def _string(b: Binder, v: str, modifier: str | None, a: str) -> str:
    if modifier == "exact":
        return f"{a}.exact = {b.arg(v)}"
    if modifier == "contains":
        return _like(b, f"{a}.value", v, contains=True)
    return _starts_with(b, f"{a}.value", v)


def row_condition(b: Binder, kind: str, modifier: str | None, v: object, a: str = "t") -> str:
    """The condition one index row (alias ``a``) must meet to match value ``v``."""
    if isinstance(v, TokenValue):
        if kind == "reference":  # :identifier
            return token_condition(b, v, f"{a}.ident_system", f"{a}.ident_value")
        return token_condition(b, v, f"{a}.system", f"{a}.code")
    if isinstance(v, OfTypeValue):
        return f"({a}.system = {b.arg(v.type_key)} AND {a}.code = {b.arg(v.value)})"
    if isinstance(v, DateValue):
        return date_condition(b, v, f"{a}.low", f"{a}.high")
    if isinstance(v, NumberValue):
        return number_condition(b, v, f"{a}.value")
    if isinstance(v, QuantityValue):
        return _quantity(b, v, a)
    if isinstance(v, ReferenceValue):
        return _reference(b, v, a)
    if isinstance(v, str):
        if kind == "token":  # :text
            return _like(b, f"{a}.text", v, contains=True)
        if kind == "uri":
            return _uri(b, v, modifier, a)
        return _string(b, v, modifier, a)
    if isinstance(v, ValueSetRef):  # a caller skipped app.search.value_sets
        raise NotSupported(
            f"'{modifier}' on this kind of request cannot be resolved to codes",
            issue_code="not-supported",
        )
    raise TypeError(f"no SQL for search value {v!r}")


def composite_select(
    b: Binder, param: str, kinds: tuple[str, ...], value: CompositeValue, types: tuple[str, ...]
) -> str:
    """Resources with one element instance (same ``grp``) matching every component."""
    first = TABLES[kinds[0]]
    joins, conds = [], []
    for n, (kind, part) in enumerate(zip(kinds, value.parts, strict=True)):
        alias = f"c{n}"
        if n:
            joins.append(
                f"JOIN {TABLES[kind]} {alias} ON {alias}.res_type = c0.res_type AND "
                f"{alias}.res_id = c0.res_id AND {alias}.grp = c0.grp"
            )
        conds.append(f"{alias}.param = {b.arg(component_param(param, n))}")
        conds.append(row_condition(b, kind, None, part, alias))
    return (
        f"SELECT c0.res_type, c0.res_id FROM {first} c0 {' '.join(joins)} "
        f"WHERE {b.scope('c0', types)} AND {' AND '.join(conds)}"
    )
