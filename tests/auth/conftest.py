"""An app with the audit trail on, for the audit tests (one per test module)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from app.main import create_app
from tests.conftest import Backend


@pytest.fixture(scope="module")
async def audited(backend: Backend) -> AsyncIterator[FastAPI]:
    application = create_app(backend.settings(audit=True))
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def audit_http(audited: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=audited, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver/fhir/") as c:
        yield c
