"""``mitral-fhir reindex``: rewrite index rows from stored content, resumably, per type/param."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from app.cli import cli
from app.config import get_settings
from app.model.fhir_json import loads
from app.search.extract import extract_index
from app.storage.index_rows import COLUMNS
from tests.conftest import Backend
from tests.factories import NHS_NUMBER, patient, referral


async def _sql(app: FastAPI, sql: str) -> list[Any]:
    async with app.state.fhir.db.write() as conn:
        if sql.startswith("SELECT"):
            return list(await conn.fetch(sql))
        await conn.execute(sql)
        return []


async def _index_counts(app: FastAPI) -> dict[str, int]:
    counts = {}
    for table in COLUMNS:
        (row,) = await _sql(app, f"SELECT count(*) FROM {table}")
        counts[table] = int(row[0])
    return counts


async def _expected_counts(app: FastAPI) -> dict[str, int]:
    counts = dict.fromkeys(COLUMNS, 0)
    for row in await _sql(app, "SELECT content FROM resource WHERE content IS NOT NULL"):
        for table, rows in extract_index(loads(bytes(row[0]))).rows.items():
            counts[table] += len(rows)
    return counts


async def _run(backend: Backend, monkeypatch: pytest.MonkeyPatch, *args: str) -> str:
    if backend.schema:
        monkeypatch.setenv("MITRAL_FHIR_DATABASE_SCHEMA", backend.schema)
    get_settings.cache_clear()
    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["reindex", "--database-url", backend.url, *args]
    )
    get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.output


async def _find(client: httpx.AsyncClient, nhs: str) -> int:
    response = await client.get(f"Patient?identifier={NHS_NUMBER}|{nhs}")
    assert response.status_code == 200, response.text
    return len(response.json().get("entry", []))


async def test_reindex_restores_cleared_rows(
    client: httpx.AsyncClient, app: FastAPI, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = []
    for nhs in ("9000000009", "9434765919", "9434765870"):
        created = await client.post("Patient", json=patient(nhs))
        assert created.status_code == 201
        ids.append(created.json()["id"])
    await client.post("ServiceRequest", json=referral(f"Patient/{ids[0]}"))
    deleted = await client.post("Patient", json=patient("9449304289"))
    await client.delete(f"Patient/{deleted.json()['id']}")
    expected = await _expected_counts(app)
    assert await _index_counts(app) == expected
    assert await _find(client, "9434765919") == 1

    for table in COLUMNS:
        await _sql(app, f"DELETE FROM {table}")
    await _sql(
        app,
        "INSERT INTO search_token (res_type, res_id, param, system, code) "
        "VALUES ('Patient', 'gone', 'identifier', 'x', 'stale')",
    )
    assert await _find(client, "9434765919") == 0

    output = await _run(backend, monkeypatch, "--batch-size", "2")
    assert "resume with --from Patient/" in output
    assert "reindexed 4 resources" in output
    # the stale row of a resource that is not stored stays; everything else is rewritten
    counts = await _index_counts(app)
    assert counts == {**expected, "search_token": expected["search_token"] + 1}
    assert await _find(client, "9434765919") == 1


async def test_reindex_one_type_one_param_and_resume(
    client: httpx.AsyncClient, app: FastAPI, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = sorted(
        [
            (await client.post("Patient", json=patient(n))).json()["id"]
            for n in ("9000000009", "9434765919", "9434765870")
        ]
    )
    await client.post("ServiceRequest", json=referral(f"Patient/{ids[0]}"))
    expected = await _expected_counts(app)
    await _sql(app, "DELETE FROM search_token")
    await _sql(app, "DELETE FROM search_string WHERE param = 'family'")

    # only the identifier rows of Patients after the first one
    output = await _run(
        backend,
        monkeypatch,
        "--type",
        "Patient",
        "--param",
        "identifier",
        "--from",
        f"Patient/{ids[0]}",
    )
    assert "reindexed 2 resources" in output
    tokens = await _sql(app, "SELECT res_id, param FROM search_token")
    assert {r[0] for r in tokens} == set(ids[1:])
    assert {r[1] for r in tokens} == {"identifier"}

    await _run(backend, monkeypatch, "--type", "Patient")
    await _run(backend, monkeypatch, "--type", "ServiceRequest")
    assert await _index_counts(app) == expected


def test_reindex_rejects_a_bad_cursor() -> None:
    result = CliRunner().invoke(cli, ["reindex", "--from", "nonsense"])
    assert result.exit_code != 0
