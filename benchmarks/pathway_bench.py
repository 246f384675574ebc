#!/usr/bin/env python3
"""Pathway derivation and metrics at scale (issue 7).

    python3 benchmarks/pathway_bench.py                  # 20,000 patients, both backends
    python3 benchmarks/pathway_bench.py --patients 200 --backends sqlite --no-write   # smoke

Per backend, into a fresh database, this process pinned to one core:
1. the synthetic feeds of ``mitral-fhir synth`` (``--patients``, fixed seed) are ingested
   (not timed here: benchmarks/ingest_bench.py measures ingest);
2. first build: every queued patient derived (CarePlans created, episode rows written);
3. rebuild: ``derivation.rebuild`` (what ``mitral-fhir pathway rebuild`` runs) with nothing
   changed; the floor is the same SQL reads alone (loading every patient's resources);
4. incremental: a second, small cohort ingested file by file with a derivation after each
   file, as the background task does: derivation time per ingested message;
5. metrics: the episode rows cloned up to ``--metrics-episodes`` (100,000), then every
   ``/api/metrics`` query timed over HTTP (in process), median of 5.
Targets: rebuild <= 60 s for 100,000 patients, each metrics query <= 1 s, incremental
derivation <= 2 ms per message. Writes the "Pathway" section of docs/benchmarks.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bootstrap import ensure_project_venv

if __name__ == "__main__":
    ensure_project_venv(__file__)

import argparse
import asyncio
import datetime as dt
import os
import shutil
import statistics
import time
import uuid
from dataclasses import dataclass, field, replace

import harness
import httpx
import loops
import sections

sys.path.insert(0, str(harness.ROOT))

from app.config import Settings
from app.fhir.context import FhirContext
from app.ingest.pipeline import Ingestor
from app.ingest.synth import generate
from app.main import create_app
from app.pathway import derivation, episode_rows
from app.storage import migrate

START, END = sections.markers("pathway-bench")
SEED, SMALL_SEED, SMALL = 20261203, 7, 300


@dataclass
class Figures:
    backend: str
    patients: int = 0
    episodes: int = 0
    first_build: float = 0.0
    rebuild: float = 0.0
    floor: float = 0.0
    incremental_messages: int = 0
    incremental_seconds: float = 0.0
    batched_messages: int = 0
    batched_seconds: float = 0.0
    metric_episodes: int = 0
    metrics: dict[str, float] = field(default_factory=dict)


def _feeds(patients: int, seed: int) -> Path:
    feeds = harness.WORK / f"pathway-feeds-{patients}-{seed}"
    if not (feeds / "manifest.json").exists():
        shutil.rmtree(feeds, ignore_errors=True)
        harness.log(f"generating feeds for {patients} patients")
        generate(patients=patients, seed=seed, out=feeds)
    return feeds


def _files(feeds: Path, centre: str) -> list[Path]:
    return sorted(p for p in (feeds / centre).rglob("*") if p.is_file() and p.suffix != ".md")


async def _ingest(ingestor: Ingestor, feeds: Path) -> None:
    for centre in sorted(ingestor.specs):
        files = _files(feeds, centre)
        await ingestor.receive_many(centre, ((p.read_bytes(), p.name) for p in files))


async def _incremental(ingestor: Ingestor, feeds: Path, every: int) -> tuple[int, float]:
    """Ingest file by file, deriving after every ``every`` files: 1 is the worst case (one
    derivation per message); the background task derives once a second, i.e. after however
    many messages arrived in that second."""
    messages, seconds, pending = 0, 0.0, 0
    for centre in sorted(ingestor.specs):
        for path in _files(feeds, centre):
            receipt = await ingestor.receive(centre, path.read_bytes(), source_name=path.name)
            messages += len(receipt.units)
            pending += 1
            if pending >= every:
                start = time.perf_counter()
                await derivation.drain(ingestor.ctx)
                seconds += time.perf_counter() - start
                pending = 0
    start = time.perf_counter()
    await derivation.drain(ingestor.ctx)
    return messages, seconds + time.perf_counter() - start


async def _floor(ctx: FhirContext) -> float:
    """The reads of a rebuild alone: every patient's resources, in the same batches."""
    async with ctx.db.read() as conn:
        ids = [
            r[0]
            for r in await conn.fetch("SELECT res_id FROM resource WHERE res_type = $1", "Patient")
        ]
    start = time.perf_counter()
    for at in range(0, len(ids), derivation.BATCH):
        async with ctx.store.write() as tx:
            await derivation.load_raw(await tx.connection(), ids[at : at + derivation.BATCH])
    return time.perf_counter() - start


