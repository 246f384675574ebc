#!/usr/bin/env python3
"""Profile mitral-fhir under one of the benchmark loads with py-spy (a sampling profiler).

    python3 benchmarks/profile_load.py read                 # SQLite, 1 worker, 10 s
    python3 benchmarks/profile_load.py ingest --backend postgresql --duration 15

Starts the server, seeds it like run.py, runs the wrk load while ``py-spy record`` samples the
worker, and prints the functions with the most samples: self (the frame on top of the stack)
and inclusive (anywhere on the stack), plus which of our own (app/) frames the time is under.
The raw collapsed stacks are kept under benchmarks/.work/ for flame graph tools.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bootstrap import ensure_project_venv

if __name__ == "__main__":
    ensure_project_venv(__file__)

import argparse
import shutil
import time

import harness
from harness import log
from run import Options, Suite
from workload import Workload

SCRIPTS = {
    "ingest": ("post_bodies.lua", 4),
    "read": ("get_paths.lua", 32),
    "search": ("get_paths.lua", 32),
    "create": ("post_bodies.lua", 32),
}


def _frame_name(frame: str) -> str:
    """'handler (app/fhir/x.py:12)' -> 'handler (app/fhir/x.py)': lines merged per function."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/work/main/", "lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{name} ({path})"


def summarize(raw: Path, top: int) -> str:
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    ours: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [
            _frame_name(f) for f in stack.split(";") if "(" in f and not f.startswith("process ")
        ]
        if not frames:
            continue
        total += count
        self_time[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
        app_frames = [f for f in frames if "(app/" in f]
        if app_frames:
            ours[app_frames[-1]] += count
    out = [f"{total} samples (non-idle)", "", "Top self (function on top of the stack):"]
    out += [f"  {n / total:6.1%}  {name}" for name, n in self_time.most_common(top)]
    out += ["", "Top inclusive (function anywhere on the stack):"]
    out += [f"  {n / total:6.1%}  {name}" for name, n in inclusive.most_common(top)]
    out += ["", "Deepest app/ frame (where our code spends it, callees included):"]
    out += [f"  {n / total:6.1%}  {name}" for name, n in ours.most_common(top)]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("load", choices=sorted(SCRIPTS))
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--pg-url", default="postgresql://root@127.0.0.1:5432/test")
    args = parser.parse_args()

    harness.ensure_wrk()
    py_spy = harness.ensure_py_spy()
    stamp = time.strftime("%Y%m%d%H%M%S") + f"_{os.getpid()}"
    work = harness.WORK / f"profile-{stamp}"
    opts = Options(
        duration=args.duration, warmup=2.0, ingest_clients=4, connections=32,
        pg_url=args.pg_url, work=work, stamp=stamp,
    )  # fmt: skip
    suite = Suite(opts, Workload(bundles=40))
    schema = None
    if args.backend == "sqlite":
        url = f"sqlite:///{work / 'profile.sqlite3'}"
    else:
        schema = f"bench_{stamp}_profile"
        suite.schemas.append(schema)
        url = args.pg_url
    server = harness.start_ours(
        database_url=url, schema=schema, workers=args.workers, work=work, tag="profile"
    )
    raw = harness.WORK / f"profile-{args.load}-{args.backend}.txt"
    try:
        files = suite.seed(server, "profile")
        script, conns = SCRIPTS[args.load]
        script_args = {
            "ingest": [str(files.bundles), "/fhir"],
            "read": [str(files.reads)],
            "search": [str(files.searches)],
            "create": [str(files.creates), "/fhir/Patient"],
        }[args.load]
        harness.wrk(server.url, script, script_args, connections=conns, duration=2, timeout=60)
        spy = subprocess.Popen(
            [
                str(py_spy), "record", "--pid", str(server.proc.pid), "--subprocesses",
                "--nonblocking", "--rate", str(args.rate), "--duration", str(int(args.duration)),
                "--format", "raw", "--output", str(raw),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        result = harness.wrk(
            server.url, script, script_args, connections=conns, duration=args.duration,
            timeout=60,
        )  # fmt: skip
        spy.wait(timeout=args.duration + 60)
    finally:
        server.stop()
        suite.drop_schemas()
        shutil.rmtree(work, ignore_errors=True)
    log(
        f"{args.load} on {args.backend} ({args.workers} worker(s)): {result.rate:,.1f} req/s, "
        f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms, failed {result.errors}"
    )
    print(summarize(raw, args.top))
    log(f"raw collapsed stacks: {raw.relative_to(harness.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
