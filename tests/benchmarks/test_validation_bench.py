"""Smoke run of benchmarks/validation_bench.py with tiny loops, so it cannot rot; no timing is
asserted, only that every profile example and the corpus score made it into its section and
that the section replaced its old self in the output file."""

from __future__ import annotations

from pathlib import Path

from tests.benchmarks.smoke import ROOT, run_section


def test_the_benchmark_runs_and_replaces_only_its_section(tmp_path: Path) -> None:
    written = run_section("validation_bench.py", "validation-bench", tmp_path, seconds=0.01)
    examples = sorted(p.stem for p in (ROOT / "profiles" / "examples" / "valid").glob("*.json"))
    assert examples, "the profile examples are the benchmark's workload"
    for name in examples:
        assert f"| {name} |" in written
    assert "| Invalid cases caught |" in written
    assert "MV-Referral" in written and "beyond (b)" in written
