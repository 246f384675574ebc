"""The audit trail: recorded accesses are stored as searchable AuditEvents, in the background.

Every query filters on the token ``sub`` (``altid``) of its own principals, so events the
dispatcher records for these tests' own requests never change a count.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.auth import audit
from app.auth.access import AccessEvent, Principal
from app.main import create_app
from tests.auth.audit_events import (
    BASE,
    access,
    clinician,
    count_stored,
    system_client,
    trail_of,
)
from tests.conftest import Backend

JAN_2020 = int(datetime(2020, 1, 1, 12, tzinfo=UTC).timestamp() * 1_000_000)


async def found(audit_http: httpx.AsyncClient, principal: Principal, **params: str) -> list[Any]:
    response = await audit_http.get("AuditEvent", params={"altid": principal.subject, **params})
    assert response.status_code == 200, response.text
    return [e["resource"] for e in response.json().get("entry", ())]


async def test_recorded_accesses_are_searchable(
    audited: FastAPI, audit_http: httpx.AsyncClient
) -> None:
    user, service = clinician("aud-p1"), system_client()
    trail = trail_of(audited)
    trail.record(access(user, res_id="aud-p1", patients=("aud-p1",)))
    trail.record(
        access(
            user,
            path="/fhir/Observation",
            interaction="search-type",
            res_type="Observation",
            res_id=None,
            query="subject=Patient/aud-p1",
            patients=("aud-p1",),
            recorded=JAN_2020,
        )
    )
    trail.record(
        access(
            service,
            method="POST",
            path="/fhir/Observation",
            interaction="create",
            status=201,
            res_type="Observation",
            res_id="aud-obs-1",
            patients=("aud-p2",),
        )
    )
    trail.record(access(service, status=404, res_id="gone", patients=()))
    await trail.flush()
    assert trail.pending == 0

    by_patient = await found(audit_http, user, patient="Patient/aud-p1")
    assert sorted(r["subtype"][0]["code"] for r in by_patient) == ["read", "search-type"]
    assert all(r["meta"]["versionId"] == "1" and r["meta"]["lastUpdated"] for r in by_patient)
    assert len(await found(audit_http, user, agent="Practitioner/dr-1")) == 2
    client_ref = f"urn:ietf:params:oauth:client-id|{service.client_id}"
    assert len(await found(audit_http, service, **{"agent:identifier": client_ref})) == 2
    (created,) = await found(audit_http, service, entity="Observation/aud-obs-1")
    assert (created["action"], created["outcome"]) == ("C", "0")
    assert [r["id"] for r in await found(audit_http, service, patient="aud-p2")] == [created["id"]]
    (failed,) = await found(audit_http, service, outcome="4")
    assert failed["outcomeDesc"] == "HTTP 404 Not Found"
    (old,) = await found(audit_http, user, date="lt2020-01-02")
    assert old["recorded"] == "2020-01-01T12:00:00.000Z"
    assert len(await found(audit_http, user, date="ge2020-01-02")) == 1
    assert len(await found(audit_http, user, action="E", subtype="search-type")) == 1
    rest = "http://terminology.hl7.org/CodeSystem/audit-event-type|rest"
    assert len(await found(audit_http, service, type=rest)) == 2


async def test_audit_events_are_in_the_patient_compartment(
    audited: FastAPI, audit_http: httpx.AsyncClient
) -> None:
    user = clinician("aud-p3")
    trail_of(audited).record(access(user, res_id="aud-p3", patients=("aud-p3",)))
    await trail_of(audited).flush()
    response = await audit_http.get("Patient/aud-p3/AuditEvent", params={"altid": user.subject})
    assert response.status_code == 200, response.text
    assert len(response.json()["entry"]) == 1


async def test_the_audit_write_is_not_audited_and_queues_no_derivation(
    audited: FastAPI,
) -> None:
    trail = trail_of(audited)
    await trail.flush()
    user = clinician("aud-p4")
    for _ in range(3):
        trail.record(access(user, res_id="aud-p4", patients=("aud-p4",)))
    await trail.flush()
    assert trail.pending == 0  # writing recorded nothing new
    assert await count_stored(audited, user) == 3
    async with audited.state.fhir.db.read() as conn:
        queued = await conn.fetch(
            "SELECT patient_id FROM pathway_dirty WHERE patient_id = $1", "aud-p4"
        )
    assert queued == []


async def test_the_background_task_writes_without_an_explicit_flush(audited: FastAPI) -> None:
    user = system_client()
    trail_of(audited).record(access(user, patients=()))
    for _ in range(200):  # the task flushes every 0.2 s; up to 10 s
        if await count_stored(audited, user):
            break
        await asyncio.sleep(0.05)
    assert await count_stored(audited, user) == 1


async def test_a_clean_shutdown_writes_what_is_queued(backend: Backend, app: FastAPI) -> None:
    user = system_client()
    application = create_app(backend.settings(audit=True))
    async with application.router.lifespan_context(application):
        for n in range(25):
            trail_of(application).record(access(user, res_id=f"shut-{n}", patients=()))
        assert trail_of(application).pending == 25  # nothing written yet: no await since
    assert await count_stored(app, user) == 25


async def test_audit_off_records_nothing(backend: Backend, app: FastAPI) -> None:
    user = system_client()
    application = create_app(backend.settings(audit=False))
    async with application.router.lifespan_context(application):
        trail = trail_of(application)
        trail.record(access(user, patients=()))
        assert trail.pending == 0
        assert await trail.flush() == 0
    assert await count_stored(app, user) == 0


async def test_a_failed_flush_keeps_the_events_and_retries(
    audited: FastAPI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    trail = trail_of(audited)
    await trail.flush()
    user = system_client()
    first, second = access(user, res_id="r-1"), access(user, res_id="r-2")
    trail.record(first)
    trail.record(second)

    async def broken(batch: list[AccessEvent]) -> None:
        raise ConnectionError("database went away")

    with monkeypatch.context() as patched:
        patched.setattr(trail, "_write", broken)
        with caplog.at_level(logging.ERROR, logger="app.auth.audit"):
            assert await trail.flush() == 0  # logged, not raised
        assert trail.pending == 2
    assert "writing 2 events failed" in caplog.text
    await trail.flush()  # (or the writer task's next tick) spools and stores them
    assert trail.pending == 0
    assert await count_stored(audited, user) == 2


async def test_a_backlog_is_kept_and_warned_about_once(
    audited: FastAPI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    trail = trail_of(audited)
    await trail.flush()
    monkeypatch.setattr(audit, "BACKLOG_WARNING", 3)
    monkeypatch.setattr(audit, "BATCH", 2)
    user = system_client()
    with caplog.at_level(logging.WARNING, logger="app.auth.audit"):
        for n in range(8):
            trail.record(access(user, res_id=f"b-{n}", patients=()))
    assert trail.pending == 8  # kept, none dropped
    assert caplog.text.count("events waiting to be written") == 1
    # The writer task, woken by the full batches, may spool some first: flush then stores them
    await trail.flush()
    assert trail.pending == 0
    assert await count_stored(audited, user) == 8


async def test_a_request_through_the_dispatcher_is_recorded(
    audited: FastAPI, audit_http: httpx.AsyncClient
) -> None:
    missing = f"nobody-{uuid.uuid4().hex[:8]}"
    assert (await audit_http.get(f"Patient/{missing}")).status_code == 404
    await trail_of(audited).flush()
    response = await audit_http.get("AuditEvent", params={"entity": f"Patient/{missing}"})
    (event,) = [e["resource"] for e in response.json()["entry"]]
    assert (event["subtype"][0]["code"], event["action"], event["outcome"]) == ("read", "R", "4")
    assert event["outcomeDesc"] == "HTTP 404 Not Found"


async def test_the_base_url_names_the_site_and_shortens_fhir_user(
    audited: FastAPI, audit_http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    trail = trail_of(audited)
    await trail.flush()
    monkeypatch.setattr(trail, "base", BASE)
    user = clinician("aud-p5")
    trail.record(access(user, res_id="aud-p5", patients=("aud-p5",)))
    await trail.flush()
    (event,) = await found(audit_http, user)
    assert event["source"]["site"] == BASE
    assert event["agent"][0]["who"] == {"reference": "Practitioner/dr-1"}


async def test_the_background_task_retries_a_failed_write(
    audited: FastAPI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    trail = trail_of(audited)
    await trail.flush()
    real_write = trail._write
    attempts: list[int] = []

    async def flaky(batch: list[AccessEvent]) -> None:
        attempts.append(len(batch))
        if len(attempts) <= 2:
            raise ConnectionError("database went away")
        await real_write(batch)

    monkeypatch.setattr(trail, "_write", flaky)
    user = system_client()
    with caplog.at_level(logging.ERROR, logger="app.auth.audit"):
        trail.record(access(user, patients=()))
        for _ in range(200):  # two failures, then backoff: up to 10 s
            if await count_stored(audited, user):
                break
            await asyncio.sleep(0.05)
    assert await count_stored(audited, user) == 1
    assert len(attempts) >= 3
    assert caplog.text.count("will retry") == 2
