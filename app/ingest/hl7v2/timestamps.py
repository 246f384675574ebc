"""HL7 v2 TS/DTM and DT values as FHIR ``dateTime`` and ``date``.

HL7 v2 times usually carry no offset: they are the sending hospital's wall-clock time. FHIR
requires an offset on any value with a time, so a missing one is taken from the centre's
zone at that local time (``Europe/London``: GMT in winter, BST in summer). The precision the
sender gave is kept: ``2026`` stays a year, ``202603`` a month; a time to the minute gets
``:00`` seconds because FHIR has no minute precision.

Both are cached per text (and zone): a feed repeats a patient's birth date in every message.

Wall-clock times that the zone skips or repeats are resolved as ``zoneinfo`` does with
``fold=0``: a time in the spring-forward gap (``2026-03-29 01:30`` in London) gets the offset
in force before the change (``+00:00``), and a time in the autumn overlap (``2026-10-25
01:30``) is read as its first occurrence (``+01:00``, still BST). Neither can be decided from
the message alone; fold=0 is the documented, repeatable choice.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

_DTM = re.compile(
    r"(\d{4})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(?:(\d{2})(\.\d{1,9})?)?)?)?)?)?"
    r"([+-]\d{4})?\Z"
)
_DT = re.compile(r"(\d{4})(?:(\d{2})(\d{2})?)?\Z")
_DTM_SHAPE = "YYYY[MM[DD[HH[MM[SS[.S]]]]]][+/-ZZZZ]"


@lru_cache(maxsize=16384)
def hl7_datetime(text: str, zone: ZoneInfo) -> str:
    """A FHIR dateTime with the source's precision; the zone supplies a missing offset.

    An explicit offset is kept as given (``+0100`` -> ``+01:00``). An offset on a value with
    no time is dropped: a FHIR date cannot carry one, and the date is what the sender wrote.
    """
    value = text.strip()
    match = _DTM.match(value)
    if match is None:
        raise ValueError(f"{text!r} is not an HL7 v2 date/time: expected {_DTM_SHAPE}")
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    date = _date_text(text, "date/time", year, month, day)
    if hour is None:
        return date
    h, m, s = int(hour), int(minute or 0), int(second or 0)
    _check_range(text, "date/time", "hour", h, 23)
    _check_range(text, "date/time", "minute", m, 59)
    _check_range(text, "date/time", "second", s, 59)
    clock = f"{h:02d}:{m:02d}:{s:02d}{fraction or ''}"
    if offset is not None:
        return f"{date}T{clock}{_offset_text(text, offset)}"
    local = datetime(int(year), int(month), int(day), h, m, s, tzinfo=zone)  # fold=0
    return f"{date}T{clock}{_format_offset(local.utcoffset() or timedelta(0))}"


@lru_cache(maxsize=16384)
def hl7_date(text: str) -> str:
    """A FHIR date (YYYY, YYYY-MM or YYYY-MM-DD); a time or offset is an error, not dropped."""
    value = text.strip()
    match = _DT.match(value)
    if match is None:
        if _DTM.match(value):
            raise ValueError(f"{text!r} is not an HL7 v2 date: it has a time or offset part")
        raise ValueError(f"{text!r} is not an HL7 v2 date: expected YYYY[MM[DD]]")
    year, month, day = match.groups()
    return _date_text(text, "date", year, month, day)


def _date_text(text: str, what: str, year: str, month: str | None, day: str | None) -> str:
    if int(year) < 1:
        raise ValueError(f"{text!r} is not an HL7 v2 {what}: year 0000")
    if month is None:
        return year
    _check_range(text, what, "month", int(month), 12, low=1)
    if day is None:
        return f"{year}-{month}"
    days = calendar.monthrange(int(year), int(month))[1]
    if not 1 <= int(day) <= days:
        raise ValueError(
            f"{text!r} is not an HL7 v2 {what}: day {int(day)} ({year}-{month} has {days} days)"
        )
    return f"{year}-{month}-{day}"


def _check_range(text: str, what: str, name: str, value: int, high: int, *, low: int = 0) -> None:
    if not low <= value <= high:
        raise ValueError(f"{text!r} is not an HL7 v2 {what}: {name} {value}")


def _offset_text(text: str, offset: str) -> str:
    hours, minutes = int(offset[1:3]), int(offset[3:5])
    if hours > 14 or minutes > 59 or (hours == 14 and minutes):
        raise ValueError(f"{text!r} is not an HL7 v2 date/time: offset {offset}")
    return f"{offset[0]}{offset[1:3]}:{offset[3:5]}"


def _format_offset(offset: timedelta) -> str:
    # Historic local mean times have offsets in seconds; FHIR offsets stop at minutes.
    total = round(offset.total_seconds() / 60)
    sign = "-" if total < 0 else "+"
    hours, minutes = divmod(abs(total), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"
