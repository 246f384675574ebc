"""A direct ASGI dispatcher for the FHIR URL grammar, built from the route table.

Why not FastAPI routes: with ~20 parameterised routes, FastAPI's matching, dependency solving
and middleware stack cost ~120 µs per request, eight times the stored-bytes read itself. FHIR
URLs have a fixed shape ([type]/[id]/_history/[vid]), so we index the table by segment count
and match literals first: a handful of comparisons. FastAPI still serves everything outside
the FHIR base (health, OpenAPI docs) and runs the lifespan.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from app.errors import FhirError, MethodNotAllowed, ResourceNotFound
from app.fhir import cors
from app.fhir.door import Door
from app.fhir.responses import internal_error_response, outcome_response
from app.fhir.router import Route

log = logging.getLogger("mitral_fhir")


@dataclass(frozen=True, slots=True)
class _Pattern:
    segments: tuple[str, ...]
    handlers: dict[str, Route]

    @property
    def literal_count(self) -> int:
        return sum(1 for s in self.segments if not s.startswith("{"))

    def bind(self, parts: Sequence[str]) -> dict[str, str] | None:
        params: dict[str, str] = {}
        for pattern, part in zip(self.segments, parts, strict=True):
            if pattern.startswith("{"):
                if not part or part.startswith(("_", "$")):
                    return None
                params[pattern[1:-1]] = part
            elif pattern != part:
                return None
        return params


def _compile(routes: Sequence[Route]) -> dict[int, list[_Pattern]]:
    by_shape: dict[tuple[str, ...], dict[str, Route]] = {}
    for route in routes:
        segments = tuple(s for s in route.path.split("/") if s)
        by_shape.setdefault(segments, {})[route.method] = route
    table: dict[int, list[_Pattern]] = {}
    for segments, handlers in by_shape.items():
        table.setdefault(len(segments), []).append(_Pattern(segments, handlers))
    for patterns in table.values():
        patterns.sort(key=lambda p: -p.literal_count)
    return table


class FhirDispatcher:
    """ASGI app for every path under the FHIR base (see ``MitralApp``)."""

    def __init__(self, routes: Sequence[Route], prefix: str) -> None:
        self._table = _compile(routes)
        self.prefix = prefix

    def handles(self, path: str) -> bool:
        return path.startswith(self.prefix) and (
            len(path) == len(self.prefix) or path[len(self.prefix)] == "/"
        )

    def resolve(self, method: str, path: str) -> tuple[Route, dict[str, str]]:
        parts = [p for p in path.split("/") if p]
        for pattern in self._table.get(len(parts), ()):
            params = pattern.bind(parts)
            if params is None:
                continue
            route = pattern.handlers.get("GET" if method == "HEAD" else method)
            if route is None:
                allowed = ", ".join(sorted(pattern.handlers))
                raise MethodNotAllowed(
                    f"{method} is not allowed here; allowed: {allowed}",
                    headers={"Allow": allowed},
                )
            return route, params
        raise ResourceNotFound(
            f"No FHIR interaction matches {method} {path or '/'}",
            status=HTTPStatus.NOT_FOUND,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one FHIR request; every failure becomes an OperationOutcome here."""
        origin = cors.has_origin(scope)
        if origin and scope["method"] == "OPTIONS":
            await cors.preflight()(scope, receive, send)
            return
        if scope["method"] in _BODILESS:
            response = await self._handle_until_disconnect(scope, receive)
            if response is None:
                return
        else:
            response = await self._handle(scope, receive)
        if origin:
            cors.add_headers(response)
        await response(scope, receive, send)

    async def _handle(self, scope: Scope, receive: Receive) -> Response:
        door = Door(scope)
        try:
            route, params = self.resolve(scope["method"], scope["path"][len(self.prefix) :])
            scope["path_params"] = params
            request = Request(scope, receive)
            await door.admit(request, route, params)
            response = await door.run(route.handler, request)
        except FhirError as exc:
            if exc.status >= HTTPStatus.INTERNAL_SERVER_ERROR:
                log.error("server error: %s", exc.diagnostics)
            response = outcome_response(exc)
        except Exception as exc:
            response = internal_error_response(exc)
        door.record(response.status_code)
        return response

    async def _handle_until_disconnect(self, scope: Scope, receive: Receive) -> Response | None:
        """Run a GET or HEAD, cancelling it if the client goes away first; None if it did.

        Without this a search abandoned by its client would run to the end (or to the query
        time limit) for nobody. Cancelling stops the statement: SQLite reads are interrupted,
        asyncpg sends the server a cancel request. The handler runs in this task; a watcher
        task, started only once the handler has run for ``_WATCH_AFTER``, cancels it. Most
        requests end before that, so they pay for a timer (~2 µs), not for a task, its pending
        ``receive()`` and its cancellation. The handler sees an empty body, since the watcher
        owns ``receive()``; POST and PUT, which read their body, are not watched.
        """
        task = asyncio.current_task()
        assert task is not None
        gone = False
        watcher: asyncio.Task[None] | None = None

        async def watch() -> None:
            nonlocal gone
            while (await receive())["type"] != "http.disconnect":
                pass
            gone = True
            task.cancel()

        def start() -> None:
            nonlocal watcher
            watcher = asyncio.create_task(watch())

        timer = asyncio.get_running_loop().call_later(_WATCH_AFTER, start)
        try:
            response = await self._handle(scope, _empty_body)
        except asyncio.CancelledError:
            if gone and task.uncancel() == 0:
                log.info("client went away; stopped %s %s", scope["method"], scope["path"])
                return None
            raise
        finally:
            timer.cancel()
            if watcher is not None:
                watcher.cancel()
        if gone:  # the handler swallowed the cancellation
            task.uncancel()
            return None
        return response


_BODILESS = frozenset({"GET", "HEAD"})
_WATCH_AFTER = 0.05
"""Seconds a GET or HEAD runs before it is watched for a disconnect; a slow search runs for
seconds, so this delays its cancellation little and spares every quick request a task."""


async def _empty_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}
