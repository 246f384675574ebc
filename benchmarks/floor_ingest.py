"""The ingest floor: the least work any server must do to store a transaction Bundle.

For each Bundle (the very bytes posted to the servers): ``orjson.loads`` it, ``orjson.dumps``
each entry's resource, and INSERT the bytes into a bare table ``bench_floor (res_type, res_id,
content)`` in one database transaction, on the same database. Driven with the same
concurrency as the HTTP load, split over as many processes as the server has workers
(sqlite3 with one connection per thread; asyncpg with one connection per task).

Prints one JSON line: {"resources": N, "bundles": B, "seconds": D}.

    python floor_ingest.py --database-url URL [--schema S] --bundles FILE \
        --processes P --concurrency C --warmup W --duration D
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import sqlite3
import threading
import time
import uuid
from typing import Any

import asyncpg
import orjson

TABLE = "bench_floor"
_DDL_SQLITE = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} "
    "(res_type TEXT NOT NULL, res_id TEXT NOT NULL, content BLOB NOT NULL, "
    "PRIMARY KEY (res_type, res_id))"
)
_DDL_PG = (
    f"CREATE TABLE IF NOT EXISTS {TABLE} "
    "(res_type TEXT NOT NULL, res_id TEXT NOT NULL, content BYTEA NOT NULL, "
    "PRIMARY KEY (res_type, res_id))"
)
_INSERT_PG = f"INSERT INTO {TABLE} (res_type, res_id, content) VALUES ($1, $2, $3)"
_INSERT_SQLITE = f"INSERT INTO {TABLE} (res_type, res_id, content) VALUES (?, ?, ?)"


def _rows(bundle: bytes) -> list[tuple[str, str, bytes]]:
    data = orjson.loads(bundle)
    return [
        (e["resource"]["resourceType"], str(uuid.uuid4()), orjson.dumps(e["resource"]))
        for e in data["entry"]
    ]


def _sqlite_path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def _sqlite_connect(url: str) -> sqlite3.Connection:
    conn = sqlite3.connect(_sqlite_path(url), isolation_level=None, timeout=30.0)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class Window:
    """Counts resources committed inside [start, end)."""

    def __init__(self, start: float, end: float) -> None:
        self.start, self.end = start, end
        self.resources = 0
        self.bundles = 0
        self.lock = threading.Lock()

    def record(self, n: int) -> None:
        now = time.time()
        if self.start <= now < self.end:
            with self.lock:
                self.resources += n
                self.bundles += 1


def _sqlite_worker(
    url: str, bundles: list[bytes], threads: int, offset: int, window: Window
) -> None:
    def loop(index: int) -> None:
        conn = _sqlite_connect(url)
        i = index * 7
        try:
            while time.time() < window.end:
                rows = _rows(bundles[i % len(bundles)])
                i += 1
                conn.execute("BEGIN IMMEDIATE")
                try:
                    conn.executemany(_INSERT_SQLITE, rows)
                except BaseException:
                    conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
                window.record(len(rows))
        finally:
            conn.close()

    workers = [threading.Thread(target=loop, args=(offset + n,)) for n in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()


async def _pg_worker(
    url: str, schema: str | None, bundles: list[bytes], *, tasks: int, offset: int, window: Window
) -> None:
    settings = {"search_path": schema} if schema else {}
    pool = await asyncpg.create_pool(url, min_size=tasks, max_size=tasks, server_settings=settings)

    async def loop(index: int) -> None:
        i = index * 7
        async with pool.acquire() as conn:
            while time.time() < window.end:
                rows = _rows(bundles[i % len(bundles)])
                i += 1
                async with conn.transaction():
                    await conn.executemany(_INSERT_PG, rows)
                window.record(len(rows))

    try:
        await asyncio.gather(*(loop(offset + n) for n in range(tasks)))
    finally:
        await pool.close()


def _process(args: dict[str, Any], share: int, offset: int, out: Any) -> None:
    with open(args["bundles"], "rb") as f:
        bundles = [line for line in f.read().splitlines() if line]
    window = Window(args["start"], args["start"] + args["duration"])
    if args["database_url"].startswith("sqlite"):
        _sqlite_worker(args["database_url"], bundles, share, offset, window)
    else:
        asyncio.run(
            _pg_worker(
                args["database_url"],
                args["schema"],
                bundles,
                tasks=share,
                offset=offset,
                window=window,
            )
        )
    out.put((window.resources, window.bundles))


async def _create_pg_table(url: str, schema: str | None) -> None:
    settings = {"search_path": schema} if schema else {}
    conn = await asyncpg.connect(url, server_settings=settings)
    try:
        await conn.execute(_DDL_PG)
    finally:
        await conn.close()


def run(
    *,
    database_url: str,
    schema: str | None,
    bundles: str,
    processes: int,
    concurrency: int,
    warmup: float,
    duration: float,
) -> dict[str, float]:
    if database_url.startswith("sqlite"):
        conn = _sqlite_connect(database_url)
        conn.execute(_DDL_SQLITE)
        conn.close()
    else:
        asyncio.run(_create_pg_table(database_url, schema))
    args = {
        "database_url": database_url,
        "schema": schema,
        "bundles": bundles,
        "duration": duration,
        # Every process measures the same wall-clock window, after its own warm-up.
        "start": time.time() + 1.0 + warmup,
    }
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    shares = [
        concurrency // processes + (1 if n < concurrency % processes else 0)
        for n in range(processes)
    ]
    procs = []
    offset = 0
    for share in shares:
        procs.append(ctx.Process(target=_process, args=(args, share, offset, out)))
        offset += share
    for p in procs:
        p.start()
    results = [out.get(timeout=warmup + duration + 120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    return {
        "resources": sum(r for r, _ in results),
        "bundles": sum(b for _, b in results),
        "seconds": duration,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--schema")
    parser.add_argument("--bundles", required=True, help="file with one Bundle per line")
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--duration", type=float, default=10.0)
    a = parser.parse_args()
    result = run(
        database_url=a.database_url,
        schema=a.schema,
        bundles=a.bundles,
        processes=a.processes,
        concurrency=a.concurrency,
        warmup=a.warmup,
        duration=a.duration,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
