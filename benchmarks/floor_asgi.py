"""The read floor: a bare ASGI callable (no framework) that serves a resource's stored bytes.

``GET /fhir/{type}/{id}`` selects the current row's content from the same ``resource`` table
mitral-fhir reads, on the same database, and returns it. Served by the same uvicorn with the
same worker count and default loop/HTTP settings as ``mitral-fhir serve``:

    uvicorn floor_asgi:create_app --factory --app-dir benchmarks --workers N

Configured through BENCH_FLOOR_DATABASE_URL and BENCH_FLOOR_SCHEMA (PostgreSQL only).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import asyncpg

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


async def _no_reset(_conn: asyncpg.Connection) -> None:
    """Nothing to reset on release: this app leaves no session state on a connection.

    (asyncpg's default reset runs ``SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL`` on every release: one more round trip per request.)
    """


_SQL = "SELECT content FROM resource WHERE res_type = $1 AND res_id = $2"
_JSON = [(b"content-type", b"application/fhir+json; charset=utf-8")]


class FloorApp:
    def __init__(self, url: str, schema: str | None) -> None:
        self.url = url
        self.schema = schema
        self.sqlite: sqlite3.Connection | None = None
        self.pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        if self.url.startswith("sqlite"):
            self.sqlite = sqlite3.connect(
                self.url.removeprefix("sqlite:///"), isolation_level=None, check_same_thread=False
            )
            self.sqlite.execute("PRAGMA journal_mode=WAL")
        else:
            settings = {"search_path": self.schema} if self.schema else {}
            self.pool = await asyncpg.create_pool(
                self.url, min_size=1, max_size=10, server_settings=settings, reset=_no_reset
            )

    async def close(self) -> None:
        if self.sqlite is not None:
            self.sqlite.close()
        if self.pool is not None:
            await self.pool.close()

    async def fetch(self, res_type: str, res_id: str) -> bytes | None:
        if self.sqlite is not None:
            row = self.sqlite.execute(
                "SELECT content FROM resource WHERE res_type = ? AND res_id = ?",
                (res_type, res_id),
            ).fetchone()
        else:
            assert self.pool is not None
            row = await self.pool.fetchrow(_SQL, res_type, res_id)
        return bytes(row[0]) if row and row[0] is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        parts = scope["path"].split("/")
        body = None
        if len(parts) == 4 and parts[1] == "fhir" and scope["method"] == "GET":
            body = await self.fetch(parts[2], parts[3])
        if body is None:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        headers = [*_JSON, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.open()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def create_app() -> FloorApp:
    return FloorApp(
        os.environ["BENCH_FLOOR_DATABASE_URL"], os.environ.get("BENCH_FLOOR_SCHEMA") or None
    )
