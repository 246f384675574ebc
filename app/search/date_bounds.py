"""Date search as one index range: bounds on a stored row's ``low`` implied by the prefixes.

A stored date is a range [low, high]; the R4 prefixes compare it with the search range, and
most of them constrain ``high`` (``ge``: the row ends after the search range starts), which
the (res_type, param, low, ...) index cannot answer. But a finite row's ``high`` is at most
``low + S``, where S is the widest finite span stored for the parameter, so ``high > x``
implies ``low > x - S``. S comes from the (res_type, param, span) index in one probe (a
subquery the database evaluates once), so every prefix except ``ne`` bounds ``low``, and a
search such as ``date=ge2025-01&date=lt2025-02`` reads one month of index rows instead of
every row either side. Open-ended rows (span NULL) have no such bound and are read apart,
through the same span index; the range then skips them, so the two reads never yield the same
row and a singular parameter's ids need no DISTINCT. The exact prefix conditions are still
applied to every row; the bounds only narrow what is read.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.search.criteria import DateValue
from app.search.query_leaf import US, Binder, ap_delta, date_condition
from app.search.values import OPEN_HIGH, OPEN_LOW


@dataclass(frozen=True, slots=True)
class LowBounds:
    """What one search value implies for a matching row's ``low`` (inclusive bounds)."""

    lower: int | None
    widened: bool
    """``lower`` holds for finite rows only, after subtracting the widest span S."""
    upper: int | None


def low_bounds(v: DateValue) -> LowBounds:
    """Bounds on ``low`` for a row [low, high] (low <= high) matching ``v``."""
    match v.prefix:
        case "eq":
            return LowBounds(v.low, False, v.high)
        case "sa":
            return LowBounds(v.high + 1, False, None)
        case "gt":
            return LowBounds(v.high, True, None)
        case "ge":  # low >= v.low, or high > v.high
            return LowBounds(v.low, True, None)
        case "lt" | "eb":
            return LowBounds(None, False, v.low - 1)
        case "le":
            return LowBounds(None, False, v.high)
        case "ap":  # a second of slack: the clock moves between here and date_condition
            delta = ap_delta(v) + US
            return LowBounds(v.low - delta, True, v.high + delta)
        case _:  # ne: the rows either side of the range; no single range
            return LowBounds(None, False, None)


def bounded_select(
    b: Binder, param: str, types: tuple[str, ...], values: list[DateValue], *, sqlite: bool
) -> str | None:
    """(res_type, res_id) of resources with one row of ``param`` matching every value, read
    as an index range; None when the values bound nothing (``ne``)."""
    bounds = [low_bounds(v) for v in values]
    if all(x.lower is None and x.upper is None for x in bounds):
        return None
    conds = [date_condition(b, v, "t.low", "t.high") for v in values]
    head = f"SELECT t.res_type, t.res_id FROM search_date t WHERE {b.scope('t', types)} "
    head += f"AND t.param = {b.arg(param)}"
    ranges: list[str] = []
    widened = [x.lower for x in bounds if x.lower is not None and x.widened]
    if widened:
        span = (
            f"COALESCE((SELECT s.span FROM search_date s WHERE {b.scope('s', types)} "
            f"AND s.param = {b.arg(param)} AND s.span IS NOT NULL "
            "ORDER BY s.span DESC LIMIT 1), 0)"
        )
        ranges += [f"t.low >= {b.arg(lower)} - {span}" for lower in widened]
    exact_lower = [x.lower for x in bounds if x.lower is not None and not x.widened]
    ranges += [f"t.low >= {b.arg(lower)}" for lower in exact_lower]
    ranges += [f"t.low <= {b.arg(x.upper)}" for x in bounds if x.upper is not None]
    if widened:  # finite rows only (span IS NOT NULL, from columns the index holds)
        ranges += [f"t.low > {b.arg(OPEN_LOW)}", f"t.high < {b.arg(OPEN_HIGH)}"]
    exact = " AND ".join(conds)
    select = f"{head} AND {' AND '.join(ranges)} AND {exact}"
    if widened:
        # Open-ended rows have no span, so S bounds nothing for them: read them apart, through
        # the span index (they are few: a Period with no start or no end).
        # "+ 0": not an index range on low, so SQLite (no statistics) takes the span index
        open_conds = [date_condition(b, v, "(t.low + 0)", "(t.high + 0)") for v in values]
        # With statistics, SQLite would rather walk the (res_type, res_id) index, every row
        # of the type, to merge this branch in id order without a sort (120 ms at 1M).
        hint = " INDEXED BY ix_search_date_span" if sqlite else ""
        select += (
            f" UNION ALL SELECT t.res_type, t.res_id FROM search_date t{hint} "
            f"WHERE {b.scope('t', types)} AND t.param = {b.arg(param)} AND t.span IS NULL "
            f"AND {' AND '.join(open_conds)}"
        )
    return select
