"""Nothing lost, nothing duplicated: ``mitral-fhir ingest`` killed mid-batch (SIGKILL), then
run again on the same file, leaves every message mapped or quarantined exactly once.

Runs the installed command as a real process on each backend's database, so the kill lands
wherever it lands: between logging and mapping, inside a write transaction, or after commit.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from tests.conftest import Backend
from tests.ingest.feed_messages import SPEC, feed

EXECUTABLE = Path(sys.executable).parent / "mitral-fhir"
MESSAGES = 1500


def _count(backend: Backend, sql: str) -> int:
    if backend.name == "sqlite":
        with sqlite3.connect(backend.url.removeprefix("sqlite:///")) as conn:
            return int(conn.execute(sql).fetchone()[0])
    dsn = "postgresql://" + backend.url.partition("://")[2]
    with psycopg.connect(dsn, options=f"-c search_path={backend.schema}") as conn:
        row = conn.execute(sql).fetchone()
        assert row is not None
        return int(row[0])


def _empty(backend: Backend) -> None:
    from app.storage.schema import metadata

    statements = [f"DELETE FROM {t.name}" for t in reversed(metadata.sorted_tables)]
    if backend.name == "sqlite":
        with sqlite3.connect(backend.url.removeprefix("sqlite:///")) as conn:
            for s in statements:
                conn.execute(s)
        return
    dsn = "postgresql://" + backend.url.partition("://")[2]
    with psycopg.connect(dsn, options=f"-c search_path={backend.schema}") as conn:
        for s in statements:
            conn.execute(s)


def _command(backend: Backend, mappings: Path, data: Path) -> tuple[list[str], dict[str, str]]:
    env = {
        **os.environ,
        "MITRAL_FHIR_DATABASE_URL": backend.url,
        "MITRAL_FHIR_MAPPINGS_DIR": str(mappings),
    }
    if backend.schema:
        env["MITRAL_FHIR_DATABASE_SCHEMA"] = backend.schema
    return [str(EXECUTABLE), "ingest", "--centre", "kings", str(data)], env


def test_killed_mid_batch_then_rerun_loses_and_duplicates_nothing(
    backend: Backend, tmp_path: Path
) -> None:
    _empty(backend)
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "kings.yaml").write_text(SPEC)
    data = tmp_path / "KCH_202603.hl7"
    data.write_text(feed(MESSAGES))
    command, env = _command(backend, mappings, data)

    first = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    mapped = 0
    while time.monotonic() < deadline and first.poll() is None:
        try:
            mapped = _count(backend, "SELECT COUNT(*) FROM ingest_unit WHERE status = 'mapped'")
        except (sqlite3.OperationalError, psycopg.Error):
            mapped = 0
        if mapped >= 100:
            break
        time.sleep(0.02)
    first.send_signal(signal.SIGKILL)
    first.wait()
    assert 0 < mapped < MESSAGES, "the kill must land mid-batch"
    unfinished = _count(backend, "SELECT COUNT(*) FROM ingest_unit WHERE status = 'received'")
    logged = _count(backend, "SELECT COUNT(*) FROM ingest_unit")
    assert unfinished > 0 or logged < MESSAGES

    second = subprocess.run(
        command, check=False, env=env, capture_output=True, text=True, timeout=600
    )
    assert second.returncode == 0, second.stderr

    assert _count(backend, "SELECT COUNT(*) FROM ingest_unit") == MESSAGES
    assert _count(backend, "SELECT COUNT(*) FROM ingest_unit WHERE status = 'received'") == 0
    assert _count(backend, "SELECT COUNT(*) FROM ingest_unit WHERE status = 'mapped'") == MESSAGES
    for res_type in ("Patient", "ServiceRequest"):
        current = f"SELECT COUNT(*) FROM resource WHERE res_type = '{res_type}'"
        assert _count(backend, current) == MESSAGES
        versions = f"SELECT COUNT(*) FROM resource_version WHERE res_type = '{res_type}'"
        assert _count(backend, versions) == MESSAGES, f"{res_type} written twice"
    provenance = "SELECT COUNT(*) FROM resource_version WHERE res_type = 'Provenance'"
    assert _count(backend, provenance) == MESSAGES


@pytest.mark.parametrize("repeat", [1])
def test_the_rerun_alone_reports_every_unit_as_a_repeat(
    backend: Backend, tmp_path: Path, repeat: int
) -> None:
    _empty(backend)
    mappings = tmp_path / "mappings"
    mappings.mkdir()
    (mappings / "kings.yaml").write_text(SPEC)
    data = tmp_path / "KCH_202604.hl7"
    data.write_text(feed(20, seed=repeat))
    command, env = _command(backend, mappings, data)
    for _ in range(2):
        done = subprocess.run(
            command, check=False, env=env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr
    assert "20" in done.stdout  # the summary table: 20 units, all repeats the second time
    assert _count(backend, "SELECT COUNT(*) FROM resource_version WHERE res_type = 'Patient'") == 20
