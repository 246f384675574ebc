"""An app serving the cut-down King's mapping (feed_messages.SPEC), for the ingest pipeline
tests over HTTP (one app per test module, emptied before each test)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from tests.conftest import Backend, empty_tables
from tests.ingest.feed_messages import SPEC


@pytest.fixture(scope="module")
def mappings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("mappings")
    (directory / "kings.yaml").write_text(SPEC)
    return directory


@pytest.fixture(scope="module")
async def ingest_app(backend: Backend, mappings: Path) -> AsyncIterator[FastAPI]:
    application = create_app(backend.settings(mappings_dir=mappings, max_body_bytes=256 * 1024))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def http(ingest_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    await empty_tables(ingest_app)
    transport = httpx.ASGITransport(app=ingest_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c