async def _clone_episodes(ctx: FhirContext, target: int) -> int:
    async with ctx.db.read() as conn:
        real = await episode_rows.load(conn)
    if not real:
        return 0
    clones = []
    copy = 0
    while len(real) + len(clones) < target:
        copy += 1
        for e in real:
            if len(real) + len(clones) >= target:
                break
            clones.append(
                replace(
                    e, patient_id=f"{e.patient_id}-c{copy}", careplan_id=f"{e.careplan_id}-c{copy}"
                )
            )
    async with ctx.db.write() as conn:
        for at in range(0, len(clones), 5000):
            part = clones[at : at + 5000]
            await episode_rows.replace(conn, [], part)
    return len(real) + len(clones)


async def _metrics(app: object) -> dict[str, float]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    timings: dict[str, float] = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        listed = (await client.get("/api/metrics")).json()
        ids = [
            m["id"] for m in (listed.get("metrics", listed) if isinstance(listed, dict) else listed)
        ]
        for metric in ids:
            runs = []
            for _ in range(5):
                start = time.perf_counter()
                response = await client.get(
                    f"/api/metrics/{metric}", params={"start": "2020-01-01", "end": "2030-12-31"}
                )
                runs.append(time.perf_counter() - start)
                assert response.status_code == 200, response.text
            timings[metric] = statistics.median(runs)
    return timings


