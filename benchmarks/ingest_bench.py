#!/usr/bin/env python3
"""Centre ingest end to end (log, parse, map, validate, store) against parse-only floors.

    python3 benchmarks/ingest_bench.py            # a few minutes, writes docs/benchmarks.md
    python3 benchmarks/ingest_bench.py --patients 100 --backends sqlite --no-write   # smoke run

The synthetic feeds of ``mitral-fhir synth`` (``--patients``, fixed seed) are ingested centre
by centre through ``Ingestor.receive_many``, the call ``mitral-fhir ingest`` makes, into a
fresh database per backend, with this process pinned to one core. For each source kind the
same run measures the floor: reading the same files with the same parsers and nothing else
(HL7 v2: split + parse; CSV: read every row; FHIR: ``read_bundle``). Targets (issue 6):
HL7 v2 >= 500 messages/s, CSV >= 1,000 rows/s, FHIR Bundles >= 1,000 resources/s. Also
checks that every unit ended mapped or quarantined.
Writes the "Centre ingest" section of docs/benchmarks.md between markers.
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
import json
import os
import shutil
import time
import uuid
from dataclasses import dataclass

import harness
import loops
import sections

sys.path.insert(0, str(harness.ROOT))

import contextlib

from app.config import Settings
from app.ingest.csv_source import read_csv
from app.ingest.fhir_source import read_bundle
from app.ingest.hl7v2.parse import parse_message
from app.ingest.hl7v2.split import split_messages
from app.ingest.mapping.spec import Spec
from app.ingest.pipeline import CHUNK, LOG_BATCH, OVERLAPPED_CHUNK, Ingestor
from app.ingest.records import SourceError
from app.ingest.synth import generate
from app.main import create_app
from app.storage import migrate

START, END = sections.markers("ingest-bench")
SEED = 20261202
KINDS = {
    "hl7v2": (("kings", "barts"), "messages", 500),
    "csv": (("st-georges", "harefield"), "rows", 1000),
    "fhir": (("st-thomas", "royal-brompton"), "resources", 1000),
}


@dataclass
class Figure:
    backend: str
    kind: str
    units: int
    items: int
    """Messages, rows or Bundle entries: what the target counts."""
    mapped: int
    quarantined: int
    bad: int
    """Units the generator made bad on purpose (its manifest)."""
    seconds: float
    floor_seconds: float

    @property
    def rate(self) -> float:
        return self.items / self.seconds

    @property
    def floor_rate(self) -> float:
        return self.items / self.floor_seconds


def _files(feeds: Path, centre: str) -> list[Path]:
    return sorted(p for p in (feeds / centre).rglob("*") if p.is_file() and p.suffix != ".md")


def _floor(kind: str, spec: Spec, files: list[Path]) -> tuple[float, int]:
    """Seconds to read the files with the parsers alone, and the items read."""
    items = 0
    start = time.perf_counter()
    for path in files:
        data = path.read_bytes()
        if kind == "hl7v2":
            for raw in split_messages(data):
                with contextlib.suppress(SourceError):
                    parse_message(raw)
                items += 1
        elif kind == "csv":
            assert spec.csv is not None
            try:
                parsed = read_csv(
                    data,
                    columns=spec.csv.columns,
                    required=spec.csv.required,
                    delimiter=spec.csv.delimiter,
                    encoding=spec.csv.encoding,
                    kind=spec.csv.kind,
                )
            except SourceError:
                continue
            items += sum(1 for _row in parsed.rows())
        else:
            try:
                items += len(read_bundle(data))
            except SourceError:
                items += 1
    return time.perf_counter() - start, items


async def _ingest(
    ingestor: Ingestor, centre: str, files: list[Path]
) -> tuple[float, int, int, int]:
    units = mapped = quarantined = 0
    start = time.perf_counter()
    receipts = await ingestor.receive_many(centre, ((p.read_bytes(), p.name) for p in files))
    for receipt in receipts:
        units += len(receipt.units)
        mapped += receipt.count("mapped")
        quarantined += receipt.count("quarantined")
    return time.perf_counter() - start, units, mapped, quarantined


def _database(backend: str, pg_url: str) -> tuple[str, str | None]:
    if backend == "sqlite":
        path = harness.WORK / f"ingest-bench-{uuid.uuid4().hex[:8]}.sqlite3"
        return f"sqlite:///{path}", None
    return pg_url, f"bench_ingest_{uuid.uuid4().hex[:8]}"


def _drop(url: str, schema: str | None) -> None:
    if schema is None:
        path = Path(url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
        return
    import psycopg

    with psycopg.connect("postgresql://" + url.partition("://")[2], autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _bad(feeds: Path, centres: tuple[str, ...]) -> int:
    manifest = json.loads((feeds / "manifest.json").read_text())["centres"]
    return sum(int(manifest.get(c, {}).get("bad", 0)) for c in centres)


async def _run_backend(backend: str, pg_url: str, feeds: Path) -> list[Figure]:
    url, schema = _database(backend, pg_url)
    migrate.upgrade(url, schema=schema)
    settings = Settings(
        database_url=url,
        database_schema=schema,
        ingest_background=False,
        pathway_background=False,  # measured on its own: benchmarks/pathway_bench.py
        demo_data=False,
    )
    app = create_app(settings)
    figures: list[Figure] = []
    try:
        async with app.router.lifespan_context(app):
            ingestor: Ingestor = app.state.ingestor
            for kind, (centres, _unit, _target) in KINDS.items():
                seconds = floor_seconds = 0.0
                units = items = mapped = quarantined = 0
                for centre in centres:
                    files = _files(feeds, centre)
                    took, count = _floor(kind, ingestor.spec(centre), files)
                    floor_seconds += took
                    items += count
                    took, n, m, q = await _ingest(ingestor, centre, files)
                    seconds += took
                    units, mapped, quarantined = units + n, mapped + m, quarantined + q
                bad = _bad(feeds, centres)
                figures.append(
                    Figure(
                        backend,
                        kind,
                        units,
                        items,
                        mapped,
                        quarantined,
                        bad,
                        seconds,
                        floor_seconds,
                    )
                )
                harness.log(
                    f"{backend} {kind}: {items / seconds:,.0f} {KINDS[kind][1]}/s "
                    f"(floor {items / floor_seconds:,.0f}/s); {units} units, {mapped} mapped, "
                    f"{quarantined} quarantined"
                )
    finally:
        _drop(url, schema)
    return figures


def _section(figures: list[Figure], patients: int) -> str:
    info = harness.machine_info()
    lines = [
        START,
        "## Centre ingest (issue 6)",
        "",
        f"`python3 benchmarks/ingest_bench.py --patients {patients}` on "
        f"{info.get('CPU', 'unknown')}, {dt.date.today().isoformat()}, commit "
        f"{loops.commit(harness.ROOT)}; this process pinned to one core (PostgreSQL's server "
        "runs in its own process). The synthetic feeds of `mitral-fhir synth --patients "
        f"{patients} --seed {SEED}` go through `Ingestor.receive_many` (log, parse, map, validate "
        "against the MV profiles, write with Provenance), into a fresh database. The floor is "
        "the same files read by the same parsers alone, in the same run.",
        "",
        "| Backend | Feed | Items | Units | Mapped | Quarantined (bad on purpose) | End to end "
        "| Target | Parse-only floor | Floor / end to end |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in figures:
        _centres, unit, target = KINDS[f.kind]
        met = "met" if f.rate >= target else "**missed**"
        lines.append(
            f"| {f.backend} | {f.kind} ({', '.join(_centres)}) | {f.items:,} {unit} | {f.units:,} "
            f"| {f.mapped:,} | {f.quarantined:,} ({f.bad:,}) | {f.rate:,.0f} {unit}/s "
            f"| >= {target:,} "
            f"({met}) | {f.floor_rate:,.0f}/s | {f.floor_rate / f.rate:.1f}x |"
        )
    lines += [
        "",
        "Every unit ended mapped or quarantined (checked by the run); the generator's manifest "
        "says how many units it made bad on purpose (invalid NHS numbers and dates, unknown "
        "codes, truncated messages: docs/centres.md).",
        "",
        "How the files go in: `Ingestor.receive_many`, what `mitral-fhir ingest` runs, logs "
        f"and maps units in batches that cross file boundaries ({LOG_BATCH} units logged per "
        f"transaction, {CHUNK} mapped and written per transaction on SQLite, "
        f"{OVERLAPPED_CHUNK} on PostgreSQL, the next chunk mapped while one is written), so a "
        "feed of many small files "
        "(one Bundle per file, daily CSV extracts) costs a commit per batch, not two per file. "
        "`POST /ingest/{centre}` takes one input per request and pays its own two commits.",
        "",
        "Where the time goes (cProfile of the CSV feed after the HL7 v2 feeds, SQLite): about "
        "30 % validation against the MV profiles (verdicts for identical content are "
        "remembered), 13 % mapping, and most of the rest the writes: each resource's index "
        "rows (about 15 per resource version across seven tables, keyed by random ids, so "
        "nearly every insert dirties its own B-tree page, which the commit then writes), the "
        "Provenance, the regional Patient merge. A write transaction locks and reads the "
        "current versions of a whole chunk in one statement each (`WriteTx.prefetch`), which "
        "is what closed most of the PostgreSQL gap (one round trip per resource before).",
        END,
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get(
            "MITRAL_FHIR_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
        ),
    )
    parser.add_argument("--output", type=Path, default=harness.ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    feeds = harness.WORK / f"ingest-feeds-{args.patients}-{SEED}"
    if not (feeds / "manifest.json").exists():
        shutil.rmtree(feeds, ignore_errors=True)
        harness.log(f"generating feeds for {args.patients} patients")
        generate(patients=args.patients, seed=SEED, out=feeds)
    figures: list[Figure] = []
    for backend in args.backends.split(","):
        figures.extend(asyncio.run(_run_backend(backend.strip(), args.pg_url, feeds)))
    for f in figures:
        assert f.mapped + f.quarantined == f.units, f"{f.backend} {f.kind}: units lost"
    section = _section(figures, args.patients)
    if args.no_write:
        print(section)
    else:
        sections.write(args.output, "ingest-bench", section)
        harness.log(f"wrote the centre ingest section of {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
