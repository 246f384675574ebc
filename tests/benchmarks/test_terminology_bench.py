"""Smoke run of benchmarks/terminology_bench.py with tiny loops, so it cannot rot; no timing is
asserted, only that every case ran and the section replaced its old self in the output file."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks.smoke import run_section


def test_the_benchmark_runs_and_replaces_only_its_section(tmp_path: Path) -> None:
    written = run_section("terminology_bench.py", "terminology-bench", tmp_path)
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
