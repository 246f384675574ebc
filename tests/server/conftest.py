"""A real ``mitral-fhir serve`` process (uvicorn, two workers) per backend, for the session.

SQLite always; PostgreSQL too when MITRAL_FHIR_TEST_POSTGRES_URL is set, in its own schema that
is dropped afterwards. The process is started in its own session so that it and its workers
can be stopped together.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.server.process import SERVER_BACKENDS, serving


@dataclass(frozen=True)
class Server:
    backend: str
    base: str
    """The FHIR base URL, e.g. http://127.0.0.1:40123/fhir."""


@pytest.fixture(scope="session", params=SERVER_BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp(f"server-{request.param}")
    # Secured servers are tested in tests/auth; the audit trail would only add rows here.
    settings = {"MITRAL_FHIR_ACCESS_CONTROL": "false", "MITRAL_FHIR_AUDIT": "false"}
    with serving(request.param, workdir, settings) as base:
        yield Server(request.param, base)
