"""Parse a search query string into a SearchRequest (pure: no I/O).

Unknown parameters are collected, never dropped silently: the caller reports them (lenient)
or rejects the request (``Prefer: handling=strict``). An unsupported modifier is always an
error, as the spec requires.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.errors import InvalidRequest
from app.search.dates import parse_range
from app.search.parameters import RESULT_PARAMETERS, parameters_for

DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
TOTAL_MODES = ("none", "estimate", "accurate")


@dataclass(frozen=True, slots=True)
class TokenValue:
    system: str | None
    code: str | None
    any_system: bool


@dataclass(frozen=True, slots=True)
class DateValue:
    prefix: str
    low: int
    high: int


@dataclass(frozen=True, slots=True)
class Clause:
    """One parameter occurrence: its values are ORed; clauses are ANDed."""

    param: str
    type: str
    modifier: str | None
    values: tuple[object, ...]
    raw: str


@dataclass(slots=True)
class SearchRequest:
    res_type: str | None
    clauses: list[Clause] = field(default_factory=list)
    count: int = 50
    cursor: str | None = None
    total: str = "none"
    summary_count: bool = False
    types: tuple[str, ...] = ()
    unknown: list[str] = field(default_factory=list)
    echo: list[tuple[str, str]] = field(default_factory=list)
    """The (name, value) pairs applied, in order, for the self link."""


def _split_commas(value: str) -> list[str]:
    """Split on commas not escaped with a backslash, unescaping ``\\,``."""
    if "\\" not in value:
        return value.split(",")
    parts, current, escaped = [], [], False
    for char in value:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == ",":
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def parse_token(text: str) -> TokenValue:
    if "|" not in text:
        return TokenValue(None, text, any_system=True)
    system, _, code = text.partition("|")
    return TokenValue(system or None, code or None, any_system=False)


def parse_date(name: str, text: str) -> DateValue:
    prefix = text[:2] if text[:2] in DATE_PREFIXES else "eq"
    body = text[2:] if text[:2] in DATE_PREFIXES else text
    try:
        low, high = parse_range(body)
    except ValueError as exc:
        raise InvalidRequest(
            f"Invalid date in search parameter '{name}': {exc}", expression=(name,)
        ) from exc
    return DateValue(prefix, low, high)


def _parse_values(name: str, kind: str, modifier: str | None, raw: str) -> tuple[object, ...]:
    if modifier == "missing":
        if raw not in ("true", "false"):
            raise InvalidRequest(f"'{name}:missing' takes true or false, got '{raw}'")
        return (raw == "true",)
    parts = _split_commas(raw)
    if kind == "date":
        return tuple(parse_date(name, p) for p in parts)
    if kind == "token":
        return tuple(parse_token(p) for p in parts)
    return tuple(parts)


def _result_parameter(request: SearchRequest, name: str, value: str, max_count: int) -> None:
    if name == "_count":
        if not value.isdigit():
            raise InvalidRequest(f"_count must be a non-negative integer, got '{value}'")
        request.count = min(int(value), max_count)
        request.echo.append((name, str(request.count)))
    elif name == "_cursor":
        request.cursor = value
    elif name == "_total":
        if value not in TOTAL_MODES:
            raise InvalidRequest(f"_total must be one of {', '.join(TOTAL_MODES)}, got '{value}'")
        request.total = value
        request.echo.append((name, value))
    elif name == "_summary":
        if value != "count":
            request.unknown.append(f"_summary={value}")
            return
        request.summary_count = True
        request.echo.append((name, value))
    elif name == "_type":
        request.types = tuple(_split_commas(value))
        request.echo.append((name, value))


def parse_search(
    res_type: str | None,
    params: list[tuple[str, str]],
    *,
    default_count: int,
    max_count: int,
    known_types: frozenset[str],
) -> SearchRequest:
    request = SearchRequest(res_type=res_type, count=min(default_count, max_count))
    supported = parameters_for(res_type) if res_type else parameters_for("Resource")
    for name, value in params:
        base, _, modifier = name.partition(":")
        if base in RESULT_PARAMETERS:
            if base not in ("_format", "_pretty"):
                _result_parameter(request, base, value, max_count)
            continue
        param = supported.get(base)
        if param is None:
            request.unknown.append(name)
            continue
        if modifier and modifier != "missing":
            raise InvalidRequest(
                f"Modifier ':{modifier}' is not supported on search parameter '{base}'",
                expression=(name,),
            )
        values = _parse_values(base, param.type, modifier or None, value)
        request.clauses.append(Clause(base, param.type, modifier or None, values, value))
        request.echo.append((name, value))
    for name in request.types:
        if name not in known_types:
            raise InvalidRequest(f"Unknown resource type '{name}' in _type", expression=("_type",))
    return request
