"""Smoke run of benchmarks/ingest_bench.py on a tiny cohort and SQLite only, so it cannot rot:
no timing is asserted, only that every feed made it into its section, that the run checked
units in = mapped + quarantined, and that the section replaced its old self."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.benchmarks.smoke import ROOT


def test_the_benchmark_runs_and_replaces_only_its_section(tmp_path: Path) -> None:
    start, end = "<!-- ingest-bench:start -->", "<!-- ingest-bench:end -->"
    output = tmp_path / "benchmarks.md"
    output.write_text(f"# Benchmarks\n\nKeep me.\n\n{start}\nstale figures\n{end}\n")
    command = [sys.executable, str(ROOT / "benchmarks" / "ingest_bench.py")]
    command += ["--patients", "12", "--backends", "sqlite", "--output", str(output)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stderr + run.stdout
    written = output.read_text()
    assert "stale figures" not in written and "Keep me." in written
    for feed in ("| sqlite | hl7v2 (kings, barts) |", "| sqlite | csv (", "| sqlite | fhir ("):
        assert feed in written
