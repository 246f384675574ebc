#!/usr/bin/env python3
"""Search at scale: typical pathway queries over HTTP against a large generated store.

    python3 benchmarks/search_bench.py                      # 1,000,000 resources
    python3 benchmarks/search_bench.py --resources 200000   # a smaller store

For each backend (SQLite and PostgreSQL, a fresh database each, mitral-fhir with 2 workers):
generate the store (patients with their pathway resources), load it with transaction
Bundles over HTTP from several concurrent clients, then for each query measure p50/p95
latency over HTTP (wrk, fixed connections), the same question's hand-written SQL run
directly on the same database at the same concurrency (the SQL floor), and the same wrk load
against a bare ASGI app on the same uvicorn that runs that SQL and concatenates the rows'
bytes into a Bundle (the HTTP floor, floor_asgi.py); finally count the index rows and bytes
per resource. Writes the "Search at scale" section of docs/benchmarks.md (the rest of that
file belongs to benchmarks/run.py). See benchmarks/README.md.
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
import random
import re
import sqlite3
import subprocess
import threading
import time
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import floor_asgi
import harness
import httpx
import orjson
import search_data
import search_queries
import search_report
from harness import log
from search_queries import Item, Query

JSON_HEADERS = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
RAW = harness.WORK / "search-last-results.json"

LUA = r"""
local paths
local counter = 0
local headers = { ["Accept"] = "application/fhir+json" }
function setup(thread)
  counter = counter + 1
  thread:set("number", counter)
end
function init(args)
  paths = {}
  for line in io.lines(args[1]) do
    if #line > 0 then paths[#paths + 1] = line end
  end
  math.randomseed(os.time() + wrk.thread:get("number") * 7919)
