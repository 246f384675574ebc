"""A derivation per message writes only what changed: a CarePlan's unchanged index rows and
a patient's unchanged episode rows stay as stored, and a re-derivation of unchanged data
writes nothing at all; yet every CarePlan ends indexed exactly as its content says. On both
backends, feeds ingested file by file with a drain after each file (the worst case the
benchmark measures)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from fastapi import FastAPI

from app.fhir.context import FhirContext
from app.pathway import derivation, episode_rows
from app.search.extract import extract_index
from app.storage.database import Connection
from app.storage.index_rows import COLUMNS

FEEDS = Path(__file__).resolve().parent.parent / "fixtures" / "feeds"


async def _ingest_deriving_after_each_file(app: FastAPI) -> int:
    ingestor = app.state.ingestor
    drains = 0
    for centre in sorted(ingestor.specs):
        for path in sorted(p for p in (FEEDS / centre).rglob("*") if p.is_file()):
            await ingestor.receive(centre, path.read_bytes(), source_name=path.name)
            await derivation.drain(ingestor.ctx)
            drains += 1
    return drains


async def _stored(ctx: FhirContext) -> dict[str, Any]:
    """Every CarePlan row, version and index row, and every episode row, with row ids (a
    rewritten row gets a new one)."""
    row_id = "ctid::text" if ctx.db.dialect == "postgresql" else "rowid"
    out: dict[str, Any] = {}
    async with ctx.db.read() as conn:
        for table, columns in COLUMNS.items():
            rows = await conn.fetch(
                f"SELECT {row_id}, res_id, {', '.join(columns)} FROM {table} "
                "WHERE res_type = 'CarePlan'"
            )
            out[table] = sorted(map(repr, map(tuple, rows)))
        for table in ("resource", "resource_version", "pathway_episode"):
            where = "" if table == "pathway_episode" else " WHERE res_type = 'CarePlan'"
            rows = await conn.fetch(f"SELECT {row_id}, * FROM {table}{where}")
            out[table] = sorted(map(repr, map(tuple, rows)))
    return out


async def test_careplans_derived_message_by_message_are_indexed_as_their_content(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ctx: FhirContext = app.state.fhir
    assert await _ingest_deriving_after_each_file(app) > 10
    async with ctx.db.read() as conn:
        careplans = await conn.fetch(
            "SELECT res_id, content, version_id FROM resource "
            "WHERE res_type = 'CarePlan' AND deleted = $1",
            False,
        )
        assert careplans
        assert max(r[2] for r in careplans) > 1  # rewritten as the messages came
        for res_id, content, _ in careplans:
            resource = orjson.loads(content)
            for key in ("versionId", "lastUpdated"):
                resource["meta"].pop(key)
            wanted = extract_index(resource).rows
            for table, columns in COLUMNS.items():
                rows = await conn.fetch(
                    f"SELECT {', '.join(columns)} FROM {table} "
                    "WHERE res_type = 'CarePlan' AND res_id = $1",
                    res_id,
                )
                assert Counter(tuple(r) for r in rows) == Counter(
                    tuple(r) for r in wanted.get(table, [])
                ), (res_id, table)


async def test_an_unchanged_re_derivation_writes_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ctx: FhirContext = app.state.fhir
    await _ingest_deriving_after_each_file(app)
    before = await _stored(ctx)
    assert before["pathway_episode"] and before["search_reference"]

    again = await derivation.rebuild(ctx)

    assert again.patients and (again.written, again.removed) == (0, 0)
    assert await _stored(ctx) == before


async def test_an_entry_queued_again_while_its_patient_was_derived_stays_queued(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The queue entry goes only with the derivation that saw its change: an entry written
    again meanwhile (a newer ``queued_at``) survives the derivation's commit."""
    ctx: FhirContext = app.state.fhir
    await _ingest_deriving_after_each_file(app)
    async with ctx.db.read() as conn:
        patient_id = (await conn.fetch("SELECT patient_id FROM pathway_episode LIMIT 1"))[0][0]
    async with ctx.db.write() as conn:
        await conn.execute(
            "INSERT INTO pathway_dirty (patient_id, queued_at) VALUES ($1, $2)", patient_id, 1
        )
    write = episode_rows.write

    async def requeued_meanwhile(conn: Connection, patients: Any) -> None:
        await conn.execute(
            "UPDATE pathway_dirty SET queued_at = $2 WHERE patient_id = $1", patient_id, 2
        )
        await write(conn, patients)

    monkeypatch.setattr(episode_rows, "write", requeued_meanwhile)
    first = await derivation.drain(ctx)
    monkeypatch.setattr(episode_rows, "write", write)

    assert first.patients == 1
    assert await derivation.queued(ctx) == 1
    again = await derivation.drain(ctx)
    assert (again.patients, again.written) == (1, 0)
    assert await derivation.queued(ctx) == 0
