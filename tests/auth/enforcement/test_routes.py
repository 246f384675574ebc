"""Ingest and metrics, outside the FHIR base, behind the same tokens: never open to
patient-context tokens, each needing its user/ or system/ scope."""

from __future__ import annotations

import httpx
import pytest

from tests.auth.enforcement.conftest import bearer, mint
from tests.factories import assert_outcome

ROOT = "http://testserver"


@pytest.mark.parametrize(
    ("method", "url", "scope", "status"),
    [
        ("GET", "/ingest/quarantine", None, 401),
        ("GET", "/ingest/quarantine", "patient/*.cruds", 403),
        ("GET", "/ingest/quarantine", "system/*.c", 403),
        ("GET", "/ingest/quarantine", "system/*.rs", 200),
        ("GET", "/ingest/units", "user/*.read", 200),
        ("POST", "/ingest/no-such-centre", "system/*.rs", 403),
        ("POST", "/ingest/no-such-centre", "system/*.cud", 404),
        ("GET", "/api/metrics?from=2026-01-01&to=2026-12-31", None, 401),
        ("GET", "/api/metrics?from=2026-01-01&to=2026-12-31", "patient/*.rs", 403),
        ("GET", "/api/metrics?from=2026-01-01&to=2026-12-31", "user/Patient.rs", 403),
        ("GET", "/api/metrics?from=2026-01-01&to=2026-12-31", "user/MeasureReport.r", 200),
    ],
)
async def test_scopes_on_ingest_and_metrics(
    secured: httpx.AsyncClient, method: str, url: str, scope: str | None, status: int
) -> None:
    headers = bearer(mint(scope, patient="pa")) if scope else {}
    response = await secured.request(method, ROOT + url, headers=headers, content=b"MSH|")
    if status == 401:
        assert_outcome(response, 401, "login")
    elif status == 403:
        assert_outcome(response, 403, "forbidden")
    else:
        assert response.status_code == status, response.text
