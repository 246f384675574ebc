"""Smoke run of benchmarks/terminology_bench.py with tiny loops, so it cannot rot; no timing is
asserted, only that every case ran and the section replaced its old self in the output file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
START = "<!-- terminology-bench:start -->"
END = "<!-- terminology-bench:end -->"


def test_the_benchmark_runs_and_replaces_only_its_section(tmp_path: Path) -> None:
    output = tmp_path / "benchmarks.md"
    output.write_text(f"# Benchmarks\n\nKeep me.\n\n{START}\nstale figures\n{END}\n\nAnd me.\n")

    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "terminology_bench.py"),
            "--seconds",
            "0.02",
            "--repeats",
            "1",
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert run.returncode == 0, run.stderr
    written = output.read_text()
    assert written.count(START) == 1
    assert "stale figures" not in written
    assert "Keep me." in written
    assert "And me." in written
    for case in (
        "`ValueSet/$validate-code`, sync",
        "`ValueSet/$validate-code`, async",
        "`ConceptMap/$translate`, sync",
        "`ConceptMap/$translate`, async",
        "page of 100 (total 1000)",
        "filter 'tricuspid', page of 100 (total 240)",
        "all 1,000 (total 1000)",
    ):
        assert case in written
