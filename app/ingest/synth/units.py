"""What the feed writers share: a planned unit (one future HL7 message, CSV row, Bundle or
polled resource), the deliberately bad variants, and the per-centre report for the manifest.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from app.ingest.synth.model import CUTOFF, Event, to_minute

INVALID_NHS = "invalid-nhs-number"
INVALID_DATE = "invalid-date"
UNKNOWN_CODE = "unknown-code"
TRUNCATED = "truncated"
BAD_SHARE = 0.02
RESENT_SHARE = 0.85
# A display for a code the centre added but our CodeSystem does not know yet.
UNKNOWN_DISPLAY = {
    "procedure": "Transcatheter aortic valve implantation",
    "reason": "Aortic stenosis",
    "clinic": "Aortic valve clinic",
}


@dataclass(frozen=True, slots=True)
class Unit:
    """One future unit of a feed. ``resource`` names the polled resource type (hammersmith)
    or the row kind (CSV); ``bad`` the deliberate defect, if any."""

    sent: dt.datetime
    kind: str
    event: Event
    seq: int
    resource: str = ""
    bad: str | None = None


@dataclass
class FeedReport:
    """One centre's part of ``manifest.json``."""

    format: str
    files: list[str] = field(default_factory=list)
    units: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    bad_units: list[dict[str, str]] = field(default_factory=list)

    def count(self, unit: Unit, file: str, position: str) -> None:
        self.units += 1
        self.by_kind[unit.kind] = self.by_kind.get(unit.kind, 0) + 1
        if unit.bad is not None:
            self.bad_units.append({"file": file, "position": position, "kind": unit.bad})

    def as_json(self) -> dict[str, object]:
        return {
            "format": self.format,
            "files": self.files,
            "units": self.units,
            "bad": len(self.bad_units),
            "by_kind": dict(sorted(self.by_kind.items())),
            "bad_units": self.bad_units,
        }


def with_bad_units(
    rng: random.Random, units: list[Unit], kinds: Callable[[Unit], tuple[str, ...]]
) -> list[Unit]:
    """About 2% of units go out broken; most are resent fixed a few days later, as an
    interface team would after seeing the rejection."""
    out: list[Unit] = []
    for unit in units:
        possible = kinds(unit)
        if not possible or rng.random() >= BAD_SHARE:
            out.append(unit)
            continue
        out.append(replace(unit, bad=rng.choice(possible)))
        if rng.random() < RESENT_SHARE:
            resent = to_minute(unit.sent + dt.timedelta(days=rng.uniform(1, 5)))
            out.append(replace(unit, sent=resent))
    return [u for u in out if u.sent <= CUTOFF]


def with_late_units(rng: random.Random, units: list[Unit], share: float) -> list[Unit]:
    """A few units are sent days or weeks late, so they arrive after later events."""
    out = []
    for unit in units:
        late = rng.random() < share
        delay = dt.timedelta(days=rng.uniform(3, 30)) if late else dt.timedelta()
        out.append(replace(unit, sent=to_minute(unit.sent + delay)) if late else unit)
    return [u for u in out if u.sent <= CUTOFF]


def in_send_order(units: list[Unit]) -> list[Unit]:
    return sorted(units, key=lambda u: (u.sent, u.seq, u.bad is None))


def impossible_date(day: dt.date) -> tuple[int, int, int]:
    """(year, month, day) of a date that cannot exist, near ``day``: month 13 or 30 Feb."""
    return (day.year, 13, day.day) if day.day % 2 else (day.year, 2, 30)
