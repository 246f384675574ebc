"""Check a leaf parameter's modifier against its type and parse its comma-separated values.

Which modifiers each type accepts follows R4 search.html; anything else is a 400 (the spec
requires rejecting an unsupported modifier rather than ignoring it). ``:in``/``:not-in`` take
a ValueSet url here and are resolved to codes by the terminology service before the query is
built (app/search/value_sets.py).
"""

from __future__ import annotations

from app.errors import InvalidRequest
from app.search.criteria import (
    CompositeValue,
    TokenValue,
    ValueSetRef,
    parse_date,
    parse_number,
    parse_of_type,
    parse_quantity,
    parse_reference,
    parse_token,
    split_escaped,
    unescape,
)
from app.search.normalize import norm as normalize
from app.search.param_meta import component_types
from app.search.parameters import SearchParameter

MODIFIERS: dict[str, frozenset[str]] = {
    "string": frozenset({"exact", "contains"}),
    "token": frozenset({"text", "not", "of-type", "in", "not-in"}),
    "reference": frozenset({"identifier"}),
    "uri": frozenset({"below", "above"}),
}
TERMINOLOGY = frozenset({"in", "not-in"})
QUERYABLE = frozenset(
    {"number", "date", "string", "token", "reference", "composite", "quantity", "uri"}
)
RESOURCE_LEVEL = frozenset({"_id", "_lastUpdated"})


def _check_modifier(
    param: SearchParameter, name: str, modifier: str | None, known_types: frozenset[str]
) -> None:
    if modifier is None or modifier == "missing":
        return
    full = f"{name}:{modifier}"
    allowed = MODIFIERS.get(param.type, frozenset())
    if name in RESOURCE_LEVEL:
        allowed = frozenset()
    is_type = param.type == "reference" and modifier in known_types
    if modifier not in allowed and not is_type:
        raise InvalidRequest(
            f"Modifier ':{modifier}' is not supported on search parameter '{name}'",
            expression=(full,),
        )


def _one(
    param: SearchParameter, name: str, modifier: str | None, text: str, base: str | None = None
) -> object:
    kind = param.type
    if kind == "token":
        return _token(name, modifier, text)
    if kind == "date":
        return parse_date(name, text)
    if kind == "number":
        return parse_number(name, text)
    if kind == "quantity":
        return parse_quantity(name, text)
    if kind == "reference":
        if modifier == "identifier":
            return parse_token(text)
        return parse_reference(name, text, modifier, base)
    if kind == "string":
        return unescape(text) if modifier == "exact" else normalize(unescape(text))
    if kind == "composite":
        return _composite(param, name, text)
    return unescape(text)


def _token(name: str, modifier: str | None, text: str) -> object:
    if modifier == "of-type":
        return parse_of_type(name, text)
    if modifier == "text":
        return normalize(unescape(text))
    if modifier in TERMINOLOGY:
        url = unescape(text)
        if not url or any(c.isspace() for c in url):
            raise InvalidRequest(
                f"'{name}:{modifier}' takes a ValueSet url, got '{text}'",
                expression=(f"{name}:{modifier}",),
            )
        return ValueSetRef(url)
    return parse_token(text)


def _composite(param: SearchParameter, name: str, text: str) -> CompositeValue:
    kinds = component_types(param)
    parts = split_escaped(text, "$")
    if not kinds or "" in kinds:
        raise InvalidRequest(f"Composite parameter '{name}' has no usable components", (name,))
    if len(parts) != len(kinds):
        raise InvalidRequest(
            f"'{name}' takes {len(kinds)} values separated by '$', got '{text}'",
            expression=(name,),
        )
    values = []
    for kind, part in zip(kinds, parts, strict=True):
        component = SearchParameter(name, kind, param.url, ())
        values.append(_one(component, name, None, part))
    return CompositeValue(tuple(values))


def parse_values(
    param: SearchParameter,
    name: str,
    modifier: str | None,
    raw: str,
    *,
    known_types: frozenset[str],
    base: str | None = None,
) -> tuple[object, ...]:
    """The ORed values of one ``name[:modifier]=raw`` occurrence."""
    if param.type not in QUERYABLE:  # e.g. "special" (Location near): no query support yet
        raise InvalidRequest(
            f"Search parameter '{name}' of type {param.type} is not supported",
            expression=(name,),
            issue_code="not-supported",
        )
    _check_modifier(param, name, modifier, known_types)
    if modifier == "missing":
        if raw not in ("true", "false"):
            raise InvalidRequest(
                f"'{name}:missing' takes true or false, got '{raw}'",
                expression=(f"{name}:missing",),
            )
        return (raw == "true",)
    values = tuple(_one(param, name, modifier, part, base) for part in split_escaped(raw, ","))
    if param.type == "token" and name == "_id":
        for value in values:
            if not isinstance(value, TokenValue) or not value.any_system:
                raise InvalidRequest(f"_id takes plain ids, got '{raw}'", expression=(name,))
    return values
