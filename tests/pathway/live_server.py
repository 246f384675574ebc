"""A second app on the test database, served by uvicorn on a free local port in a thread, for
clients that speak real HTTP only (fhirpy uses aiohttp, which cannot use an ASGI transport)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import uvicorn

from app.main import MitralApp, create_app
from tests.conftest import Backend


@contextlib.contextmanager
def served(backend: Backend) -> Iterator[tuple[str, MitralApp]]:
    """(FHIR base url, the served app) while the block runs."""
    app = create_app(backend.settings())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/fhir", app
    finally:
        server.should_exit = True
        thread.join(timeout=30)
