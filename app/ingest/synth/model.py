"""The simulation's vocabulary of events: referrals, appointments, orders and procedures
as centres record them, and the small helpers for drawing realistic times."""

from __future__ import annotations

import datetime as dt
import math
import random
from dataclasses import dataclass, field

from app.ingest.synth import centres
from app.ingest.synth.people import Person

START = dt.date(2024, 1, 1)
LAST_REFERRAL = dt.date(2026, 9, 30)
CUTOFF = dt.datetime(2026, 11, 30, 18, 0)


@dataclass(frozen=True, slots=True)
class Referral:
    id: str
    centre: str
    received: dt.datetime
    source: str  # GP, DGH, TERT, SURG, NET, INPT, SURV, OTH
    referrer_ods: str
    referrer_org: str
    referrer: tuple[str, str, str]  # family, given, prefix
    reason: str  # local code at this centre
    priority: str  # routine | urgent
    ubrn: str | None
    aetiology: str | None  # primary, secondary, secondary-ventricular, secondary-atrial, mixed
    referred_to: str | None = None  # site ODS code once referred on (st-georges)


@dataclass(frozen=True, slots=True)
class Appointment:
    id: str
    centre: str
    kind: str  # valve | mdt | procedure
    code: str  # local clinic or procedure code
    start: dt.datetime
    minutes: int
    for_id: str  # the referral id (clinic, MDT) or the order id (procedure booking)
    outcome: str | None = None  # MDT: an mdt-outcome leaf code
    aetiology: str | None = None
    severity: str | None = None  # MOD | MODSEV | SEV
    note: str = ""


@dataclass(frozen=True, slots=True)
class Order:
    id: str
    centre: str
    referral_id: str
    decided: dt.datetime
    code: str  # the hub's local procedure code
    modality: str
    treat_centre: str
    approach: str | None  # STERN, MINI, THOR, TF, TS, TA
    device: str | None  # CLIP, PROS, RING, TTVP
    consultant: tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Procedure:
    id: str
    centre: str
    code: str
    modality: str
    start: dt.datetime
    admitted: dt.datetime
    discharged: dt.datetime
    visit: str
    approach: str | None
    device: str | None
    order_id: str
    hub_site: str
    outcome: str  # completed | stopped
    consultant: tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Event:
    """One thing a centre's system reports. ``status`` qualifies it: a referral's status
    (pending, accepted, referred-on, closed, rejected), an appointment's (booked,
    complete), an order's (new, cancelled), a registration's patient class (O, I)."""

    kind: (
        str  # referral appointment order registration admission procedure demographics death merge
    )
    centre: str
    at: dt.datetime
    sent: dt.datetime
    person: Person
    mrn: str
    status: str = ""
    referral: Referral | None = None
    appointment: Appointment | None = None
    order: Order | None = None
    procedure: Procedure | None = None
    retired_mrn: str = ""


@dataclass
class Ids:
    """Per-centre running numbers, so business identifiers are unique and readable."""

    counters: dict[str, int] = field(default_factory=dict)

    def next(self, centre: str, kind: str) -> str:
        prefix = centres.CENTRES[centre].prefix
        key = f"{centre}|{kind}"
        self.counters[key] = n = self.counters.get(key, 0) + 1
        if centre == "st-georges":
            return f"SGH-R-{n:06d}"
        if centre == "harefield":
            return f"HFP{n:06d}"
        return f"{prefix}-{kind}-{n:06d}"


def mrn(centre: str, index: int) -> str:
    """A centre's hospital number for patient ``index`` (unique per centre, stable)."""
    n = (index * 7919 + 104_729) % 10_000_000
    return {
        "kings": f"K{n:07d}",
        "barts": f"BH{n:08d}",
        "st-thomas": f"GST{n:07d}",
        "royal-brompton": f"RBH{n % 1_000_000:06d}",
        "hammersmith": f"IMP{n:07d}",
        "st-georges": f"G{n:07d}",
        "harefield": f"HH{n % 1_000_000:06d}",
    }[centre]


def pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    names = [name for name, _ in weighted]
    return rng.choices(names, weights=[w for _, w in weighted])[0]


def lognormal_days(rng: random.Random, median: float, sigma: float = 0.5) -> float:
    """A right-skewed wait: most near the median, a long tail of slow ones."""
    return median * math.exp(rng.gauss(0.0, sigma))


def at_work(day: dt.date, rng: random.Random, first: int = 8, last: int = 17) -> dt.datetime:
    """A time in working hours (never in a DST gap: those are at 01:00)."""
    return dt.datetime(
        day.year, day.month, day.day, rng.randint(first, last), rng.choice((0, 15, 30, 45))
    )


def later(rng: random.Random, when: dt.datetime, min_days: float, max_days: float) -> dt.datetime:
    """A working-hours time between ``min_days`` and ``max_days`` after ``when``."""
    day = (when + dt.timedelta(days=rng.uniform(min_days, max_days))).date()
    if day.weekday() >= 5:
        day += dt.timedelta(days=7 - day.weekday())
    moment = at_work(day, rng)
    return moment if moment > when else when + dt.timedelta(minutes=rng.randint(20, 180))


def to_minute(moment: dt.datetime) -> dt.datetime:
    """Centre systems stamp to the minute (or second); never microseconds."""
    return moment.replace(second=0, microsecond=0)