end
function request()
  return wrk.format("GET", paths[math.random(#paths)], headers)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"errors":%d,"p50_us":%d,"p95_us":%d,' ..
    '"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean))
end
"""


# --- loading ----------------------------------------------------------------------------


async def load_store(url: str, store: search_data.Store, clients: int) -> tuple[list[str], float]:
    """POST every Bundle (``clients`` at a time); the Patient ids, in group order, and the
    seconds it took."""
    ids: list[str] = [""] * len(store.groups)
    queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue()
    for item in search_data.bundle_groups(store):
        queue.put_nowait(item)
    done = 0
    started = time.monotonic()
    limits = httpx.Limits(max_connections=clients)

    async with httpx.AsyncClient(base_url=url, timeout=300.0, limits=limits) as client:
        response = await client.post(
            "/fhir", content=search_data.organizations(), headers=JSON_HEADERS
        )
        response.raise_for_status()

        async def worker() -> None:
            nonlocal done
            while True:
                try:
                    first, body = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                response = await client.post("/fhir", content=body, headers=JSON_HEADERS)
                if response.status_code != 200:
                    raise RuntimeError(f"load failed: {response.status_code} {response.text[:500]}")
                entries = orjson.loads(response.content)["entry"]
                for k in range(0, len(entries), search_data.PER_PATIENT):
                    location = entries[k]["response"]["location"]
                    ids[first + k // search_data.PER_PATIENT] = location.split("/")[1]
                done += 1
                if done % 200 == 0:
                    rate = (
                        done
                        * store.per_bundle
                        * search_data.PER_PATIENT
                        / (time.monotonic() - started)
                    )
                    total = len(store.bundles)
                    log(f"  loaded {done:,}/{total:,} Bundles ({rate:,.0f} resources/s)")

        await asyncio.gather(*(worker() for _ in range(clients)))
    return ids, time.monotonic() - started


# --- HTTP load --------------------------------------------------------------------------


def wrk(
    url: str, paths_file: Path, lua: Path, *, connections: int, duration: float
) -> dict[str, Any]:
    argv = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--timeout=30s",
        "-s",
        str(lua),
        url,
        "--",
        str(paths_file),
    ]
    run = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=duration + 120)
    match = re.search(r"^WRKJSON (\{.*\})$", run.stdout, re.MULTILINE)
    if run.returncode != 0 or not match:
        raise RuntimeError(f"wrk failed ({run.returncode}):\n{run.stdout}\n{run.stderr}")
    data = json.loads(match.group(1))
    seconds = data["duration_us"] / 1e6
    return {
        "requests": data["requests"],
        "rate": round(data["requests"] / seconds, 1),
        "errors": data["errors"],
        "p50_ms": data["p50_us"] / 1000,
        "p95_ms": data["p95_us"] / 1000,
        "p99_ms": data["p99_us"] / 1000,
        "max_ms": data["max_us"] / 1000,
    }


# --- floors -----------------------------------------------------------------------------


def _stats(latencies: list[float], seconds: float) -> dict[str, Any]:
    latencies.sort()
    n = len(latencies)

    def pct(p: float) -> float:
        return round(latencies[min(n - 1, int(p / 100 * n))] * 1000, 3) if n else 0.0

    return {
        "requests": n,
        "rate": round(n / seconds, 1) if seconds else 0.0,
        "errors": 0,
        "p50_ms": pct(50),
        "p95_ms": pct(95),
        "p99_ms": pct(99),
        "max_ms": round(latencies[-1] * 1000, 3) if n else 0.0,
    }


async def pg_floor(
    pg_url: str, schema: str, query: Query, *, concurrency: int, warmup: float, duration: float
) -> dict[str, Any]:
    conns = [
        await asyncpg.connect(pg_url, server_settings={"search_path": schema})
        for _ in range(concurrency)
    ]
    try:

        async def run(seconds: float, record: list[float]) -> None:
            deadline = time.monotonic() + seconds

            async def one(conn: asyncpg.Connection, rng: random.Random) -> None:
                while time.monotonic() < deadline:
                    item = rng.choice(query.items)
                    t0 = time.perf_counter()
                    rows = await conn.fetch(item.sql or query.sql_pg, *item.args)
                    _ = [bytes(r[1]) for r in rows]
                    record.append(time.perf_counter() - t0)

            await asyncio.gather(*(one(c, random.Random(i)) for i, c in enumerate(conns)))

        await run(warmup, [])
        latencies: list[float] = []
        t0 = time.monotonic()
        await run(duration, latencies)
        return _stats(latencies, time.monotonic() - t0)
    finally:
        for c in conns:
            await c.close()


def sqlite_floor(
    path: Path, query: Query, *, concurrency: int, warmup: float, duration: float
) -> dict[str, Any]:
    def run(seconds: float, record: list[float]) -> None:
        deadline = time.monotonic() + seconds

        def one(seed: int) -> None:
            conn = sqlite3.connect(str(path), check_same_thread=False)
            rng = random.Random(seed)
            local: list[float] = []
            try:
                while time.monotonic() < deadline:
                    item = rng.choice(query.items)
                    sql = search_queries.to_sqlite(item.sql) if item.sql else query.sql_sqlite
                    t0 = time.perf_counter()
                    rows = conn.execute(sql, item.args).fetchall()
                    _ = [bytes(r[1]) for r in rows]
                    local.append(time.perf_counter() - t0)
            finally:
                conn.close()
                record.extend(local)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(concurrency)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    run(warmup, [])
    latencies: list[float] = []
    t0 = time.monotonic()
    run(duration, latencies)
    return _stats(latencies, time.monotonic() - t0)


class FloorDb:
    """One-off floor statements on the backend (setup and checks)."""

    def __init__(self, backend: str, *, path: Path | None, pg_url: str, schema: str | None):
        self.backend, self.path, self.pg_url, self.schema = backend, path, pg_url, schema

    def fetch(self, sql: str, args: tuple[Any, ...]) -> list[Any]:
        if self.backend == "sqlite":
            assert self.path is not None
            conn = sqlite3.connect(str(self.path))
            try:
                return conn.execute(search_queries.to_sqlite(sql), args).fetchall()
            finally:
                conn.close()

        async def go() -> list[Any]:
            conn = await asyncpg.connect(
                self.pg_url, server_settings={"search_path": self.schema or "public"}
            )
            try:
                return list(await conn.fetch(sql, *args))
            finally:
                await conn.close()

        return asyncio.run(go())


# --- one backend ------------------------------------------------------------------------


def sort_items(
    client: httpx.Client, db: FloorDb, budget: float = 90.0
) -> tuple[list[Item], list[Item], bool]:
    """HTTP paths (first pages and their next links) and the matching floor items; stops
    starting new walks after ``budget`` seconds (a slow backend gets fewer start dates)."""
    http: list[Item] = []
    floor: list[Item] = []
    same = True
    pages = search_queries.SORT_PAGES
    size = search_queries.SORT_PAGE
    deadline = time.monotonic() + budget
    for start in search_queries.SORT_STARTS:
        if time.monotonic() > deadline:
            break
        path: str | None = search_queries.sort_first_path(start)
        low = search_queries.us(start)
        cursor: tuple[int, str] | None = None
        for _ in range(pages):
            if path is None:
                break
            http.append(Item(path, ()))
            try:
                body = client.get(path, headers=JSON_HEADERS, timeout=30.0).json()
            except httpx.TimeoutException:
                log(f"  sort: {path} took over 30 s; no more sort walks")
                return http[:-1], floor, same
            got = [e["resource"]["id"] for e in body.get("entry", [])]
            if cursor is None:
                item = Item("", (low,), search_queries.SORT_FIRST_SQL)
            else:
                item = Item(
                    "", (low, cursor[0], cursor[0], cursor[1]), search_queries.SORT_NEXT_SQL
                )
            floor.append(item)
            rows = db.fetch(item.sql or "", item.args)
            same = same and [r[0] for r in rows[:size]] == got
            if len(rows) > size:
                cursor = (rows[size - 1][2], rows[size - 1][0])
            nxt = [link["url"] for link in body.get("link", []) if link["relation"] == "next"]
            if nxt:
                parts = urlsplit(nxt[0])
                path = parts.path + ("?" + parts.query if parts.query else "")
            else:
                path = None
    return http, floor, same


def check(client: httpx.Client, db: FloorDb, query: Query, samples: int = 5) -> dict[str, Any]:
    """Do HTTP and floor return the same resources (matches + includes) for a few items?"""
    mismatches = []
    for item in query.items[:samples]:
        response = client.get(item.path, headers=JSON_HEADERS)
        if response.status_code != 200:
            mismatches.append(f"{item.path}: HTTP {response.status_code} {response.text[:300]}")
            continue
        body = response.json()
        ours = sorted(e["resource"]["id"] for e in body.get("entry", []))
        rows = db.fetch(query.sql_pg, item.args)
        limit = search_queries.PAGE
        floor = sorted(
            r[0] for r in (rows if query.key in ("include", "revinclude") else rows[:limit])
        )
        if ours != floor:
            mismatches.append(f"{item.path}: HTTP {len(ours)} resources, floor {len(floor)}")
    return {"checked": min(samples, len(query.items)), "mismatches": mismatches}


def index_stats(backend: str, db: FloorDb) -> dict[str, Any]:
    tables = ["resource", "resource_version", *search_report.INDEX_TABLES]
    counts = {t: db.fetch(f"SELECT COUNT(*) FROM {t}", ())[0][0] for t in tables}
    sizes: dict[str, dict[str, int]] = {}
    if backend == "postgresql":
        for t in tables:
            row = db.fetch(
                "SELECT pg_table_size($1::regclass), pg_indexes_size($1::regclass)", (t,)
            )[0]
            sizes[t] = {"table": int(row[0]), "indexes": int(row[1])}
    else:
        rows = db.fetch(
            "SELECT m.tbl_name, m.type, SUM(d.pgsize) FROM dbstat d "
            "JOIN sqlite_master m ON m.name = d.name GROUP BY m.tbl_name, m.type",
            (),
        )
        for t in tables:
            sizes[t] = {"table": 0, "indexes": 0}
        auto = db.fetch(
            "SELECT d.name, SUM(d.pgsize) FROM dbstat d WHERE d.name LIKE 'sqlite_autoindex_%' "
            "GROUP BY d.name",
            (),
        )
        for tbl, kind, size in rows:
            if tbl in sizes:
                sizes[tbl]["table" if kind == "table" else "indexes"] += int(size)
        for name, size in auto:
            tbl = name.removeprefix("sqlite_autoindex_").rsplit("_", 1)[0]
            if tbl in sizes:
                sizes[tbl]["indexes"] += int(size)
    return {"rows": counts, "bytes": sizes}


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.stamp = time.strftime("%Y%m%d%H%M%S") + f"_{os.getpid()}"
        self.work = harness.WORK / f"search-{self.stamp}"
        self.work.mkdir(parents=True, exist_ok=True)
        self.lua = self.work / "paths.lua"
        self.lua.write_text(LUA)
        self.results: dict[str, Any] = {"backends": {}, "notes": []}

    def measure(
        self,
        server: harness.Server,
        backend: str,
        key: str,
        query: Query,
        paths: list[Item],
        *,
        floor_app: harness.Server,
        path: Path | None,
        schema: str | None,
    ) -> dict[str, Any]:
        """One query: wrk over HTTP (warm-up, then measured), then its SQL floor, then the
        same wrk load against the HTTP floor (``paths[k]`` and ``query.items[k]`` ask the
        same question)."""
        args = self.args
        paths_file = self.work / f"{backend}-{key}.txt"
        paths_file.write_text("".join(i.path + "\n" for i in paths))
        if len(query.items) != len(paths):
            raise RuntimeError(f"{key}: {len(paths)} HTTP paths but {len(query.items)} floor items")
        floor_paths = [floor_asgi.floor_path(i.sql or query.sql_pg, i.args) for i in query.items]
        floor_file = self.work / f"{backend}-{key}-floor.txt"
        floor_file.write_text("".join(p + "\n" for p in floor_paths))
        self.check_http_floor(
            server, floor_app, f"{backend} {key}", ours=paths[0].path, floor=floor_paths[0]
        )
        conns = args.concurrency
        wrk(server.url, paths_file, self.lua, connections=conns, duration=args.warmup)
        http = wrk(server.url, paths_file, self.lua, connections=conns, duration=args.duration)
        if backend == "postgresql":
            floor = asyncio.run(
                pg_floor(
                    args.pg_url,
                    schema or "",
                    query,
                    concurrency=conns,
                    warmup=args.warmup,
                    duration=args.duration,
                )
            )
        else:
            assert path is not None
            floor = sqlite_floor(
                path, query, concurrency=conns, warmup=args.warmup, duration=args.duration
            )
        wrk(floor_app.url, floor_file, self.lua, connections=conns, duration=args.warmup)
        http_floor = wrk(
            floor_app.url, floor_file, self.lua, connections=conns, duration=args.duration
        )
        log(
            f"  {key}: HTTP p50 {http['p50_ms']:.2f} p95 {http['p95_ms']:.2f} ms "
            f"({http['rate']:,.0f}/s, {http['errors']} errors); SQL floor p50 "
            f"{floor['p50_ms']:.2f} p95 {floor['p95_ms']:.2f} ms; HTTP floor p50 "
            f"{http_floor['p50_ms']:.2f} p95 {http_floor['p95_ms']:.2f} ms "
            f"({http_floor['rate']:,.0f}/s, {http_floor['errors']} errors)"
        )
        if http["errors"]:
            self.results["notes"].append(f"{backend} {key}: {http['errors']} failed requests")
        if http_floor["errors"]:
            self.results["notes"].append(
                f"{backend} {key}: {http_floor['errors']} failed requests to the HTTP floor"
            )
        return {
            "label": query.label,
            "example": query.example,
            "items": len(paths),
            "http": http,
            "floor": floor,
            "http_floor": http_floor,
            "target_ms": query.target_ms,
            "base": query.base,
        }

    def check_http_floor(
        self,
        server: harness.Server,
        floor_app: harness.Server,
        name: str,
        *,
        ours: str,
        floor: str,
    ) -> None:
        """Do mitral-fhir and the HTTP floor return the same resources for the first item?"""
        got = []
        for url in (server.url + ours, floor_app.url + floor):
            response = httpx.get(url, headers=JSON_HEADERS, timeout=120.0)
            if response.status_code != 200:
                raise RuntimeError(f"{url}: HTTP {response.status_code} {response.text[:300]}")
            got.append(sorted(e["resource"]["id"] for e in response.json().get("entry", [])))
        if got[0] != got[1]:
            message = (
                f"{name}: the HTTP floor returned {len(got[1])} resources for "
                f"{floor}, mitral-fhir {len(got[0])}"
            )
            log(f"  CHECK {message}")
            self.results["notes"].append(message)

    def prepare(
        self, server: harness.Server, db: FloorDb, queries: dict[str, Query]
    ) -> tuple[list[Item], dict[str, Any]]:
        """Walk the sorted pages (HTTP paths for the sort load, floor items to match) and
        check that HTTP and the floor agree on the first items of every query."""
        only = self.args.only_queries
        checks: dict[str, Any] = {}
        with httpx.Client(base_url=server.url, timeout=120.0) as client:
            http_items, floor_items, same = [], [], True
            if not only or "sort" in only:
                http_items, floor_items, same = sort_items(client, db)
            queries["sort"].items = floor_items
            for key, query in queries.items():
                if only and key not in only:
                    continue
                if key == "sort":
                    checks[key] = {
                        "checked": len(floor_items),
                        "mismatches": [] if same else ["pages differ from the floor's"],
                    }
                    continue
                checks[key] = check(client, db, query)
                for m in checks[key]["mismatches"]:
                    log(f"  CHECK {key}: {m}")
        return http_items, checks

    def run_backend(self, backend: str, store: search_data.Store) -> None:
        args = self.args
        label = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[backend]
        log(f"== {label}: loading {store.resources:,} resources")
        schema = None
        path = None
        if backend == "sqlite":
            path = self.work / "search.sqlite3"
            url = f"sqlite:///{path}"
        else:
            schema = f"bench_search_{self.stamp}"
            url = args.pg_url
        server = harness.start_ours(
            database_url=url, schema=schema, workers=args.workers, work=self.work, tag=backend
        )
        db = FloorDb(backend, path=path, pg_url=args.pg_url, schema=schema)
        out: dict[str, Any] = {"label": label, "workers": args.workers}
        floor_app: harness.Server | None = None
        try:
            ids, seconds = asyncio.run(load_store(server.url, store, args.clients))
            out["load"] = {
                "resources": store.resources,
                "seconds": round(seconds, 1),
                "resources_per_s": round(store.resources / seconds, 1),
                "clients": args.clients,
                "bundle_resources": store.per_bundle * search_data.PER_PATIENT,
            }
            log(f"  loaded in {seconds:,.0f} s ({store.resources / seconds:,.0f} resources/s)")
            # What autovacuum does on its own in steady state (and what an operator runs after
            # a bulk load): planner statistics, and on PostgreSQL the visibility map that
            # index-only scans need. SQLite: ANALYZE, as PRAGMA optimize would.
            t0 = time.monotonic()
            db.fetch("VACUUM (ANALYZE)" if backend == "postgresql" else "ANALYZE", ())
            out["analyze_s"] = round(time.monotonic() - t0, 1)
            out["index"] = index_stats(backend, db)
            queries = search_queries.build(store.groups, ids, n=args.items)
            http_items, out["checks"] = self.prepare(server, db, queries)
            # The HTTP floor runs beside the (idle) server, on the same data, loaded in turn.
            floor_app = harness.start_floor_app(
                database_url=url,
                schema=schema,
                workers=args.workers,
                work=self.work,
                tag=f"{backend}-floor",
            )
            out["queries"] = {}
            for key, query in queries.items():
                if args.only_queries and key not in args.only_queries:
                    continue
                paths = http_items if key == "sort" else query.items
                if not paths:
                    self.results["notes"].append(
                        f"{label} {key}: not measured (the first page took over 30 s)"
                    )
                    continue
                out["queries"][key] = self.measure(
                    server,
                    backend,
                    key,
                    query,
                    paths,
                    floor_app=floor_app,
                    path=path,
                    schema=schema,
                )
        finally:
            if floor_app is not None:
                floor_app.stop()
            server.stop()
            if schema and not args.keep:
                db.fetch(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE', ())
                log(f"  dropped schema {schema}")
            if path is not None and not args.keep:
                for f in path.parent.glob(path.name + "*"):
                    f.unlink()
        self.results["backends"][backend] = out


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--resources", type=int, default=1_000_000)
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--clients", type=int, default=4, help="concurrent loading clients")
    p.add_argument("--concurrency", type=int, default=4, help="connections per query load")
    p.add_argument("--duration", type=float, default=8.0)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--items", type=int, default=200, help="parameter values per query")
    p.add_argument("--only-queries", type=lambda s: set(s.split(",")), default=None)
    p.add_argument("--output", default=str(harness.ROOT / "docs" / "benchmarks.md"))
    p.add_argument(
        "--keep", action="store_true", help="keep the SQLite file and the PostgreSQL schema"
    )
    p.add_argument("--render-only", action="store_true", help="rewrite from the last run's figures")
    p.add_argument(
        "--merge",
        nargs="+",
        metavar="RAW",
        help="with --render-only: combine the backends of these raw result files",
    )
    return p.parse_args()


def main() -> int:
    args = parse_args()
    output = Path(args.output)
    if args.render_only:
        results = orjson.loads(RAW.read_bytes()) if not args.merge else {"backends": {}}
        for path in args.merge or []:  # backends measured in separate runs, one section
            part = orjson.loads(Path(path).read_bytes())
            results["backends"].update(part["backends"])
            results["notes"] = [*results.get("notes", []), *part.get("notes", [])]
            meta = dict(part["meta"])
            if "meta" in results:
                meta["command"] = results["meta"]["command"] + "\n" + meta["command"]
                meta["elapsed_s"] += results["meta"]["elapsed_s"]
                meta["postgresql"] = meta.get("postgresql") or results["meta"].get("postgresql")
            results["meta"] = meta
        search_report.write_section(output, results)
        log(f"rewrote the search section of {output}")
        return 0
    harness.ensure_wrk()
    started = time.monotonic()
    source = harness.source_state()
    log(f"generating about {args.resources:,} resources")
    t0 = time.monotonic()
    store = search_data.generate(args.resources)
    log(
        f"  {store.resources:,} resources in {len(store.bundles):,} Bundles "
        f"({time.monotonic() - t0:.1f} s)"
    )
    bench = Bench(args)
    for backend in args.backends.split(","):
        bench.run_backend(backend, store)
        RAW.write_bytes(orjson.dumps(bench.results, option=orjson.OPT_INDENT_2))
    source_after = harness.source_state()
    if source_after["app_digest"] != source["app_digest"]:
        bench.results["notes"].append("app/ changed on disk during this run.")
    pg = None
    if "postgresql" in args.backends:
        pg = FloorDb("postgresql", path=None, pg_url=args.pg_url, schema=None).fetch(
            "SHOW server_version", ()
        )[0][0]
    bench.results["meta"] = {
        "command": os.environ.get("BENCH_COMMAND")
        or " ".join(["python3", "benchmarks/search_bench.py", *sys.argv[1:]]),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": harness.machine_info(),
        "postgresql": pg,
        "sqlite": sqlite3.sqlite_version,
        "source": source,
        "resources": store.resources,
        "patients": len(store.groups),
        "concurrency": args.concurrency,
        "duration": args.duration,
        "warmup": args.warmup,
        "workers": args.workers,
        "items": args.items,
        "elapsed_s": round(time.monotonic() - started),
    }
    RAW.write_bytes(orjson.dumps(bench.results, option=orjson.OPT_INDENT_2))
    (harness.WORK / f"search-results-{args.backends.replace(',', '-')}.json").write_bytes(
        RAW.read_bytes()
    )
    search_report.write_section(output, bench.results)
    log(
        f"wrote the search section of {output} (raw: {RAW.relative_to(harness.ROOT)}); "
        f"took {bench.results['meta']['elapsed_s']} s"
    )
    if not args.keep:
        for f in bench.work.iterdir():
            f.unlink()
        bench.work.rmdir()
    return 0


if __name__ == "__main__":
    sys.exit(main())
