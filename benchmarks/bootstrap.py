"""Standard library only: re-run a benchmark script under the project venv."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
VENV_PY = VENV / "bin" / "python"


def ensure_project_venv(script: str) -> None:
    """Re-exec ``script`` under .venv (creating it if missing): our server lives there."""
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    if not VENV_PY.exists():
        print("creating the project venv (.venv) and installing mitral-fhir ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run(
            [str(VENV_PY), "-m", "pip", "install", "--quiet", "-e", str(ROOT)], check=True
        )
    name = Path(script).name
    os.environ.setdefault(
        "BENCH_COMMAND", " ".join(["python3", f"benchmarks/{name}", *sys.argv[1:]])
    )
    os.execv(str(VENV_PY), [str(VENV_PY), str(Path(script).resolve()), *sys.argv[1:]])
