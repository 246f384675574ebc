"""Values -> index rows, per (search parameter type, FHIR type of the value).

The row shapes are the contract shared with the query side (docs/adr/0006): see
``app/storage/index_rows.py`` for the columns. Each ``terminal(...)`` returns a function
``(value, sink, grp)`` appending rows to ``sink.tables``; ``None`` means this parameter type
cannot index values of that FHIR type (the parameter is then left out).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from app.model.fhir_json import DecimalText
from app.search.dates import parse_range
from app.search.normalize import norm
from app.search.paths import Terminal, is_resource_type

OPEN_LOW = -(2**62)
OPEN_HIGH = 2**62
RANGE_OPEN_LOW = -float(2**62)
RANGE_OPEN_HIGH = float(2**62)

QUANTITY_TYPES = frozenset(
    {"Quantity", "Age", "Duration", "Distance", "Count", "SimpleQuantity", "MoneyQuantity"}
)
TEXT_PRIMITIVES = frozenset(
    {"string", "markdown", "code", "id", "uri", "url", "canonical", "oid", "uuid"}
)
URI_PRIMITIVES = frozenset({"uri", "url", "canonical", "oid", "uuid"})
NUMBER_PRIMITIVES = frozenset({"decimal", "integer", "positiveInt", "unsignedInt"})
DATE_PRIMITIVES = frozenset({"date", "dateTime", "instant"})
# Values some expressions reach that no search type defines a match for: silently no rows
# (e.g. Observation.value.ofType(SampledData) in value-quantity, as on every FHIR server).
NOT_INDEXED = frozenset({("quantity", "SampledData")})


class Sink:
    """Rows being collected for one resource, and the composite group counter."""

    __slots__ = ("grp", "tables")

    def __init__(self) -> None:
        self.tables: dict[str, list[tuple[Any, ...]]] = {}
        self.grp = 0


# ---------------------------------------------------------------------------------------
# Shared conversions


@lru_cache(maxsize=8192)
def date_range(text: str) -> tuple[int, int] | None:
    try:
        return parse_range(text)
    except ValueError:
        return None


@lru_cache(maxsize=8192)
def _decimal_range(text: str) -> tuple[float, float, float] | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if not value.is_finite():
        return None
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    half = Decimal(5).scaleb(exponent - 1)
    return float(value), float(value - half), float(value + half)


def decimal_range(number: Any) -> tuple[float, float, float] | None:
    """(value, low, high): the implicit precision range of a decimal as written."""
    kind = type(number)
    if kind is DecimalText:
        return _decimal_range(number.text)
    if kind is int:
        return _decimal_range(str(number))
    if kind is float:
        return _decimal_range(repr(number))
    return None


_RELATIVE = re.compile(r"^([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/([^/]+))?$")
_ABSOLUTE_TAIL = re.compile(r"/([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/([^/]+))?$")


@lru_cache(maxsize=8192)
def parse_reference(text: str) -> tuple[str | None, str | None, str | None, str | None] | None:
    """(target_type, target_id, target_version, url) of a literal reference; None if not
    indexed (contained '#x' references)."""
    if text.startswith("#"):
        return None
    match = _RELATIVE.match(text)
    if match and is_resource_type(match.group(1)):
        return match.group(1), match.group(2), match.group(3), None
    match = _ABSOLUTE_TAIL.search(text)
    if match and is_resource_type(match.group(1)):
        return match.group(1), match.group(2), match.group(3), text
    return None, None, None, text


@lru_cache(maxsize=8192)
def parse_canonical(text: str) -> tuple[str | None, str | None, str | None, str]:
    """(target_type, target_id, version, url) of a canonical/uri reference."""
    url, _, version = text.partition("|")
    match = _ABSOLUTE_TAIL.search(url)
    if match and is_resource_type(match.group(1)):
        return match.group(1), match.group(2), version or None, url
    return None, None, version or None, url


# ---------------------------------------------------------------------------------------
# Terminals per search type


def _coding(code: str) -> Terminal:
    def write(v: Any, sink: Sink, grp: int | None) -> None:
        if type(v) is not dict:
            return
        system, value, display = v.get("system"), v.get("code"), v.get("display")
        if system is None and value is None and display is None:
            return
        text = norm(display) if type(display) is str else None
        sink.tables.setdefault("search_token", []).append((code, grp, system, value, text))

    return write


def _concept(code: str) -> Terminal:
    def write(v: Any, sink: Sink, grp: int | None) -> None:
        if type(v) is not dict:
            return
        rows = sink.tables.setdefault("search_token", [])
        cc_text = v.get("text")
        text = norm(cc_text) if type(cc_text) is str else None
        codings = v.get("coding")
        if not codings:
            if text is not None:
                rows.append((code, grp, None, None, text))
            return
        for c in codings:
            if type(c) is not dict:
                continue
            system, value, display = c.get("system"), c.get("code"), c.get("display")
            row_text = text
            if row_text is None and type(display) is str:
                row_text = norm(display)
            if system is not None or value is not None or row_text is not None:
                rows.append((code, grp, system, value, row_text))

    return write


def _identifier(code: str) -> Terminal:
    of_type = f"{code}:of-type"

    def write(v: Any, sink: Sink, grp: int | None) -> None:
        if type(v) is not dict:
            return
        system, value = v.get("system"), v.get("value")
        if system is None and value is None:
            return
        id_type = v.get("type")
        if type(id_type) is not dict:
            id_type = {}
        type_text = id_type.get("text")
        text = norm(type_text) if type(type_text) is str else None
        rows = sink.tables.setdefault("search_token", [])
        rows.append((code, grp, system, value, text))
        if value is None:
            return
        for c in id_type.get("coding") or ():
            if type(c) is dict:
                type_token = f"{c.get('system') or ''}|{c.get('code') or ''}"
                rows.append((of_type, grp, type_token, value, None))

    return write


def _contact(code: str) -> Terminal:
    def write(v: Any, sink: Sink, grp: int | None) -> None:
        if type(v) is dict and v.get("value") is not None:
            sink.tables.setdefault("search_token", []).append((code, grp, None, v["value"], None))

    return write


def _token_primitive(code: str) -> Terminal:
    def write(v: Any, sink: Sink, grp: int | None) -> None:
        if type(v) is str:
            sink.tables.setdefault("search_token", []).append((code, grp, None, v, None))

    return write


def _boolean(code: str) -> Terminal:
    def write(v: Any, sink: Sink, grp: int | None) -> None:
        if type(v) is bool:
            value = "true" if v else "false"
            sink.tables.setdefault("search_token", []).append((code, grp, None, value, None))

    return write


_NAME_PARTS = ("family", "given", "prefix", "suffix", "text")
_ADDRESS_PARTS = ("line", "city", "district", "state", "postalCode", "country", "text")


def _string_plain(code: str) -> Terminal:
    def write(v: Any, sink: Sink, grp: int | None) -> None:
        if type(v) is str:
            sink.tables.setdefault("search_string", []).append((code, grp, norm(v), v))

    return write


def _string_parts(names: tuple[str, ...]) -> Callable[[str], Terminal]:
    def factory(code: str) -> Terminal:
        def write(v: Any, sink: Sink, grp: int | None) -> None:
            if type(v) is not dict:
                return
            rows = sink.tables.setdefault("search_string", [])
            for name in names:
                part = v.get(name)
                if type(part) is str:
                    rows.append((code, grp, norm(part), part))
                elif type(part) is list:
                    for item in part:
                        if type(item) is str:
                            rows.append((code, grp, norm(item), item))

        return write

    return factory


def _date_rows(bounds_of: Callable[[Any], tuple[int, int] | None]) -> Callable[[str], Terminal]:
    """A date-row writer factory for one FHIR type, given how to read its [low, high]."""

    def terminal(code: str) -> Terminal:
        def write(v: Any, sink: Sink, grp: int | None) -> None:
            bounds = bounds_of(v)
            if bounds is not None:
                _date_row(sink, code, grp, bounds)

        return write

    return terminal


def _date_row(sink: Sink, code: str, grp: int | None, bounds: tuple[int, int]) -> None:
    low, high = bounds
    span = None if low == OPEN_LOW or high == OPEN_HIGH else high - low
    sink.tables.setdefault("search_date", []).append((code, grp, low, high, span))


def _primitive_date(code: str) -> Terminal:
    """Rows of date/dateTime/instant values (the commonest dates), bounds read inline."""

    def write(v: Any, sink: Sink, grp: int | None) -> None:
        if type(v) is not str:
            return
        bounds = date_range(v)
        if bounds is not None:
            _date_row(sink, code, grp, bounds)

    return write


def period_bounds(v: Any) -> tuple[int, int] | None:
    """[low of start, high of end]; an open end is OPEN_LOW / OPEN_HIGH."""
    if type(v) is not dict:
        return None
    start, end = v.get("start"), v.get("end")
    low, high = OPEN_LOW, OPEN_HIGH
    if type(start) is str:
        bounds = date_range(start)
        if bounds is None:
            return None
        low = bounds[0]
    if type(end) is str:
        bounds = date_range(end)
        if bounds is None:
            return None
        high = bounds[1]
    if low == OPEN_LOW and high == OPEN_HIGH:
        return None
    return low, high


def timing_bounds(v: Any) -> tuple[int, int] | None:
    """min/max over Timing.event, else Timing.repeat.boundsPeriod."""
    if type(v) is not dict:
        return None
    events = [b for e in v.get("event") or () if type(e) is str and (b := date_range(e))]
    if events:
        return min(b[0] for b in events), max(b[1] for b in events)
    repeat = v.get("repeat")
    return period_bounds(repeat.get("boundsPeriod")) if type(repeat) is dict else None


def _reference_value(code: str) -> Terminal:
    def write(v: Any, sink: Sink, grp: int | None) -> None:
        if type(v) is not dict:
            return
        ref = v.get("reference")
        ident = v.get("identifier")
        if ident is None and type(ref) is str:  # the common case, without the branches below
            found = parse_reference(ref)
            if found is not None:
                sink.tables.setdefault("search_reference", []).append(
                    (code, grp, *found, None, None)
                )
            return
        ident_system = ident_value = None
        if type(ident) is dict:
            ident_system, ident_value = ident.get("system"), ident.get("value")
        parsed = parse_reference(ref) if type(ref) is str else None
        if parsed is None:
            if ident_system is None and ident_value is None:
                return
            parsed = (None, None, None, None)
        sink.tables.setdefault("search_reference", []).append(
            (code, grp, *parsed, ident_system, ident_value)
        )

    return write


def _canonical(code: str) -> Terminal:
    def write(v: Any, sink: Sink, grp: int | None) -> None:
        if type(v) is str and v:
            sink.tables.setdefault("search_reference", []).append(
                (code, grp, *parse_canonical(v), None, None)
            )

    return write


def _quantity_value(code: str) -> Terminal:
    def write(v: Any, sink: Sink, grp: int | None) -> None:
        if type(v) is not dict:
            return
        bounds = decimal_range(v.get("value"))
        if bounds is not None:
            sink.tables.setdefault("search_quantity", []).append(
                (code, grp, *bounds, v.get("system"), v.get("code"), v.get("unit"))
            )

    return write


def _money(code: str) -> Terminal:
    def write(v: Any, sink: Sink, grp: int | None) -> None:
        if type(v) is not dict:
            return
        bounds = decimal_range(v.get("value"))
        if bounds is not None:
            sink.tables.setdefault("search_quantity", []).append(
                (code, grp, *bounds, None, v.get("currency"), None)
            )

    return write


def range_row(v: Any) -> tuple[Any, ...] | None:
    """(value, low, high, system, code, unit) of a Range: low's value, the outer bounds."""
    if type(v) is not dict:
        return None
    low_q, high_q = v.get("low"), v.get("high")
    low_b = decimal_range(low_q.get("value")) if type(low_q) is dict else None
    high_b = decimal_range(high_q.get("value")) if type(high_q) is dict else None
    if low_b is not None and type(low_q) is dict:
        value, low, units = low_b[0], low_b[1], low_q
        high = high_b[2] if high_b is not None else RANGE_OPEN_HIGH
    elif high_b is not None and type(high_q) is dict:
        value, low, high, units = high_b[0], RANGE_OPEN_LOW, high_b[2], high_q
    else:
        return None
    return value, low, high, units.get("system"), units.get("code"), units.get("unit")


