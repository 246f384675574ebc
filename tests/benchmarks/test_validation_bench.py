"""Smoke run of benchmarks/validation_bench.py with tiny loops, so it cannot rot; no timing is
asserted, only that every profile example and the corpus score made it into its section and
that the section replaced its old self in the output file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
START = "<!-- validation-bench:start -->"
END = "<!-- validation-bench:end -->"


def test_the_benchmark_runs_and_replaces_only_its_section(tmp_path: Path) -> None:
    output = tmp_path / "benchmarks.md"
    output.write_text(f"# Benchmarks\n\nKeep me.\n\n{START}\nstale figures\n{END}\n\nAnd me.\n")

    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "validation_bench.py"),
            "--seconds",
            "0.01",
            "--repeats",
            "1",
            "--output",
            str(output),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )

    assert run.returncode == 0, run.stderr
    written = output.read_text()
    assert written.count(START) == 1
    assert "stale figures" not in written
    assert "Keep me." in written and "And me." in written
    examples = sorted(p.stem for p in (ROOT / "profiles" / "examples" / "valid").glob("*.json"))
    assert examples, "the profile examples are the benchmark's workload"
    for name in examples:
        assert f"| {name} |" in written
    assert "| Invalid cases caught |" in written
    assert "MV-Referral" in written and "beyond (b)" in written
