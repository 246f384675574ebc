from __future__ import annotations

import functools
import json
import random
import statistics
from pathlib import Path

from app.ingest.synth import centres
from app.ingest.synth.journeys import JourneyBuilder
from app.ingest.synth.model import CUTOFF, Event, Referral

TERMINOLOGY = Path(__file__).resolve().parents[3] / "terminology" / "codesystems"


@functools.cache
def cohort(n: int = 600, seed: int = 3) -> list[list[Event]]:
    builder = JourneyBuilder(random.Random(seed))
    return [builder.journey(i) for i in range(1, n + 1)]


def test_teer_patients_are_older_than_surgical_ones() -> None:
    ages: dict[str, list[float]] = {}
    for events in cohort():
        for e in events:
            if e.kind == "procedure" and e.procedure is not None:
                age = (e.procedure.start.date() - e.person.birth_date).days / 365.25
                ages.setdefault(e.procedure.modality, []).append(age)
    teer = statistics.median(ages[centres.MV_TEER])
    surgery = statistics.median(ages[centres.MV_REPAIR] + ages[centres.MV_REPLACE])
    assert 72 <= teer <= 80
    assert 60 <= surgery <= 70


def test_waits_are_right_skewed_and_events_stop_at_the_cutoff() -> None:
    waits = []
    for events in cohort():
        assert all(e.sent <= CUTOFF for e in events)
        assert events == sorted(events, key=lambda e: e.sent)
        referral = next((e for e in events if e.kind == "referral"), None)
        treated = [e for e in events if e.kind == "procedure"]
        if referral is not None and treated:
            waits.append((treated[-1].at - referral.at).days / 7)
    assert statistics.mean(waits) > statistics.median(waits)
    assert max(waits) > 2 * statistics.median(waits)


def test_journeys_cross_centres_and_treat_only_where_the_modality_is_offered() -> None:
    crossing = 0
    for events in cohort():
        crossing += len({e.centre for e in events}) > 1
        for e in events:
            if e.kind == "procedure" and e.procedure is not None:
                site = centres.CENTRES[e.centre]
                assert e.procedure.modality in site.procedures
                assert e.procedure.code in {
                    *site.procedures[e.procedure.modality],
                    "RT3-MCLIP",
                }
            if e.appointment is not None and e.appointment.kind == "mdt":
                assert e.centre in centres.HUBS
    assert crossing > 100


def test_every_local_code_is_in_the_centres_code_system() -> None:
    systems = {
        slug: {
            c["code"]
            for c in json.loads((TERMINOLOGY / f"local-{slug}.json").read_text())["concept"]
        }
        for slug in centres.CENTRES
    }
    for events in cohort(200):
        for e in events:
            codes = [
                x.reason if isinstance(x, Referral) else x.code
                for x in (e.referral, e.appointment, e.order, e.procedure)
                if x is not None
            ]
            assert codes or e.kind in (
                "registration",
                "admission",
                "demographics",
                "death",
                "merge",
            )
            assert set(codes) <= systems[e.centre], (e.centre, codes)
