"""What happens to a drawn journey afterwards: the patient dies, a centre corrects how it
keyed the patient in, or a duplicate registration is merged (A40)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

from app.ingest.synth import centres
from app.ingest.synth.model import Event, later, mrn, to_minute
from app.ingest.synth.people import Person, day_month_swapped, misspelt


def died(rng: random.Random, events: list[Event]) -> list[Event]:
    """The patient dies part-way: nothing happens after, and a centre reports the death."""
    first, last = events[0].at, events[-1].at
    death = first + (last - first) * rng.uniform(0.5, 1.0) + dt.timedelta(days=rng.randint(1, 60))
    death = to_minute(death)
    kept = [e for e in events if e.at < death]
    reporters = [
        e for e in kept if centres.CENTRES[e.centre].feed in ("hl7v2", "fhir-bundle", "fhir-api")
    ]
    if not reporters:
        return events
    where = reporters[-1]
    sent = later(rng, death, 1, 4)
    kept.append(Event("death", where.centre, death, sent, where.person, where.mrn))
    return kept


def corrected(rng: random.Random, events: list[Event], person: Person) -> list[Event]:
    """One centre keyed the patient in wrongly and corrects the record later."""
    by_centre: dict[str, list[Event]] = {}
    for e in events:
        if e.kind != "death":
            by_centre.setdefault(e.centre, []).append(e)
    candidates = sorted(c for c, es in by_centre.items() if len(es) >= 2)
    if not candidates:
        return events
    centre = rng.choice(candidates)
    wrong = day_month_swapped(person) if rng.random() < 0.4 else None
    wrong = wrong or misspelt(person)
    mine = sorted(by_centre[centre], key=lambda e: e.sent)
    fixed_at = mine[0].sent + (mine[-1].sent - mine[0].sent) * rng.uniform(0.2, 0.8)
    fixed_at = to_minute(fixed_at) + dt.timedelta(minutes=1)
    out = [
        replace(e, person=wrong) if e.centre == centre and e.sent < fixed_at else e for e in events
    ]
    before = [e for e in mine if e.sent < fixed_at][-1]
    if centres.CENTRES[centre].feed == "csv":  # the row is sent again, right this time
        out.append(replace(before, sent=fixed_at, person=person))
    else:
        out.append(Event("demographics", centre, fixed_at, fixed_at, person, before.mrn))
    return out


def merged(rng: random.Random, events: list[Event], first: Event, index: int) -> list[Event]:
    """A duplicate registration with a second hospital number, merged weeks later (A40)."""
    centre = first.centre
    duplicate = mrn(centre, index + 5_000_000)
    registered = later(rng, first.sent - dt.timedelta(days=40), 0, 25)
    status = "O" if centre == "kings" else "I"
    dup = Event(
        "registration", centre, registered, registered, first.person, duplicate, status=status
    )
    merged_at = later(rng, first.sent, 5, 40)
    merge = Event(
        "merge", centre, merged_at, merged_at, first.person, first.mrn, retired_mrn=duplicate
    )
    return [*events, dup, merge]
