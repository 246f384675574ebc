"""FHIR date/dateTime/instant values as inclusive microsecond ranges (UTC).

A partial date is a range: ``2024`` is the whole year, ``2024-03-01`` the whole day. Values
with a time but no offset are read as UTC (stated in the CapabilityStatement docs).
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, timedelta, timezone
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


_MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_EPOCH_ORDINAL = _EPOCH.toordinal()
_DAY = 86_400 * US


def _day_micros(year: int, month: int, day: int) -> int:
    return (date(year, month, day).toordinal() - _EPOCH_ORDINAL) * _DAY


def parse_range(text: str) -> tuple[int, int]:
    """The inclusive [low, high] microsecond range a FHIR date value covers.

    Raises ValueError with a readable message for anything that is not a FHIR date.

    Every write parses its timestamps (most are unique, so caching does not help): this is
    plain integer arithmetic, about half the time of building datetimes. Anything it does not
    vouch for (a bad value, a year at the edge of datetime's range, an offset of a day or more)
    goes through ``_parse_range_checked``, so results and errors are the same.
    """
    match = _DATE.match(text)
    if match is None:
        raise ValueError(f"'{text}' is not a FHIR date, dateTime or instant")
    y, _, m, _, d, _, hh, mm, _, ss, frac, tz = match.groups()
    year = int(y)
    if not 1 <= year <= 9998:
        return _parse_range_checked(text)
    if m is None:
        return _day_micros(year, 1, 1), _day_micros(year + 1, 1, 1) - 1
    month = int(m)
    if not 1 <= month <= 12:
        return _parse_range_checked(text)
    days = _MONTH_DAYS[month]
    if month == 2 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0):
        days = 29
    if d is None:
        low = _day_micros(year, month, 1)
        return low, low + days * _DAY - 1
    day = int(d)
    if not 1 <= day <= days:
        return _parse_range_checked(text)
    low = _day_micros(year, month, day)
    if hh is None:
        return low, low + _DAY - 1
    return _time_range(text, low, hh=hh, mm=mm, ss=ss, frac=frac, tz=tz)


def _time_range(
    text: str,
    day: int,
    *,
    hh: str,
    mm: str,
    ss: str | None,
    frac: str | None,
    tz: str | None,
) -> tuple[int, int]:
    """``parse_range`` of a dateTime/instant with a time, ``day`` its day's first micro."""
    hour, minute = int(hh), int(mm)
    second = int(ss or 0)
    offset = 0
    if tz is not None and tz != "Z":
        offset = int(tz[1:3]) * 60 + int(tz[4:6])
        if offset >= 24 * 60:
            return _parse_range_checked(text)
        if tz[0] == "-":
            offset = -offset
    if hour > 23 or minute > 59 or second > 59:
        return _parse_range_checked(text)
    moment = day + ((hour * 60 + minute - offset) * 60 + second) * US
    if ss is None:
        return moment, moment + 60 * US - 1
    if frac:
        digits = frac[1:]
        start = moment + int(digits[:6].ljust(6, "0"))
        return start, start + 10 ** max(0, 6 - len(digits)) - 1
    return moment, moment + US - 1


def _parse_range_checked(text: str) -> tuple[int, int]:
    """``parse_range`` through datetime: the reference, and the source of its error messages."""
    match = _DATE.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a FHIR date, dateTime or instant")
    g = match.groupdict()
    year = int(g["y"])
    if g["m"] is None:
        low = datetime(year, 1, 1, tzinfo=UTC)
        # Upper bounds by arithmetic: datetime cannot hold the end of year 9999.
        return _micros(low), _micros(low) + (366 if calendar.isleap(year) else 365) * _DAY - 1
    month = int(g["m"])
    if not 1 <= month <= 12:
        raise ValueError(f"'{text}': month must be 01-12")
    if g["d"] is None:
        low = datetime(year, month, 1, tzinfo=UTC)
        days = calendar.monthrange(year, month)[1]
        return _micros(low), _micros(low) + days * _DAY - 1
    day = int(g["d"])
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise ValueError(f"'{text}': day {day:02d} does not exist in {year}-{month:02d}")
    if g["H"] is None:
        low = datetime(year, month, day, tzinfo=UTC)
        return _micros(low), _micros(low) + _DAY - 1
    hour, minute = int(g["H"]), int(g["M"])
    second = int(g["S"] or 0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"'{text}': time out of range")
    moment = datetime(year, month, day, hour, minute, second, tzinfo=_tz(g["tz"]))
    if g["S"] is None:
        return _micros(moment), _micros(moment) + 60 * US - 1
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
