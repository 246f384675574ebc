"""The audit trail behind the secured routes: what the dispatcher and the ingest and metrics
routes record, and who may read it back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.auth.enforcement.conftest import (
    BASE,
    SYSTEM,
    bearer,
    mint,
    records,
    trusting_the_test_issuer,
)
from tests.conftest import Backend, empty_tables
from tests.factories import bundle_of, request_entry

AUDITOR = bearer(mint("system/AuditEvent.rs"))


@pytest.fixture(scope="module")
async def audited_app(backend: Backend) -> AsyncIterator[FastAPI]:
    """Module-scoped: a trail left running would store what later tests spool (as another
    worker would: every trail stores any spooled access), making their counts flaky."""
    async with trusting_the_test_issuer(backend, audit=True) as application:
        yield application


@pytest.fixture
async def audited(audited_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    await audited_app.state.audit.flush()
    await empty_tables(audited_app)
    transport = httpx.ASGITransport(app=audited_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=f"{BASE}/") as client:
        for resource in records()[:3]:
            url = f"{resource['resourceType']}/{resource['id']}"
            assert (await client.put(url, json=resource, headers=SYSTEM)).status_code in (200, 201)
        yield client


async def _events(
    app: FastAPI, client: httpx.AsyncClient, query: str, headers: dict[str, str] = AUDITOR
) -> list[dict[str, Any]]:
    await app.state.audit.flush()
    response = await client.get(f"AuditEvent?{query}&_count=100", headers=headers)
    assert response.status_code == 200, response.text
    return [e["resource"] for e in response.json().get("entry", []) if "resource" in e]


def _subtypes(event: dict[str, Any]) -> set[str]:
    return {c["code"] for c in event["subtype"]}


async def test_reads_refusals_batches_and_ingest_are_recorded(
    audited_app: FastAPI, audited: httpx.AsyncClient
) -> None:
    patient_a = bearer(mint("patient/*.rs", patient="pa", sub="app-user-a"))
    assert (await audited.get("Patient/pa", headers=patient_a)).status_code == 200
    assert (await audited.get("Patient/pb", headers=patient_a)).status_code == 404
    batch = bundle_of("batch", [request_entry("GET", "Patient/pa")])
    assert (await audited.post("", json=batch, headers=patient_a)).status_code == 200
    ingest = bearer(mint("system/*.cud", sub="feed-1"))
    unknown = await audited.post(
        "http://testserver/ingest/no-such-centre", content=b"MSH|", headers=ingest
    )
    assert unknown.status_code == 404

    mine = await _events(audited_app, audited, "altid=app-user-a")
    outcomes = sorted((e["outcome"], sorted(_subtypes(e))[0]) for e in mine)
    assert ("0", "batch") in outcomes and ("0", "read") in outcomes
    assert ("4", "read") in outcomes  # the 404 of another patient's record
    assert all(e["source"]["site"] == BASE for e in mine)
    feed = await _events(audited_app, audited, "altid=feed-1")
    assert [e["outcome"] for e in feed] == ["4"]  # the handler's 404, not its admission


async def test_the_trail_is_read_within_scope(
    audited_app: FastAPI, audited: httpx.AsyncClient
) -> None:
    await audited.get("Patient/pa", headers=bearer(mint("user/*.rs", sub="doc-1")))
    await audited.get("Patient/pb", headers=bearer(mint("user/*.rs", sub="doc-1")))
    await audited_app.state.audit.flush()
    wildcard = await audited.get("AuditEvent", headers=bearer(mint("user/*.rs")))
    assert wildcard.status_code == 403
    own = bearer(mint("patient/AuditEvent.rs", patient="pa"))
    seen = await _events(audited_app, audited, "altid=doc-1", headers=own)
    patients = {
        e2["what"]["reference"]
        for e in seen
        for e2 in e["entity"]
        if e2.get("what", {}).get("reference", "").startswith("Patient/")
    }
    assert seen and patients == {"Patient/pa"}
    everyone = await _events(audited_app, audited, "altid=doc-1")
    assert len(everyone) == len(seen) + 1
