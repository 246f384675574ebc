"""Starting and stopping a real ``mitral-fhir serve`` process (uvicorn, two workers) on one
backend, in its own work directory and, on PostgreSQL, its own schema (dropped afterwards).

The process runs in its own session so that it and its workers are stopped together.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import POSTGRES_URL, _drop_schema

EXECUTABLE = Path(sys.executable).parent / "mitral-fhir"
SERVER_BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]
START_TIMEOUT = 45.0
STOP_TIMEOUT = 15.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_healthy(process: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the server did not become healthy in {START_TIMEOUT} s:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's own process group (it and its workers), SIGKILL if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=STOP_TIMEOUT)


@contextmanager
def serving(backend: str, workdir: Path, settings: dict[str, str]) -> Iterator[str]:
    """A healthy server for as long as the block runs; yields its FHIR base URL. ``settings``
    are MITRAL_FHIR_* variables; none of the test run's own are passed on."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MITRAL_FHIR_")}
    env.update({"MITRAL_FHIR_LOG_LEVEL": "warning", **settings})
    schema = None
    if backend == "sqlite":
        url = f"sqlite:///{workdir / 'server.sqlite3'}"
    else:
        assert POSTGRES_URL
        url = POSTGRES_URL
        schema = f"server_{uuid.uuid4().hex[:12]}"
        env["MITRAL_FHIR_DATABASE_SCHEMA"] = schema
    port = free_port()
    log = workdir / "server.log"
    command = [str(EXECUTABLE), "serve", "--port", str(port), "--database-url", url]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--workers", "2"],
            env=env,
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_until_healthy(process, port, log)
        yield f"http://127.0.0.1:{port}/fhir"
    finally:
        _stop(process)
        if schema:
            assert POSTGRES_URL
            _drop_schema(POSTGRES_URL, schema)
