"""``generate``: every centre's feed for a simulated cohort, plus ``manifest.json``.

Everything is drawn from one ``random.Random(seed)`` in a fixed order, and no clock or
environment is read, so the same seed and patient count give the same bytes.
"""

from __future__ import annotations

import json
import random
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from app.ingest.synth import centres, csv_feed, fhir_feed, hl7_feed
from app.ingest.synth.journeys import JourneyBuilder
from app.ingest.synth.model import CUTOFF, Event
from app.ingest.synth.units import (
    FeedReport,
    Unit,
    in_send_order,
    with_bad_units,
    with_late_units,
)

Planner = Callable[[centres.Centre, list[Event]], list[Unit]]
Writer = Callable[[centres.Centre, list[Unit], Path], FeedReport]


@dataclass(frozen=True)
class Feed:
    plan: Planner
    bad_kinds: Callable[[Unit], tuple[str, ...]]
    write: Writer
    late_share: float


FEEDS: dict[str, Feed] = {
    "kings": Feed(hl7_feed.plan, hl7_feed.bad_kinds, hl7_feed.write, 0.03),
    "barts": Feed(hl7_feed.plan, hl7_feed.bad_kinds, hl7_feed.write, 0.03),
    "st-thomas": Feed(fhir_feed.plan_bundles, fhir_feed.bad_kinds, fhir_feed.write_bundles, 0.02),
    "royal-brompton": Feed(
        fhir_feed.plan_bundles, fhir_feed.bad_kinds, fhir_feed.write_bundles, 0.02
    ),
    "hammersmith": Feed(fhir_feed.plan_api, fhir_feed.bad_kinds, fhir_feed.write_api, 0.0),
    "st-georges": Feed(csv_feed.plan_referrals, csv_feed.bad_kinds, csv_feed.write_referrals, 0.0),
    "harefield": Feed(csv_feed.plan_procedures, csv_feed.bad_kinds, csv_feed.write_procedures, 0.0),
}


@dataclass(frozen=True)
class SynthSummary:
    """What was written: per-centre unit and bad-unit counts (the manifest in brief)."""

    out: Path
    patients: int
    seed: int
    units: dict[str, int]
    bad: dict[str, int]
    files: int

    @property
    def total_units(self) -> int:
        return sum(self.units.values())

    @property
    def total_bad(self) -> int:
        return sum(self.bad.values())


def generate(patients: int, seed: int, out: Path) -> SynthSummary:
    """Write each centre's feed under ``out/<centre>/`` and ``out/manifest.json``.

    ``out/<centre>/`` directories are replaced, so a rerun never mixes two cohorts."""
    rng = random.Random(seed)
    builder = JourneyBuilder(rng)
    by_centre: dict[str, list[Event]] = {slug: [] for slug in centres.CENTRES}
    for index in range(1, patients + 1):
        for event in builder.journey(index):
            by_centre[event.centre].append(event)
    out.mkdir(parents=True, exist_ok=True)
    reports: dict[str, FeedReport] = {}
    for slug in sorted(centres.CENTRES):
        centre, feed = centres.CENTRES[slug], FEEDS[slug]
        events = sorted(by_centre[slug], key=lambda e: e.sent)
        units = feed.plan(centre, events)
        units = with_bad_units(rng, units, feed.bad_kinds)
        units = with_late_units(rng, units, feed.late_share)
        target = out / slug
        if target.exists():
            shutil.rmtree(target)
        reports[slug] = feed.write(centre, in_send_order(units), target)
    manifest = {
        "seed": seed,
        "patients": patients,
        "generated": CUTOFF.date().isoformat(),
        "centres": {slug: report.as_json() for slug, report in reports.items()},
        "totals": {
            "units": sum(r.units for r in reports.values()),
            "bad": sum(len(r.bad_units) for r in reports.values()),
        },
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return SynthSummary(
        out=out,
        patients=patients,
        seed=seed,
        units={slug: r.units for slug, r in reports.items()},
        bad={slug: len(r.bad_units) for slug, r in reports.items()},
        files=sum(len(r.files) for r in reports.values()),
    )