def _range(code: str) -> Terminal:
    def write(v: Any, sink: Sink, grp: int | None) -> None:
        row = range_row(v)
        if row is not None:
            sink.tables.setdefault("search_quantity", []).append((code, grp, *row))

    return write


def _number(code: str) -> Terminal:
    def write(v: Any, sink: Sink, grp: int | None) -> None:
        bounds = decimal_range(v) if type(v) is not bool else None
        if bounds is not None:
            sink.tables.setdefault("search_number", []).append((code, grp, *bounds))

    return write


def _uri(code: str) -> Terminal:
    def write(v: Any, sink: Sink, grp: int | None) -> None:
        if type(v) is str:
            sink.tables.setdefault("search_uri", []).append((code, grp, v))

    return write


def _ignore(v: Any, sink: Sink, grp: int | None) -> None:  # noqa: ARG001
    return None


Factory = Callable[[str], Terminal]

_FACTORIES: dict[str, dict[str, Factory]] = {
    "token": {
        "Coding": _coding,
        "CodeableConcept": _concept,
        "Identifier": _identifier,
        "ContactPoint": _contact,
        "boolean": _boolean,
        **dict.fromkeys(TEXT_PRIMITIVES, _token_primitive),
    },
    "string": {
        "HumanName": _string_parts(_NAME_PARTS),
        "Address": _string_parts(_ADDRESS_PARTS),
        **dict.fromkeys(TEXT_PRIMITIVES, _string_plain),
    },
    "date": {
        "Period": _date_rows(period_bounds),
        "Timing": _date_rows(timing_bounds),
        **dict.fromkeys(DATE_PRIMITIVES, _primitive_date),
    },
    "reference": {"Reference": _reference_value, **dict.fromkeys(URI_PRIMITIVES, _canonical)},
    "quantity": {
        "Money": _money,
        "Range": _range,
        **dict.fromkeys(QUANTITY_TYPES, _quantity_value),
    },
    "number": dict.fromkeys(NUMBER_PRIMITIVES, _number),
    "uri": dict.fromkeys(URI_PRIMITIVES, _uri),
}


def terminal(param_type: str, fhir_type: str, code: str) -> Terminal | None:
    """The row writer for values of ``fhir_type`` under a parameter of ``param_type``."""
    if (param_type, fhir_type) in NOT_INDEXED:
        return _ignore
    factory = _FACTORIES.get(param_type, {}).get(fhir_type)
    return factory(code) if factory else None
