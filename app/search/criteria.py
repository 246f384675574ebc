"""Parsed search values, one class per parameter type, and the pure parsers that build them.

Kept apart from the request parser so each type's rules (prefixes, precision, escaping) can be
read and tested on their own. Every malformed value raises InvalidRequest naming the parameter:
a bad value is always a 400, never a silently empty result.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from app.errors import InvalidRequest
from app.search.dates import parse_range

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


@dataclass(frozen=True, slots=True)
class TokenValue:
    system: str | None
    code: str | None
    any_system: bool


@dataclass(frozen=True, slots=True)
class ValueSetRef:
    """``:in`` / ``:not-in``: a ValueSet's canonical url, resolved to its codes before the
    query is built (app/search/value_sets.py), since only the terminology service knows
    them."""

    url: str


@dataclass(frozen=True, slots=True)
class OfTypeValue:
    """``:of-type``: an identifier of a given type (type system|type code) and value."""

    type_key: str
    value: str


@dataclass(frozen=True, slots=True)
class DateValue:
    prefix: str
    low: int
    high: int


@dataclass(frozen=True, slots=True)
class NumberValue:
    """A number and the implicit range its precision gives (``5.4`` is [5.35, 5.45))."""

    prefix: str
    value: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class QuantityValue:
    number: NumberValue
    system: str | None
    code: str | None


@dataclass(frozen=True, slots=True)
class ReferenceValue:
    target_type: str | None
    target_id: str | None
    url: str | None
    version: str | None


@dataclass(frozen=True, slots=True)
class CompositeValue:
    parts: tuple[object, ...]


def split_escaped(text: str, sep: str) -> list[str]:
    """Split on ``sep`` where it is not escaped with a backslash; escapes are kept for later."""
    if "\\" not in text:
        return text.split(sep)
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def unescape(text: str) -> str:
    """Drop the backslash from ``\\,`` ``\\$`` ``\\|`` and ``\\\\`` (R4 search.html#escaping)."""
    if "\\" not in text:
        return text
    out, escaped = [], False
    for char in text:
        if escaped or char != "\\":
            out.append(char)
            escaped = False
        else:
            escaped = True
    return "".join(out)


def _prefix(text: str) -> tuple[str, str]:
    if len(text) > 2 and text[:2] in PREFIXES and not text[:2].isdigit():
        return text[:2], text[2:]
    return "eq", text


def parse_token(text: str) -> TokenValue:
    parts = split_escaped(text, "|")
    if len(parts) == 1:
        return TokenValue(None, unescape(text), any_system=True)
    system, code = unescape(parts[0]), unescape("|".join(parts[1:]))
    return TokenValue(system or None, code or None, any_system=False)


def parse_of_type(name: str, text: str) -> OfTypeValue:
    parts = split_escaped(text, "|")
    if len(parts) != 3 or not all(parts):
        raise InvalidRequest(
            f"'{name}:of-type' takes type-system|type-code|value, got '{text}'",
            expression=(f"{name}:of-type",),
        )
    return OfTypeValue(f"{unescape(parts[0])}|{unescape(parts[1])}", unescape(parts[2]))


def parse_date(name: str, text: str) -> DateValue:
    prefix, body = _prefix(text)
    try:
        low, high = parse_range(body)
    except ValueError as exc:
        raise InvalidRequest(
            f"Invalid date in search parameter '{name}': {exc}", expression=(name,)
        ) from exc
    return DateValue(prefix, low, high)


def parse_number(name: str, text: str) -> NumberValue:
    prefix, body = _prefix(text)
    try:
        number = Decimal(body)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or not body or body.strip() != body:
        raise InvalidRequest(
            f"Invalid number in search parameter '{name}': '{text}'", expression=(name,)
        )
    exponent = number.as_tuple().exponent
    half = Decimal(5).scaleb(int(exponent) - 1)
    return NumberValue(prefix, float(number), float(number - half), float(number + half))


def parse_quantity(name: str, text: str) -> QuantityValue:
    parts = split_escaped(text, "|")
    if len(parts) not in (1, 3):
        raise InvalidRequest(
            f"Invalid quantity in search parameter '{name}': '{text}' "
            "(use [prefix]value, value|system|code or value||code)",
            expression=(name,),
        )
    number = parse_number(name, parts[0])
    if len(parts) == 1:
        return QuantityValue(number, None, None)
    return QuantityValue(number, unescape(parts[1]) or None, unescape(parts[2]) or None)


def parse_reference(
    name: str, text: str, type_modifier: str | None, base: str | None = None
) -> ReferenceValue:
    """``id``, ``Type/id``, an absolute URL or a canonical ``url|version``.

    An absolute URL on this server's own ``base`` is read as the relative ``Type/id`` it
    names, so it matches references stored either way (R4 search.html#reference).
    """
    value = unescape(text)
    if base and value.startswith(base.rstrip("/") + "/"):
        local = value[len(base.rstrip("/")) + 1 :]
        if local.count("/") in (1, 3):
            value = local
    if "://" in value or value.startswith("urn:"):
        url, _, version = value.partition("|")
        return ReferenceValue(None, None, url, version or None)
    if "/" in value:
        head, _, tail = value.partition("/")
        target_id = tail.split("/_history/")[0]
        if type_modifier and head != type_modifier:
            raise InvalidRequest(
                f"Reference '{value}' contradicts the ':{type_modifier}' modifier",
                expression=(name,),
            )
        return ReferenceValue(head, target_id, None, None)
    return ReferenceValue(type_modifier, value, None, None)
