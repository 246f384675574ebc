"""Shared fixtures: the app on each storage backend, and an HTTP client bound to it.

Every test that uses ``client`` runs once on SQLite and once on PostgreSQL when
MITRAL_FHIR_TEST_POSTGRES_URL is set (``.ci/run`` sets it). Each test session migrates its own
SQLite file and its own PostgreSQL schema, so concurrent runs never collide; tables are
emptied before each test.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app
from app.storage import migrate
from app.storage.schema import metadata

# Access control is tested in tests/auth (tokens, scopes, compartments); the rest of the
# suite tests FHIR behaviour without tokens, so it runs with access control off, and so do
# the servers it starts in subprocesses (they inherit this environment).
# The audit trail (its own tests in tests/auth) would add AuditEvents to every store the
# other tests count.
os.environ.setdefault("MITRAL_FHIR_ACCESS_CONTROL", "false")
os.environ.setdefault("MITRAL_FHIR_AUDIT", "false")
pytest_plugins = ["tests.browser"]  # the ``browser`` and ``page`` fixtures (Chromium)

POSTGRES_URL = os.environ.get("MITRAL_FHIR_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]
FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Backend:
    name: str
    url: str
    schema: str | None

    def settings(self, **overrides: object) -> Settings:
        # Tests derive pathways when they choose to (derivation.drain), not on a timer.
        overrides.setdefault("pathway_background", False)
        # The embedded authorization server's files: per backend, never the checkout's data/.
        folder = Path(tempfile.gettempdir()) / f"mitral-auth-{os.getpid()}"
        overrides.setdefault("auth_keys_file", folder / "auth-keys.json")
        overrides.setdefault("auth_clients_file", folder / "auth-clients.json")
        return Settings(
            database_url=self.url,
            database_schema=self.schema,
            **overrides,  # type: ignore[arg-type]
        )


def _drop_schema(url: str, schema: str) -> None:
    dsn = "postgresql://" + url.partition("://")[2]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(scope="session", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Backend]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "test.sqlite3"
        found = Backend("sqlite", f"sqlite:///{path}", None)
        migrate.upgrade(found.url)
        yield found
        return
    assert POSTGRES_URL
    schema = f"test_{uuid.uuid4().hex[:12]}"
    found = Backend("postgresql", POSTGRES_URL, schema)
    migrate.upgrade(found.url, schema=schema)
    yield found
    _drop_schema(POSTGRES_URL, schema)


@pytest.fixture(scope="session")
async def app(backend: Backend) -> AsyncIterator[FastAPI]:
    application = create_app(backend.settings(max_body_bytes=256 * 1024, max_bundle_entries=1500))
    async with application.router.lifespan_context(application):
        yield application


async def empty_tables(application: FastAPI) -> None:
    async with application.state.fhir.db.write() as conn:
        for table in reversed(metadata.sorted_tables):
            await conn.execute(f"DELETE FROM {table.name}")


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    await empty_tables(app)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver/fhir/") as c:
        yield c
