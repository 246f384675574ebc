"""FHIR dates and dateTimes as instants and London days, fast: every stored resource of a
patient is dated at each derivation of them (after each message about them).

A patient's dates recur at every derivation, so each string's reading is remembered; and the
London day of an instant, the costliest part, is remembered per UTC hour (London has only
ever changed offset on the hour, which each remembered hour checks for itself).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_HOUR = dt.timedelta(hours=1)
_LAST_MICROSECOND = _HOUR - dt.timedelta(microseconds=1)
_MEMO_FROM = dt.datetime(1800, 1, 1, tzinfo=dt.UTC) - _EPOCH
_MEMO_TO = dt.datetime(9000, 1, 1, tzinfo=dt.UTC) - _EPOCH
"""The instants whose London day is remembered by the hour (far from datetime's limits)."""
_KEPT = 1 << 15
"""Entries each memo keeps at most, then it starts again (cheaper than tracking use): about
10 MB for the dates."""

Moment = tuple[dt.datetime, str, dt.timedelta | None]


def instant(value: Any) -> dt.datetime | None:
    """A FHIR date or dateTime as an aware instant; partial dates take their first day."""
    if not isinstance(value, str) or len(value) < 4:
        return None
    try:
        if "T" not in value:
            parts = [int(p) for p in value.split("-")] + [1, 1]
            return dt.datetime(parts[0], parts[1], parts[2], tzinfo=LONDON)
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=LONDON)


def london_day(at: dt.datetime) -> str:
    return at.astimezone(LONDON).date().isoformat()


def regular(at: dt.datetime) -> bool:
    """Whether comparing ``at`` as a datetime is comparing its UTC instant. Not for a London
    wall time in a DST gap or fold: datetimes of one zone compare by wall time, and an
    equality across zones is false in a fold (PEP 495). Such a time has no offset (a FHIR
    dateTime must have one)."""
    return at.tzinfo is not LONDON or at.replace(fold=1).utcoffset() == at.utcoffset()


_MOMENTS: dict[str, Moment | None] = {}
_UNKNOWN = object()
_DAY_OF_HOUR: dict[int, str | None] = {}
"""UTC hour since the epoch -> its London day; None for an hour that is not all one day."""


def moment(value: str) -> Moment | None:
    """(instant, London day, time since the epoch or None when not ``regular``) of a date
    string, or None when it is not one."""
    known = _MOMENTS.get(value, _UNKNOWN)
    if known is not _UNKNOWN:
        return known  # type: ignore[return-value]
    at = instant(value)
    found = None
    if at is not None:
        since = at - _EPOCH
        found = (at, _london_day(at, since), since if regular(at) else None)
    if len(_MOMENTS) >= _KEPT:
        _MOMENTS.clear()
    _MOMENTS[value] = found
    return found


def _london_day(at: dt.datetime, since: dt.timedelta) -> str:
    if not _MEMO_FROM <= since < _MEMO_TO:
        return london_day(at)
    hour = since.days * 24 + since.seconds // 3600
    if hour not in _DAY_OF_HOUR:
        if len(_DAY_OF_HOUR) >= _KEPT:
            _DAY_OF_HOUR.clear()
        start = (_EPOCH + _HOUR * hour).astimezone(LONDON)
        end = (_EPOCH + _HOUR * hour + _LAST_MICROSECOND).astimezone(LONDON)
        same = start.utcoffset() == end.utcoffset() and start.date() == end.date()
        _DAY_OF_HOUR[hour] = start.date().isoformat() if same else None
    return _DAY_OF_HOUR[hour] or london_day(at)
