"""Centre-formatted CSV dates and times to FHIR ``date`` / ``dateTime``.

CSV extracts carry local wall-clock times without an offset (``29/03/2026 01:30``). The
offset FHIR needs is the centre's zone at that local time, so summer and winter rows differ.
Times that do not exist (the spring-forward gap) or exist twice (the autumn overlap) resolve
as ``zoneinfo`` does with ``fold=0``: the offset in force *before* the change. In the gap
that is the winter offset (``01:30+00:00`` in London, an instant shown as 02:30 BST); in the
overlap it is the first, summer occurrence (``01:30+01:00``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

_TIME_DIRECTIVE = re.compile(r"%[HIMSfpXcT]")


def parse_csv_datetime(
    text: str, formats: Sequence[str], zone: ZoneInfo, *, date_only: bool
) -> str:
    """The first format that reads ``text`` wins. A format without time directives gives a
    FHIR date even for a dateTime element (precision is kept, never invented); with time, a
    dateTime to the second with the zone's offset (kept as written if the format has ``%z``).
    Raises ``ValueError`` naming every format tried."""
    value = text.strip()
    if not formats:
        raise ValueError(f"no date format configured to read {text!r}")
    for fmt in formats:
        try:
            parsed = datetime.strptime(value, fmt)
        except ValueError:
            continue
        if date_only or not _TIME_DIRECTIVE.search(fmt):
            return parsed.date().isoformat()
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=zone, fold=0)
        timespec = "microseconds" if parsed.microsecond else "seconds"
        return parsed.isoformat(timespec=timespec)
    tried = ", ".join(repr(fmt) for fmt in formats)
    raise ValueError(f"{text!r} matches none of the date formats {tried}")
