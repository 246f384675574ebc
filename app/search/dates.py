"""FHIR date/dateTime/instant values as inclusive microsecond ranges (UTC).

A partial date is a range: ``2024`` is the whole year, ``2024-03-01`` the whole day. Values
with a time but no offset are read as UTC (stated in the CapabilityStatement docs).
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache

_DATE = re.compile(
    r"^(?P<y>\d{4})(-(?P<m>\d{2})(-(?P<d>\d{2})"
    r"(T(?P<H>\d{2}):(?P<M>\d{2})(:(?P<S>\d{2})(?P<f>\.\d+)?)?"
    r"(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = 1_000_000


def _micros(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


def _tz(text: str | None) -> timezone:
    if not text or text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    hours, minutes = int(text[1:3]), int(text[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def parse_range(text: str) -> tuple[int, int]:
    """The inclusive [low, high] microsecond range a FHIR date value covers.

    Raises ValueError with a readable message for anything that is not a FHIR date.
    """
    match = _DATE.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a FHIR date, dateTime or instant")
    g = match.groupdict()
    year = int(g["y"])
    if g["m"] is None:
        low = datetime(year, 1, 1, tzinfo=UTC)
        return _micros(low), _micros(datetime(year + 1, 1, 1, tzinfo=UTC)) - 1
    month = int(g["m"])
    if not 1 <= month <= 12:
        raise ValueError(f"'{text}': month must be 01-12")
    if g["d"] is None:
        low = datetime(year, month, 1, tzinfo=UTC)
        days = calendar.monthrange(year, month)[1]
        return _micros(low), _micros(low + timedelta(days=days)) - 1
    day = int(g["d"])
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise ValueError(f"'{text}': day {day:02d} does not exist in {year}-{month:02d}")
    if g["H"] is None:
        low = datetime(year, month, day, tzinfo=UTC)
        return _micros(low), _micros(low + timedelta(days=1)) - 1
    hour, minute = int(g["H"]), int(g["M"])
    second = int(g["S"] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"'{text}': time out of range")
    moment = datetime(year, month, day, hour, minute, second, tzinfo=_tz(g["tz"]))
    if g["S"] is None:
        return _micros(moment), _micros(moment + timedelta(minutes=1)) - 1
    if g["f"]:
        digits = g["f"][1:]
        fraction = int(digits[:6].ljust(6, "0"))
        start = _micros(moment) + fraction
        width = 10 ** max(0, 6 - len(digits))
        return start, start + width - 1
    return _micros(moment), _micros(moment) + US - 1


@lru_cache(maxsize=256)
def format_instant(micros: int) -> str:
    """An R4 instant string with millisecond precision, e.g. 2026-11-26T01:20:00.123Z."""
    moment = _EPOCH + timedelta(microseconds=micros)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@lru_cache(maxsize=4096)
def http_date(micros: int) -> str:
    """RFC 9110 IMF-fixdate for Last-Modified."""
    moment = _EPOCH + timedelta(microseconds=micros)
    return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")


def parse_http_date(text: str) -> int | None:
    try:
        moment = datetime.strptime(text, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=UTC)
    except ValueError:
        return None
    return _micros(moment)
