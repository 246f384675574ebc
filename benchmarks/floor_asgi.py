"""The bare ASGI floors: a plain ASGI callable (no framework) answering from the same tables.

``GET /fhir/{type}/{id}`` (the read floor, benchmarks/run.py) selects the current row's
content from the same ``resource`` table mitral-fhir reads, on the same database, and
returns it.

``GET /floor/{key}?a=...&a=...`` (the search HTTP floor, benchmarks/search_bench.py) runs
the floor SQL of search query ``key`` (``FLOOR_SQL``: the very statements of
search_queries.py, ``to_sqlite`` for SQLite) with the positional arguments ``a`` (in order,
URL-encoded, each tagged with its type: ``i:<int>`` or ``s:<text>``; see ``floor_path``),
and returns a minimal searchset Bundle, ``{"resourceType":"Bundle","type":"searchset",
"entry":[{"resource":<content>},...]}``, built by concatenating the stored bytes (no JSON
parsing), with as many entries as mitral-fhir returns (the page; every row for _include and
_revinclude).

Served by the same uvicorn with the same worker count and default loop/HTTP settings as
``mitral-fhir serve``:

    uvicorn floor_asgi:create_app --factory --app-dir benchmarks --workers N

Configured through BENCH_FLOOR_DATABASE_URL and BENCH_FLOOR_SCHEMA (PostgreSQL only).
PostgreSQL: an asyncpg pool (no reset on release); SQLite: one sqlite3 connection per worker,
called inline on the event loop (nothing cheaper exists).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, quote

import asyncpg
import search_queries as sq

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

FLOOR_SQL: dict[str, str] = {
    "token": sq.TOKEN_SQL,
    "reference": sq.REFERENCE_SQL,
    "date": sq.DATE_SQL,
    "string": sq.STRING_SQL,
    "chained": sq.CHAIN_SQL,
    "include": sq.INCLUDE_SQL,
    "revinclude": sq.REVINCLUDE_SQL,
    "sort": sq.SORT_FIRST_SQL,
    "sort-next": sq.SORT_NEXT_SQL,
}
"""Search floor statements by URL key (PostgreSQL text; the sort query has two)."""

ENTRIES: dict[str, int | None] = {
    **dict.fromkeys(FLOOR_SQL, sq.PAGE),
    "include": None,
    "revinclude": None,
    "sort": sq.SORT_PAGE,
    "sort-next": sq.SORT_PAGE,
}
"""How many of the rows go into the Bundle (None: all): the floor SQL fetches one row more
than a page, as a server does to know whether there is a next page."""

_BUNDLE_START = b'{"resourceType":"Bundle","type":"searchset","entry":['
_ENTRY_START = b'{"resource":'
_ENTRY_SEP = b'},{"resource":'
_BUNDLE_END = b"}]}"


def floor_key(sql: str) -> str:
    """The URL key of a search floor statement (the PostgreSQL text search_bench runs)."""
    for key, text in FLOOR_SQL.items():
        if text == sql:
            return key
    raise KeyError("not a search floor statement")


def floor_path(sql: str, args: Sequence[Any]) -> str:
    """``/floor/{key}?a=..`` for a floor statement and its positional arguments."""
    parts = []
    for arg in args:
        if isinstance(arg, bool) or not isinstance(arg, int | str):
            raise TypeError(f"unsupported floor argument {arg!r}")
        tagged = f"i:{arg}" if isinstance(arg, int) else f"s:{arg}"
        parts.append("a=" + quote(tagged, safe=":"))
    return f"/floor/{floor_key(sql)}?" + "&".join(parts)


def _args(query_string: bytes) -> list[Any]:
    out: list[Any] = []
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        if name != "a":
            continue
        kind, _, text = value.partition(":")
        out.append(int(text) if kind == "i" else text)
    return out


class FloorApp:
    def __init__(self, url: str, schema: str | None) -> None:
        self.url = url
        self.schema = schema
        self.sqlite: sqlite3.Connection | None = None
        self.pool: asyncpg.Pool | None = None
        self.sqlite_sql = {key: sq.to_sqlite(text) for key, text in FLOOR_SQL.items()}

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

    async def search(self, key: str, query_string: bytes) -> bytes | None:
        """The searchset Bundle for floor statement ``key``; None for an unknown key."""
        sql = FLOOR_SQL.get(key)
        if sql is None:
            return None
        args = _args(query_string)
        if self.sqlite is not None:
            rows: Sequence[Any] = self.sqlite.execute(self.sqlite_sql[key], args).fetchall()
        else:
            assert self.pool is not None
            rows = await self.pool.fetch(sql, *args)
        limit = ENTRIES[key]
        if limit is not None:
            rows = rows[:limit]
        if not rows:
            return _BUNDLE_START + b"]}"
        entries = _ENTRY_SEP.join(bytes(r[1]) for r in rows)
        return b"".join((_BUNDLE_START, _ENTRY_START, entries, _BUNDLE_END))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        parts = scope["path"].split("/")
        body = None
        if len(parts) == 4 and scope["method"] == "GET":
            body = await self.fetch(parts[2], parts[3]) if parts[1] == "fhir" else None
        elif len(parts) == 3 and parts[1] == "floor" and scope["method"] == "GET":
            body = await self.search(parts[2], scope["query_string"])
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
