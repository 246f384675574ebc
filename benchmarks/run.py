#!/usr/bin/env python3
"""Run the mitral-fhir benchmark suite and write docs/benchmarks.md.

    python3 benchmarks/run.py            # full run, about 6-7 minutes
    python3 benchmarks/run.py --quick    # smoke run, about 2-3 minutes

Measures, on SQLite (1 and 2 workers) and PostgreSQL (2 workers): transaction-Bundle ingest,
read by id, token search and create, each against a floor measured in the same run on the
same database, and the same load against the nearest Python peer (sekmet-fhir) installed into
a throw-away venv under benchmarks/.work/. See benchmarks/README.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bootstrap import ensure_project_venv

if __name__ == "__main__":
    ensure_project_venv(__file__)

# The imports below need the project venv (orjson, httpx, asyncpg).
import argparse
import asyncio
import datetime as dt
import json
import os
import re
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any
from urllib.parse import quote

import asyncpg
import harness
import httpx
import orjson
import report
from harness import log
from workload import NHS_NUMBER, Workload

JSON_HEADERS = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}


@dataclass(frozen=True)
class Config:
    key: str
    label: str
    backend: str
    workers: int


CONFIGS = (
    Config("sqlite-1w", "SQLite, 1 worker", "sqlite", 1),
    Config("sqlite-2w", "SQLite, 2 workers", "sqlite", 2),
    Config("pg-2w", "PostgreSQL, 2 workers", "postgresql", 2),
)


PEER_VARIANTS = {
    "default": "its defaults",
    "nolog": "its defaults but `log_inbound: false` (traffic log off)",
}


@dataclass
class Options:
    duration: float
    warmup: float
    ingest_clients: int
    connections: int
    pg_url: str
    work: Path
    stamp: str
    background: int = 100
    """Ingest Bundles loaded into every server before the measurements."""


@dataclass
class Files:
    """Request data on disk for wrk, per server."""

    bundles: Path
    creates: Path
    reads: Path = field(default=Path())
    searches: Path = field(default=Path())


class Suite:
    def __init__(self, opts: Options, workload: Workload) -> None:
        self.opts = opts
        self.workload = workload
        self.results: dict[str, Any] = {"configs": {}, "peers": {}, "notes": []}
        opts.work.mkdir(parents=True, exist_ok=True)
        self.bundles_file = opts.work / "bundles.ndjson"
        self.bundles_file.write_bytes(b"\n".join(workload.bundles) + b"\n")
        self.creates_file = opts.work / "creates.ndjson"
        self.creates_file.write_bytes(b"\n".join(workload.create_bodies) + b"\n")
        self.schemas: list[str] = []

    # -- one server ---------------------------------------------------------------------

    def seed(self, server: harness.Server, tag: str) -> Files:
        """Load the same starting data into a server, check its answers, write wrk inputs.

        Every server starts the measurements with the same resources: the lookup Patients
        plus ``background`` ingest Bundles (so reads and searches run against tables of the
        same size everywhere, whatever each server's own write speed).
        """
        ids: list[str] = []
        with httpx.Client(base_url=server.url, timeout=120.0) as client:
            for body in self.workload.lookup_bundles():
                response = client.post("/fhir", content=body, headers=JSON_HEADERS)
                response.raise_for_status()
                for entry in response.json()["entry"]:
                    match = re.search(r"Patient/([^/]+)/_history", entry["response"]["location"])
                    assert match, entry
                    ids.append(match.group(1))
            self._preflight(client, ids[0], server.name)
            for i in range(self.opts.background - 1):  # the preflight posted one already
                body = self.workload.bundles[i % len(self.workload.bundles)]
                client.post("/fhir", content=body, headers=JSON_HEADERS).raise_for_status()
        numbers = self.workload.lookup_nhs_numbers()
        files = Files(self.bundles_file, self.creates_file)
        files.reads = self.opts.work / f"{tag}-reads.txt"
        files.reads.write_text("".join(f"/fhir/Patient/{i}\n" for i in ids))
        files.searches = self.opts.work / f"{tag}-searches.txt"
        files.searches.write_text(
            "".join(
                f"/fhir/Patient?identifier={quote(f'{NHS_NUMBER}|{n}', safe=':/')}\n"
                for n in numbers
            )
        )
        return files

    def _preflight(self, client: httpx.Client, patient_id: str, name: str) -> None:
        read = client.get(f"/fhir/Patient/{patient_id}", headers=JSON_HEADERS)
        assert read.status_code == 200, (name, read.status_code, read.text[:500])
        number = self.workload.lookup_nhs_numbers()[0]
        found = client.get("/fhir/Patient", params={"identifier": f"{NHS_NUMBER}|{number}"})
        assert found.status_code == 200, (name, found.text[:500])
        assert len(found.json().get("entry", [])) == 1, (name, "search should match one")
        posted = client.post("/fhir", content=self.workload.bundles[0], headers=JSON_HEADERS)
        assert posted.status_code == 200, (name, posted.status_code, posted.text[:1000])
        created = [e for e in posted.json()["entry"] if e["response"]["status"].startswith("201")]
        assert len(created) == self.workload.bundle_size, (name, len(created))
        one = client.post(
            "/fhir/Patient", content=self.workload.create_bodies[0], headers=JSON_HEADERS
        )
        assert one.status_code == 201, (name, one.status_code, one.text[:500])

    def _wrk(
        self,
        server: harness.Server,
        what: str,
        script: str,
        args: list[str],
        *,
        conns: int,
        timeout: int = 10,
    ) -> harness.WrkResult:
        warm = harness.wrk(
            server.url, script, args, connections=conns, duration=self.opts.warmup, timeout=timeout
        )
        result = harness.wrk(
            server.url,
            script,
            args,
            connections=conns,
            duration=self.opts.duration,
            timeout=timeout,
        )
        for phase, r in (("warm-up", warm), ("measured", result)):
            if r.errors:
                note = f"{server.name} {what} ({phase}): {r.errors} failed requests"
                log("WARNING " + note)
                self.results["notes"].append(note)
        log(
            f"  {server.name} {what}: {result.rate:,.1f} req/s, p50 {result.p50_ms:.2f} ms, "
            f"p99 {result.p99_ms:.2f} ms, errors {result.errors}"
        )
        return result

    def http_load(
        self, server: harness.Server, files: Files, floor: harness.Server | None = None
    ) -> dict[str, Any]:
        """Read (then the read floor, if given), search, create and ingest, in that order.

        Reads and searches come first, so they see the same data on every server; the
        writes that follow grow each database by as much as that server manages to write.
        """
        c = self.opts.connections
        out: dict[str, Any] = {}
        out["read"] = self._wrk(
            server, "read", "get_paths.lua", [str(files.reads)], conns=c
        ).as_dict()
        if floor is not None:
            out["floor_read"] = self._wrk(
                floor, "read", "get_paths.lua", [str(files.reads)], conns=c
            ).as_dict()
        out["search"] = self._wrk(
            server, "search", "get_paths.lua", [str(files.searches)], conns=c
        ).as_dict()
        out["create"] = self._wrk(
            server, "create", "post_bodies.lua", [str(files.creates), "/fhir/Patient"], conns=c
        ).as_dict()
        size = self.workload.bundle_size
        ingest = self._wrk(
            server,
            "ingest",
            "post_bodies.lua",
            [str(files.bundles), "/fhir"],
            conns=self.opts.ingest_clients,
            timeout=60,
        )
        out["ingest"] = ingest.as_dict() | {"resources_per_s": round(ingest.rate * size, 1)}
        log(f"  {server.name} ingest: {ingest.rate * size:,.0f} resources/s")
        return out

    # -- floors -------------------------------------------------------------------------

    def floor_ingest(self, url: str, schema: str | None, processes: int) -> dict[str, Any]:
        argv = [
            str(harness.VENV_PY),
            str(harness.BENCH / "floor_ingest.py"),
            "--database-url",
            url,
            "--bundles",
            str(self.bundles_file),
            "--processes",
            str(processes),
            "--concurrency",
            str(self.opts.ingest_clients),
            "--warmup",
            str(self.opts.warmup),
            "--duration",
            str(self.opts.duration),
        ]
        if schema:
            argv += ["--schema", schema]
        run = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=600)
        data: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
        data["resources_per_s"] = round(data["resources"] / data["seconds"], 1)
        log(f"  floor ingest: {data['resources_per_s']:,.0f} resources/s")
        return data

    def start_floor_read(
        self, url: str, schema: str | None, workers: int, files: Files, tag: str
    ) -> harness.Server:
        floor = harness.start_floor_app(
            database_url=url,
            schema=schema,
            workers=workers,
            work=self.opts.work,
            tag=f"{tag}-floor",
        )
        probe = httpx.get(floor.url + files.reads.read_text().split("\n", 1)[0])
        if probe.status_code != 200:
            floor.stop()
            raise RuntimeError(f"the read floor answered {probe.status_code}")
        return floor

    # -- configurations -----------------------------------------------------------------

    def run_config(self, cfg: Config) -> None:
        log(f"== mitral-fhir on {cfg.label}")
        schema = None
        if cfg.backend == "sqlite":
            db_path = self.opts.work / f"{cfg.key}.sqlite3"
            url = f"sqlite:///{db_path}"
        else:
            schema = f"bench_{self.opts.stamp}_{cfg.key.replace('-', '_')}"
            self.schemas.append(schema)
            url = self.opts.pg_url
        server = harness.start_ours(
            database_url=url, schema=schema, workers=cfg.workers, work=self.opts.work, tag=cfg.key
        )
        floor = None
        try:
            files = self.seed(server, cfg.key)
            # The read floor runs beside the (idle) server, on the same data, loaded in turn.
            floor = self.start_floor_read(url, schema, cfg.workers, files, cfg.key)
            ours = self.http_load(server, files, floor)
        finally:
            server.stop()
            if floor is not None:
                floor.stop()
        floors = {
            "read": ours.pop("floor_read"),
            "ingest": self.floor_ingest(url, schema, cfg.workers),
        }
        self.results["configs"][cfg.key] = {
            "label": cfg.label,
            "backend": cfg.backend,
            "workers": cfg.workers,
            "ours": ours,
            "floor": floors,
        }

    def run_peer(self, variant: str) -> None:
        """The peer with its defaults ("default"), or with its traffic log off ("nolog")."""
        label = PEER_VARIANTS[variant]
        log(f"== peer: {harness.PEER_PACKAGE} {harness.PEER_VERSION}, {label}")
        settings = "log_inbound: false\n" if variant == "nolog" else None
        try:
            peer_bin = harness.ensure_peer()
            server = harness.start_peer(
                peer_bin, work=self.opts.work, tag=f"peer-{variant}", settings=settings
            )
        except (subprocess.CalledProcessError, RuntimeError) as exc:
            self.results["peers"][variant] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
            log(f"peer could not run: {exc}")
            return
        try:
            files = self.seed(server, f"peer-{variant}")
            self.results["peers"][variant] = self.http_load(server, files)
        except (AssertionError, RuntimeError, httpx.HTTPError) as exc:
            self.results["peers"][variant] = {"error": f"{type(exc).__name__}: {exc}"[:2000]}
            log(f"peer failed: {exc}\n{server.tail()}")
        finally:
            server.stop()

    def drop_schemas(self) -> None:
        async def drop() -> None:
            conn = await asyncpg.connect(self.opts.pg_url)
            try:
                for schema in self.schemas:
                    await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            finally:
                await conn.close()

        if self.schemas:
            asyncio.run(drop())
            log(f"dropped PostgreSQL schemas {', '.join(self.schemas)}")


def postgres_version(url: str) -> str | None:
    async def version() -> str:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            value: str = await conn.fetchval("SHOW server_version")
            return value
        finally:
            await conn.close()

    try:
        return asyncio.run(version())
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        log(f"PostgreSQL not reachable at {url}: {exc}")
        return None


def _versions(pg: str | None) -> dict[str, str]:
    packages = ("uvicorn", "uvloop", "httptools", "fastapi", "starlette", "orjson", "asyncpg")
    return {
        "PostgreSQL": pg or "not reachable (skipped)",
        "SQLite": sqlite3.sqlite_version,
        **{p: metadata.version(p) for p in packages},
    }


def _remarks() -> list[str]:
    """Facts about the server under test that a reader needs to weigh the figures."""
    remarks = [
        "The peer has no worker option (one process); the SQLite, 1 worker configuration is "
        "the like-for-like comparison, the 2-worker ones show what the extra process buys.",
    ]
    try:
        from app.search.parameters import INDEXED
    except ImportError:
        return remarks
    remarks.append(
        "mitral-fhir indexes these search parameters on write in this build: "
        f"{', '.join(f'`{p}`' for p in sorted(INDEXED))} (plus `_id`/`_lastUpdated` from the "
        "resource table); the peer indexes all of its search parameters on write, so per "
        "resource it does more index work on ingest and create."
    )
    return remarks


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run (3 s per load)")
    parser.add_argument("--duration", type=float, help="seconds per measured load (default 10)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per load (default 3)")
    parser.add_argument("--pg-url", default="postgresql://root@127.0.0.1:5432/test")
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument(
        "--only", help="comma-separated subset of: " + ",".join(c.key for c in CONFIGS) + ",peer"
    )
    parser.add_argument("--output", default=str(harness.ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--keep", action="store_true", help="keep the run's work directory")
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="rewrite the output from the last run's raw figures (benchmarks/.work) and exit",
    )
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if args.render_only:
        results = orjson.loads((harness.WORK / "last-results.json").read_bytes())
        output = Path(args.output)
        output.write_text(report.with_owned_sections(report.render(results), output))
        log(f"rewrote {args.output} from the last run's figures")
        return 0
    started = time.monotonic()
    stamp = time.strftime("%Y%m%d%H%M%S") + f"_{os.getpid()}"
    opts = Options(
        duration=args.duration or (3.0 if args.quick else 10.0),
        warmup=args.warmup or (1.0 if args.quick else 3.0),
        ingest_clients=4,
        connections=32,
        pg_url=args.pg_url,
        work=harness.WORK / f"run-{stamp}",
        stamp=stamp,
    )
    wanted = set(args.only.split(",")) if args.only else {c.key for c in CONFIGS} | {"peer"}
    harness.ensure_wrk()
    source = harness.source_state()
    pg = None if args.skip_pg else postgres_version(args.pg_url)
    opts.background = 20 if args.quick else 100
    workload = Workload(bundles=20 if args.quick else 40)
    suite = Suite(opts, workload)
    if pg is None and "pg-2w" in wanted:
        reason = "--skip-pg was given" if args.skip_pg else f"it was not reachable at {args.pg_url}"
        suite.results["notes"].append(f"PostgreSQL was not measured: {reason}.")
    try:
        for cfg in CONFIGS:
            if cfg.key not in wanted or (cfg.backend == "postgresql" and pg is None):
                continue
            suite.run_config(cfg)
        if "peer" in wanted and not args.skip_peer:
            for variant in PEER_VARIANTS:
                suite.run_peer(variant)
    finally:
        suite.drop_schemas()
        if not args.keep:
            shutil.rmtree(opts.work, ignore_errors=True)
    source_after = harness.source_state()
    if source_after["app_digest"] != source["app_digest"]:
        suite.results["notes"].append(
            "app/ changed on disk during this run (other work in progress): configurations "
            f"measured at different times may have run different code (commit {source['commit']} "
            f"at the start, {source_after['commit']} at the end)."
        )
    meta = {
        "command": os.environ.get("BENCH_COMMAND")
        or " ".join(["python3", "benchmarks/run.py", *sys.argv[1:]]),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": harness.machine_info(),
        "versions": _versions(pg),
        "source": source,
        "peer": f"{harness.PEER_PACKAGE} {harness.PEER_VERSION}",
        "duration": opts.duration,
        "warmup": opts.warmup,
        "ingest_clients": opts.ingest_clients,
        "connections": opts.connections,
        "bundle_size": workload.bundle_size,
        "bundles": len(workload.bundles),
        "background": opts.background,
        "lookup": len(workload.lookup_patients),
        "elapsed_s": round(time.monotonic() - started),
        "remarks": _remarks(),
    }
    suite.results["meta"] = meta
    raw = harness.WORK / "last-results.json"
    raw.write_bytes(orjson.dumps(suite.results, option=orjson.OPT_INDENT_2))
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(report.with_owned_sections(report.render(suite.results), output))
    log(
        f"wrote {output} (raw figures: {raw.relative_to(harness.ROOT)}); took {meta['elapsed_s']} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
