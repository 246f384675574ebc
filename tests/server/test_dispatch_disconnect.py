"""The dispatcher stops a GET whose client went away, and serves everything else as before.

The ASGI app is driven directly, with a fake ``receive`` that says ``http.disconnect`` when told.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message

from app.errors import QueryTimeout
from app.fhir.dispatch import FhirDispatcher
from app.fhir.router import Route
from app.storage.database import SqliteDatabase
from tests.storage.test_query_limits import COUNT_TO_1E9


class FakeClient:
    """``receive`` gives the (empty or given) body, then blocks until ``leave()``."""

    def __init__(self, body: bytes = b"") -> None:
        self._body: bytes | None = body
        self._left = asyncio.Event()
        self.sent: list[Message] = []
        self.receives = 0

    def leave(self) -> None:
        self._left.set()

    async def receive(self) -> Message:
        self.receives += 1
        if self._body is not None:
            body, self._body = self._body, None
            return {"type": "http.request", "body": body, "more_body": False}
        await self._left.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: Message) -> None:
        self.sent.append(message)


def _scope(method: str, path: str) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver")],
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
    }


async def test_a_get_is_cancelled_when_the_client_disconnects():
    started, outcome = asyncio.Event(), []

    async def forever(_request: Request) -> Response:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        return Response(b"never")

    dispatcher = FhirDispatcher([Route(("search-type",), "type", "GET", "/Slow", forever)], "/fhir")
    client = FakeClient()
    serving = asyncio.create_task(
        dispatcher(_scope("GET", "/fhir/Slow"), client.receive, client.send)
    )
    await asyncio.wait_for(started.wait(), 5)
    await asyncio.sleep(0.2)  # past the dispatcher's grace period: it is listening now
    client.leave()

    await asyncio.wait_for(serving, 5)
    assert outcome == ["cancelled"]
    assert client.sent == []
    assert not serving.cancelled()
    assert serving.cancelling() == 0


async def test_a_disconnect_interrupts_the_sqlite_search_behind_the_get(tmp_path: Path):
    db = SqliteDatabase(str(tmp_path / "disconnect.sqlite3"), read_threads=1)
    await db.open()
    started = asyncio.Event()

    async def slow_search(_request: Request) -> Response:
        async with db.read() as conn:
            started.set()
            await conn.fetch(COUNT_TO_1E9)
        return Response(b"never")

    try:
        dispatcher = FhirDispatcher([Route((), "type", "GET", "/Slow", slow_search)], "/fhir")
        client = FakeClient()
        serving = asyncio.create_task(
            dispatcher(_scope("GET", "/fhir/Slow"), client.receive, client.send)
        )
        await asyncio.wait_for(started.wait(), 5)
        await asyncio.sleep(0.2)
        client.leave()
        await asyncio.wait_for(serving, 10)

        assert client.sent == []
        # One reader thread: it is free again only if the count was interrupted.
        async with db.read() as conn:
            assert await asyncio.wait_for(conn.fetch("SELECT 1"), 5) == [(1,)]
    finally:
        await db.close()


async def test_a_slow_get_that_finishes_still_responds():
    async def slowish(_request: Request) -> Response:
        await asyncio.sleep(0.2)  # long enough for the disconnect watcher to start
        return Response(b"done", media_type="text/plain")

    dispatcher = FhirDispatcher([Route((), "type", "GET", "/Slowish", slowish)], "/fhir")
    client = FakeClient()
    await asyncio.wait_for(
        dispatcher(_scope("GET", "/fhir/Slowish"), client.receive, client.send), 5
    )

    assert client.receives >= 2  # the watcher did listen
    assert client.sent[0]["status"] == 200
    assert client.sent[1]["body"] == b"done"


async def test_a_post_reads_its_body_and_is_not_watched():
    async def echo(request: Request) -> Response:
        await asyncio.sleep(0.2)
        return Response(await request.body())

    dispatcher = FhirDispatcher([Route((), "type", "POST", "/Echo", echo)], "/fhir")
    client = FakeClient(b'{"resourceType":"Patient"}')
    await asyncio.wait_for(dispatcher(_scope("POST", "/fhir/Echo"), client.receive, client.send), 5)

    assert client.receives == 1
    assert client.sent[0]["status"] == 200
    assert client.sent[1]["body"] == b'{"resourceType":"Patient"}'


async def test_a_query_timeout_is_a_503_operation_outcome():
    async def timed_out(_request: Request) -> Response:
        raise QueryTimeout.after(30)

    dispatcher = FhirDispatcher([Route((), "type", "GET", "/Slow", timed_out)], "/fhir")
    client = FakeClient()
    await asyncio.wait_for(dispatcher(_scope("GET", "/fhir/Slow"), client.receive, client.send), 5)

    assert client.sent[0]["status"] == 503
    issue = orjson.loads(client.sent[1]["body"])["issue"][0]
    assert issue["code"] == "timeout"
    assert "30 s limit" in issue["diagnostics"]
