"""Time-boxed measurement loops shared by the in-process benchmarks (terminology, validation).

Each figure is the median over ``repeats`` loops of ``seconds`` each, so a slow moment of a
shared machine moves one loop, not the figure.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Seconds per loop and loops per figure."""

    seconds: float
    repeats: int


def rate(batch: Callable[[], int], settings: Settings) -> float:
    """Operations per second: median over repeats of a loop of ``batch`` for ``seconds``."""
    rates = []
    for _ in range(settings.repeats):
        budget = int(settings.seconds * 1e9)
        ops, start = 0, time.perf_counter_ns()
        while (elapsed := time.perf_counter_ns() - start) < budget:
            ops += batch()
        rates.append(ops / (elapsed / 1e9))
    return statistics.median(rates)


def async_rate(batch: Callable[[], Awaitable[int]], settings: Settings) -> float:
    async def run() -> float:
        rates = []
        for _ in range(settings.repeats):
            budget = int(settings.seconds * 1e9)
            ops, start = 0, time.perf_counter_ns()
            while (elapsed := time.perf_counter_ns() - start) < budget:
                ops += await batch()
            rates.append(ops / (elapsed / 1e9))
        return statistics.median(rates)

    return asyncio.run(run())


def latency(call: Callable[[], object], settings: Settings) -> dict[str, float]:
    """p50/p95 in ms of single calls, every sample of every repeat pooled."""
    samples: list[int] = []
    for _ in range(settings.repeats):
        budget = int(settings.seconds * 1e9)
        start = time.perf_counter_ns()
        while time.perf_counter_ns() - start < budget:
            t0 = time.perf_counter_ns()
            call()
            samples.append(time.perf_counter_ns() - t0)
    cuts = statistics.quantiles(samples, n=100, method="inclusive") if len(samples) > 1 else []
    p50 = cuts[49] if cuts else float(samples[0])
    p95 = cuts[94] if cuts else float(samples[0])
    return {"p50_ms": p50 / 1e6, "p95_ms": p95 / 1e6, "samples": len(samples)}


def commit(root: Path) -> str:
    """HEAD from .git's files, without running git: a benchmark must not take git's index
    lock while someone commits."""
    git = root / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:7]
        ref = head[5:]
        if (git / ref).exists():
            return (git / ref).read_text().strip()[:7]
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line[:7]
    except OSError:
        pass
    return "unknown"


def arguments(
    description: str | None, *, seconds: float, repeats: int, output: Path
) -> argparse.Namespace:
    """The options every in-process benchmark takes: loop length, loops, where to write."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--seconds", type=float, default=seconds, help=f"per loop (default {seconds})"
    )
    parser.add_argument(
        "--repeats", type=int, default=repeats, help=f"loops per figure (default {repeats})"
    )
    parser.add_argument("--output", type=Path, default=output)
    parser.add_argument("--no-write", action="store_true", help="print the section only")
    args = parser.parse_args()
    args.settings = Settings(seconds=args.seconds, repeats=args.repeats)
    return args
