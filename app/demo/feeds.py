"""Demo data through the front door: a small synthetic cohort's feeds (``mitral-fhir synth``)
ingested centre by centre with the real mappings, so the demo shows regional Patients,
referrals, MDTs and procedures across centres, their Provenance, and a quarantine holding
the feed's deliberately bad input.

The cohort is fixed (seed), so starting the demo again finds every unit already logged and
writes nothing.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from app.ingest.pipeline import Ingestor
from app.ingest.synth import generate

log = logging.getLogger(__name__)

DEMO_PATIENTS = 40
DEMO_SEED = 20261202


async def load_demo_feeds(ingestor: Ingestor) -> dict[str, int]:
    """Ingest every mapped centre's synthetic feed; returns units per status."""
    counts = {"mapped": 0, "quarantined": 0}
    with tempfile.TemporaryDirectory(prefix="mitral-demo-") as directory:
        root = Path(directory)
        generate(patients=DEMO_PATIENTS, seed=DEMO_SEED, out=root)
        for centre in sorted(ingestor.specs):
            files = sorted(p for p in (root / centre).rglob("*") if p.is_file())
            inputs = ((path.read_bytes(), path.name) for path in files)
            for receipt in await ingestor.receive_many(centre, inputs):
                for status in counts:
                    counts[status] += receipt.count(status)
    log.info(
        "demo feeds: %d units mapped, %d quarantined (see /ingest/quarantine)",
        counts["mapped"],
        counts["quarantined"],
    )
    return counts