async def _run_backend(backend: str, pg_url: str, args: argparse.Namespace) -> Figures:
    if backend == "sqlite":
        path = harness.WORK / f"pathway-bench-{uuid.uuid4().hex[:8]}.sqlite3"
        url, schema = f"sqlite:///{path}", None
    else:
        url, schema = pg_url, f"bench_pathway_{uuid.uuid4().hex[:8]}"
    migrate.upgrade(url, schema=schema)
    settings = Settings(
        database_url=url,
        database_schema=schema,
        ingest_background=False,
        pathway_background=False,
        demo_data=False,
        access_control=False,  # the metric queries are measured here, not tokens (security_bench)
        audit=False,
    )
    app = create_app(settings)
    figures = Figures(backend)
    try:
        async with app.router.lifespan_context(app):
            ctx: FhirContext = app.state.fhir
            ingestor: Ingestor = app.state.ingestor
            harness.log(f"{backend}: ingesting {args.patients} patients")
            await _ingest(ingestor, _feeds(args.patients, SEED))
            start = time.perf_counter()
            await derivation.analyze(ctx)  # as `mitral-fhir ingest` does after its files
            built = await derivation.drain(ctx)
            figures.first_build = time.perf_counter() - start
            figures.patients, figures.episodes = built.patients, built.episodes
            start = time.perf_counter()
            again = await derivation.rebuild(ctx)
            figures.rebuild = time.perf_counter() - start
            assert again.written == 0, "a rebuild of unchanged data wrote CarePlans"
            figures.floor = await _floor(ctx)
            harness.log(
                f"{backend}: {figures.patients} patients, first build {figures.first_build:.1f} s, "
                f"rebuild {figures.rebuild:.1f} s (floor {figures.floor:.1f} s)"
            )
            messages, seconds = await _incremental(ingestor, _feeds(SMALL, SMALL_SEED), 1)
            figures.incremental_messages, figures.incremental_seconds = messages, seconds
            messages, seconds = await _incremental(ingestor, _feeds(SMALL, SMALL_SEED + 1), 100)
            figures.batched_messages, figures.batched_seconds = messages, seconds
            if args.skip_metrics:
                return figures
            figures.metric_episodes = await _clone_episodes(ctx, args.metrics_episodes)
            figures.metrics = await _metrics(app)
            harness.log(
                f"{backend}: metrics at {figures.metric_episodes} episodes: {figures.metrics}"
            )
    finally:
        if schema is None:
            for suffix in ("", "-wal", "-shm"):
                Path(url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
        else:
            import psycopg

            with psycopg.connect("postgresql://" + url.partition("://")[2], autocommit=True) as c:
                c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    return figures


def _section(all_figures: list[Figures], patients: int) -> str:
    info = harness.machine_info()
    lines = [
        START,
        "## Pathway derivation and metrics (issue 7)",
        "",
        f"`python3 benchmarks/pathway_bench.py --patients {patients}` on "
        f"{info.get('CPU', 'unknown')}, {dt.date.today().isoformat()}, commit "
        f"{loops.commit(harness.ROOT)}; this process pinned to one core. Feeds of `mitral-fhir "
        f"synth --patients {patients} --seed {SEED}` ingested into a fresh database per backend.",
        "",
        "| Backend | Patients | Episodes | First build | Rebuild (unchanged) "
        "| Rebuild floor (reads only) | Rebuild per 100,000 patients (target <= 60 s) "
        "| Incremental per message (target <= 2 ms): a derivation per message "
        "| ... a derivation per 100 files |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in all_figures:
        per_100k = f.rebuild / max(f.patients, 1) * 100_000
        per_message = f.incremental_seconds / max(f.incremental_messages, 1) * 1000
        batched = f.batched_seconds / max(f.batched_messages, 1) * 1000
        lines.append(
            f"| {f.backend} | {f.patients:,} | {f.episodes:,} | {f.first_build:.1f} s "
            f"| {f.rebuild:.1f} s | {f.floor:.1f} s ({f.rebuild / max(f.floor, 1e-9):.1f}x) "
            f"| {per_100k:.0f} s ({'met' if per_100k <= 60 else '**missed**'}) "
            f"| {per_message:.2f} ms over {f.incremental_messages:,} messages "
            f"({'met' if per_message <= 2 else '**missed**'}) "
            f"| {batched:.2f} ms over {f.batched_messages:,} messages "
            f"({'met' if batched <= 2 else '**missed**'}) |"
        )
    lines += ["", "Metrics queries over HTTP (median of 5, whole period, no grouping):", ""]
    metric_ids = sorted({m for f in all_figures for m in f.metrics})
    lines.append(
        "| Metric | "
        + " | ".join(f"{f.backend} ({f.metric_episodes:,} episodes)" for f in all_figures)
        + " |"
    )
    lines.append("|---|" + "---:|" * len(all_figures))
    for metric in metric_ids:
        cells = []
        for f in all_figures:
            value = f.metrics.get(metric)
            cells.append("n/a" if value is None else f"{value * 1000:.0f} ms")
        lines.append(f"| {metric} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Rebuild per 100,000 patients is the measured rebuild scaled linearly (it works in "
        "fixed batches of patients, each a constant number of statements). The metrics run "
        "over the derived episode rows cloned up to the stated count (same distributions).",
        END,
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--metrics-episodes", type=int, default=100_000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "MITRAL_FHIR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--output", type=Path, default=harness.ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument(
        "--skip-metrics",
        action="store_true",
        help="derivation figures only (no episode cloning, no metrics queries)",
    )
    args = parser.parse_args()
    if args.skip_metrics and not args.no_write:
        parser.error("--skip-metrics leaves the metrics table empty: use it with --no-write")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    figures = [
        asyncio.run(_run_backend(b.strip(), args.pg_url, args)) for b in args.backends.split(",")
    ]
    section = _section(figures, args.patients)
    if args.no_write:
        print(section)
    else:
        sections.write(args.output, "pathway-bench", section)
        harness.log(f"wrote the pathway section of {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
