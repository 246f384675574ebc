"""One generated cohort shared by the synth tests (large enough to hold every bad-unit kind)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from app.ingest.synth import SynthSummary, generate

PATIENTS = 300
SEED = 11


@dataclass(frozen=True)
class Feeds:
    root: Path
    summary: SynthSummary
    manifest: dict[str, Any]

    def centre(self, slug: str) -> dict[str, Any]:
        result: dict[str, Any] = self.manifest["centres"][slug]
        return result

    def bad(self, slug: str, kind: str | None = None) -> set[tuple[str, str]]:
        """(file, position) of the centre's deliberately bad units, optionally of one kind."""
        return {
            (b["file"], b["position"])
            for b in self.centre(slug)["bad_units"]
            if kind is None or b["kind"] == kind
        }


@pytest.fixture(scope="session")
def feeds(tmp_path_factory: pytest.TempPathFactory) -> Feeds:
    root = tmp_path_factory.mktemp("synth")
    summary = generate(PATIENTS, SEED, root)
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    return Feeds(root, summary, manifest)
