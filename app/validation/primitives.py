"""Value checks for FHIR primitives: JSON type, lexical form (the SD regexes) and calendar.

The regexes come from the vendored StructureDefinitions and are compiled with `re.ASCII`,
so `\\s`/`\\S` mean what they mean to the Java validator and in XML Schema (a no-break space
is not whitespace). Where the published regex is either slow or dangerous on large input
(`base64Binary` backtracks on whitespace runs; `string` is only a ban on two control
characters) an equivalent linear check replaces it. The SD regexes also allow 31 days in
every month, so dates get a calendar check. Each checker returns None on success with one
call and one regex match; explanations are only built for values that fail.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

from app.validation.xhtml import check_xhtml

INT32_MIN: Final = -(2**31)
INT32_MAX: Final = 2**31 - 1
SHOWN_CHARS: Final = 60

# Checked on uri/url/canonical values too, as the Java validator does.
_OID: Final = re.compile(r"urn:oid:[0-2](\.(0|[1-9][0-9]*))+", re.ASCII)
_UUID: Final = re.compile(
    r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.ASCII
)
_URI_PREFIXES_TO_CHECK: Final = ("urn:", "oid:", "uuid:")
_B64_BODY: Final = re.compile(r"[A-Za-z0-9+/]*={0,2}", re.ASCII)
_STRING_BAD_CHAR: Final = re.compile(r"[^ \r\n\t\S]", re.ASCII)
_WS: Final = " \r\n\t"
_LOOSE_TEMPORAL: Final = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d\d)(?:-(?P<day>\d\d)"
    r"(?:T(?P<hour>\d\d):(?P<minute>\d\d)(?::(?P<second>\d\d)(?:\.\d+)?)?"
    r"(?P<tz>Z|[+-]\d\d:\d\d)?)?)?)?",
    re.ASCII,
)
_LOOSE_TIME: Final = re.compile(
    r"(?P<hour>\d\d):(?P<minute>\d\d)(?::(?P<second>\d\d)(?:\.\d+)?)?", re.ASCII
)
_TEMPORAL_FORMS: Final = {
    "date": "expected YYYY, YYYY-MM or YYYY-MM-DD",
    "dateTime": "expected YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDThh:mm:ss(.sss)(Z|+hh:mm)",
    "instant": "expected YYYY-MM-DDThh:mm:ss(.sss)(Z|+hh:mm)",
    "time": "expected hh:mm:ss(.sss)",
}
_FORMAT_HINTS: Final = {
    "id": "an id is 1-64 characters from A-Z, a-z, 0-9, '-' and '.'",
    "code": "a code cannot have leading, trailing or repeated whitespace",
    "uri": "a URI cannot contain whitespace",
    "url": "a URL cannot contain whitespace",
    "canonical": "a canonical URL cannot contain whitespace",
    "oid": "expected urn:oid: followed by a dotted OID, e.g. urn:oid:2.16.840.1.113883",
    "uuid": "expected urn:uuid: followed by a lowercase UUID",
}
_JSON_NAMES: Final = {bool: "boolean", int: "number", float: "number", str: "string"}
_JSON_NAMES_BY_KIND: Final = {
    "string": "a JSON string",
    "boolean": "a JSON boolean",
    "integer": "a JSON number (integer)",
    "number": "a JSON number",
}


JsonKind = Literal["string", "boolean", "integer", "number"]


@dataclass(frozen=True, slots=True)
class Primitive:
    """A FHIR primitive type: which JSON value carries it and which lexical rule it obeys."""

    name: str
    json: JsonKind
    regex: re.Pattern[str] | None
    max_length: int | None


@dataclass(frozen=True, slots=True)
class Finding:
    """What is wrong with a value; the walker adds where (diagnostics = lead at path: reason)."""

    severity: str
    code: str
    lead: str
    reason: str


Checker = Callable[[Any], Finding | None]


def show(value: Any) -> str:
    """A value as it appears in a message, cut short so a 1 MB string stays readable."""
    text = value if isinstance(value, str) else repr(value)
    if len(text) > SHOWN_CHARS:
        text = f"{text[:SHOWN_CHARS]}... ({len(text):,} characters)"
    return f"'{text}'" if isinstance(value, str) else text


def json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    kind = float if isinstance(value, float) else type(value)
    return f"a {_JSON_NAMES.get(kind, kind.__name__)}"


def _wrong_type(prim: Primitive, value: Any) -> Finding:
    return Finding(
        "error",
        "structure",
        f"Wrong JSON type for {prim.name}",
        f"expected {_JSON_NAMES_BY_KIND[prim.json]}, got {json_kind(value)} {show(value)}",
    )


def _invalid(prim: Primitive, value: Any, reason: str) -> Finding:
    return Finding("error", "value", f"Invalid {prim.name} {show(value)}", reason)


def explain_temporal(kind: str, value: str) -> str:
    """Why a date/dateTime/instant/time string fails, in the terms a person would fix it."""
    loose = (_LOOSE_TIME if kind == "time" else _LOOSE_TEMPORAL).fullmatch(value)
    if loose is None:
        return _TEMPORAL_FORMS[kind]
    parts = loose.groupdict()
    reason = _temporal_range_problem(parts)
    if reason:
        return reason
    has_time = parts.get("hour") is not None
    if kind == "date" and has_time:
        return "a date cannot have a time; use dateTime"
    if has_time and parts.get("second") is None:
        return "seconds are required when a time is given (hh:mm:ss)"
    if kind in ("dateTime", "instant") and has_time and parts.get("tz") is None:
        return "a time requires a timezone (Z or +hh:mm)"
    if kind == "instant" and not has_time:
        return "an instant needs a full date, time and timezone"
    if parts.get("tz") not in (None, "Z"):
        return "the timezone offset must be between -13:59 and +14:00"
    if parts.get("year") == "0000":
        return "year must be 0001-9999"
    return _TEMPORAL_FORMS[kind]


def _temporal_range_problem(parts: dict[str, str | None]) -> str | None:
    year, month, day = parts.get("year"), parts.get("month"), parts.get("day")
    if month is not None and not 1 <= int(month) <= 12:
        return "month must be 01-12"
    if day is not None and year is not None and month is not None:
        last = calendar.monthrange(int(year) or 4, int(month))[1]
        if not 1 <= int(day) <= last:
            return f"day must be 01-{last} in {calendar.month_name[int(month)]} {year}"
    hour, minute, second = parts.get("hour"), parts.get("minute"), parts.get("second")
    if hour is not None and int(hour) > 23:
        return "hour must be 00-23"
    if minute is not None and int(minute) > 59:
        return "minute must be 00-59"
    if second is not None and int(second) > 60:
        return "second must be 00-60"
    return None


def base64_length(value: str) -> int | None:
    """The decoded size of base64 text (whitespace allowed), or None if it is not base64.

    Replaces the SD regex, which backtracks badly on long values with many line breaks.
    """
    body = value
    if _B64_BODY.fullmatch(value) is None:  # line-wrapped, or not base64 at all
        body = "".join(value.split())
        if _B64_BODY.fullmatch(body) is None:
            return None
    if len(body) % 4:
        return None
    return len(body) // 4 * 3 - (len(body) - len(body.rstrip("=")))


def _day_exists(value: str) -> bool:
    """The SD regexes allow 31 days in every month; the calendar does not."""
    if len(value) < 10 or value[8:10] < "29":
        return True
    year, month, day = int(value[0:4]), int(value[5:7]), int(value[8:10])
    return day <= calendar.monthrange(year, month)[1]


class _Passed:
    """Values a string check has already accepted: the verdict depends on the value alone,
    and a feed repeats the same codes, systems and displays in every resource, so a set
    lookup replaces the regex. Bounded (cleared when full) and only short values are kept."""

    __slots__ = ("values",)

    LIMIT: Final = 4096
    MAX_CHARS: Final = 200

    def __init__(self) -> None:
        self.values: set[str] = set()

    def add(self, value: str) -> None:
        if len(value) <= self.MAX_CHARS:
            if len(self.values) >= self.LIMIT:
                self.values.clear()
            self.values.add(value)


def _string_checker(prim: Primitive) -> Checker:
    """A one-call fast path per kind of string primitive; `_string_finding` explains failures."""
    if prim.name in ("string", "markdown"):
        return _text_checker(prim)
    if prim.regex is None or prim.name == "base64Binary":

        def explain(value: Any) -> Finding | None:
            return _string_finding(prim, value)

        return explain
    if prim.name in _TEMPORAL_FORMS:
        return _temporal_checker(prim, prim.regex)
    return _form_checker(prim, prim.regex)


def _text_checker(prim: Primitive) -> Checker:
    max_length = prim.max_length or INT32_MAX
    trims = prim.name == "string"
    bad_char = _STRING_BAD_CHAR.search
    passed = _Passed()
    seen, remember = passed.values, passed.add

    def check_text(value: Any) -> Finding | None:
        if type(value) is str and value in seen:
            return None
        if (
            type(value) is str
            and value
            and len(value) <= max_length
            and bad_char(value) is None
            and not (trims and (value[0] in _WS or value[-1] in _WS))
        ):
            remember(value)
            return None
        return _string_finding(prim, value)

    return check_text


def _temporal_checker(prim: Primitive, regex: re.Pattern[str]) -> Checker:
    fullmatch = regex.fullmatch
    passed = _Passed()
    seen, remember = passed.values, passed.add

    def check_temporal(value: Any) -> Finding | None:
        if type(value) is str and value in seen:
            return None
        if (
            type(value) is str
            and fullmatch(value) is not None
            and (len(value) < 10 or value[8:10] < "29")
        ):
            remember(value)
            return None
        return _string_finding(prim, value)

    return check_temporal


def _form_checker(prim: Primitive, regex: re.Pattern[str]) -> Checker:
    max_length = prim.max_length or INT32_MAX
    fullmatch = regex.fullmatch
    passed = _Passed()
    seen, remember = passed.values, passed.add

    def check_form(value: Any) -> Finding | None:
        if type(value) is str and value in seen:
            return None
        if (
            type(value) is str
            and value
            and len(value) <= max_length
            and fullmatch(value) is not None
            and not value.startswith(_URI_PREFIXES_TO_CHECK)
        ):
            remember(value)
            return None
        return _string_finding(prim, value)

    return check_form


def _string_finding(prim: Primitive, value: Any) -> Finding | None:
    """Every rule for a string-based primitive, in the order a person would fix them."""
    name, regex = prim.name, prim.regex
    if type(value) is not str:
        return _wrong_type(prim, value)
    if not value:
        return Finding(
            "error", "structure", f"Empty {name} value", "omit the element instead of ''"
        )
    if prim.max_length is not None and len(value) > prim.max_length:
        return _invalid(prim, value, f"longer than the maximum of {prim.max_length:,} characters")
    if name == "base64Binary":
        if base64_length(value) is None:
            return _invalid(prim, value, "not valid base64 (A-Z a-z 0-9 + / in groups of 4)")
        return None
    if name in ("string", "markdown"):
        return _check_text(prim, value)
    if regex is not None and regex.fullmatch(value) is None:
        if name in _TEMPORAL_FORMS:
            return _invalid(prim, value, explain_temporal(name, value))
        return _invalid(prim, value, _FORMAT_HINTS.get(name, f"must match {regex.pattern}"))
    if name in _TEMPORAL_FORMS and not _day_exists(value):
        return _invalid(prim, value, explain_temporal(name, value))
    if name in ("uri", "url", "canonical"):
        return _check_uri_scheme(prim, value)
    return None


def _check_uri_scheme(prim: Primitive, value: str) -> Finding | None:
    """A uri that claims to be an OID or UUID URN must be one (a #fragment may follow)."""
    if value.startswith(("oid:", "uuid:")):
        scheme = value.partition(":")[0]
        return _invalid(prim, value, f"an {scheme.upper()} URI starts urn:{scheme}:, not {scheme}:")
    if not value.startswith("urn:"):
        return None
    urn = value.partition("#")[0]
    if urn.startswith("urn:oid:") and _OID.fullmatch(urn) is None:
        return _invalid(prim, value, _FORMAT_HINTS["oid"])
    if urn.startswith("urn:uuid:") and _UUID.fullmatch(urn) is None:
        return _invalid(prim, value, _FORMAT_HINTS["uuid"])
    return None


def _check_text(prim: Primitive, value: str) -> Finding | None:
    bad = _STRING_BAD_CHAR.search(value)
    if bad is not None:
        return _invalid(prim, value, f"contains the control character U+{ord(bad[0]):04X}")
    if prim.name == "string" and (value[0] in _WS or value[-1] in _WS):
        reason = "value should not start or finish with whitespace"
        return Finding("warning", "value", f"Untrimmed string {show(value)}", reason)
    return None


def _integer_checker(prim: Primitive) -> Checker:
    low = {"positiveInt": 1, "unsignedInt": 0}.get(prim.name, INT32_MIN)

    def check(value: Any) -> Finding | None:
        if type(value) is not int:
            if isinstance(value, float):
                return _invalid(prim, value, "must be a whole number")
            return _wrong_type(prim, value)
        if not low <= value <= INT32_MAX:
            return _invalid(prim, value, f"must be between {low} and {INT32_MAX}")
        return None

    return check


def _decimal_checker(prim: Primitive) -> Checker:
    def check(value: Any) -> Finding | None:
        # isinstance: a decimal may arrive as DecimalText, a float that keeps its text.
        if type(value) is int or isinstance(value, float):
            return None
        return _wrong_type(prim, value)

    return check


def _boolean_checker(prim: Primitive) -> Checker:
    def check(value: Any) -> Finding | None:
        return None if type(value) is bool else _wrong_type(prim, value)

    return check


def _xhtml_checker(prim: Primitive) -> Checker:
    def check(value: Any) -> Finding | None:
        if type(value) is not str:
            return _wrong_type(prim, value)
        if not value:
            return Finding(
                "error", "structure", "Empty xhtml value", "omit the element instead of ''"
            )
        reason = check_xhtml(value)
        if reason is not None:
            return Finding("error", "value", "Invalid narrative XHTML", reason)
        return None

    return check


def make_checker(prim: Primitive) -> Checker:
    """The value check for one primitive type, specialised once at load time."""
    if prim.name == "xhtml":
        return _xhtml_checker(prim)
    if prim.json == "boolean":
        return _boolean_checker(prim)
    if prim.json == "integer":
        return _integer_checker(prim)
    if prim.json == "number":
        return _decimal_checker(prim)
    return _string_checker(prim)
