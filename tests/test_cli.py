"""The mitral-fhir command line: ``db upgrade`` migrates and reports the revision."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from app.cli import cli
from app.storage import migrate
from tests.conftest import POSTGRES_URL, _drop_schema

EXECUTABLE = Path(sys.executable).parent / "mitral-fhir"


def _head() -> str:
    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {r[0] for r in rows}


def test_db_upgrade_migrates_a_new_sqlite_database_and_prints_the_revision(tmp_path):
    path = tmp_path / "cli.sqlite3"

    result = CliRunner().invoke(cli, ["db", "upgrade", "--database-url", f"sqlite:///{path}"])

    assert result.exit_code == 0, result.output
    assert f"database at revision {_head()}" in result.output
    assert {"resource", "resource_version", "search_token", "alembic_version"} <= _tables(path)


def test_db_upgrade_twice_is_harmless(tmp_path):
    url = f"sqlite:///{tmp_path / 'twice.sqlite3'}"
    runner = CliRunner()

    first = runner.invoke(cli, ["db", "upgrade", "--database-url", url])
    second = runner.invoke(cli, ["db", "upgrade", "--database-url", url])

    assert first.exit_code == second.exit_code == 0
    assert _head() in second.output


def test_db_upgrade_through_the_installed_command(tmp_path):
    path = tmp_path / "subprocess.sqlite3"

    completed = subprocess.run(
        [str(EXECUTABLE), "db", "upgrade", "--database-url", f"sqlite:///{path}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert f"database at revision {_head()}" in completed.stdout + completed.stderr
    assert "resource" in _tables(path)


@pytest.mark.skipif(POSTGRES_URL is None, reason="MITRAL_FHIR_TEST_POSTGRES_URL is not set")
def test_db_upgrade_on_postgresql_uses_the_configured_schema():
    assert POSTGRES_URL is not None
    schema = f"cli_{uuid.uuid4().hex[:12]}"
    env = {**os.environ, "MITRAL_FHIR_DATABASE_SCHEMA": schema}
    try:
        completed = subprocess.run(
            [str(EXECUTABLE), "db", "upgrade", "--database-url", POSTGRES_URL],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=env,
        )

        assert completed.returncode == 0, completed.stderr
        assert _head() in completed.stdout + completed.stderr
        assert migrate.current_revision(POSTGRES_URL, schema=schema) == _head()
    finally:
        _drop_schema(POSTGRES_URL, schema)
