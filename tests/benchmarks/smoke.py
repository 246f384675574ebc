"""Run an in-process benchmark script with tiny loops into a scratch copy of
docs/benchmarks.md, and check it replaced its own section and nothing else."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_section(script: str, marker: str, tmp_path: Path, seconds: float = 0.02) -> str:
    """The output file after ``script`` ran; asserts only the ``marker`` section changed."""
    start, end = f"<!-- {marker}:start -->", f"<!-- {marker}:end -->"
    output = tmp_path / "benchmarks.md"
    output.write_text(f"# Benchmarks\n\nKeep me.\n\n{start}\nstale figures\n{end}\n\nAnd me.\n")
    command = [sys.executable, str(ROOT / "benchmarks" / script)]
    command += ["--seconds", str(seconds), "--repeats", "1", "--output", str(output)]
    run = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert run.returncode == 0, run.stderr
    written = output.read_text()
    assert written.count(start) == 1
    assert "stale figures" not in written
    assert "Keep me." in written
    assert "And me." in written
    return written
