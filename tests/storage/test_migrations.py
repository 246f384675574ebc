"""The Alembic migrations bring each backend to head, and head is exactly the schema metadata."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from app.storage import migrate
from app.storage.schema import metadata
from tests.conftest import Backend


def _head() -> str | None:
    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS))
    return ScriptDirectory.from_config(config).get_current_head()


def _engine(backend: Backend) -> sa.Engine:
    connect_args: dict[str, Any] = {}
    if backend.schema:
        connect_args["options"] = f"-csearch_path={backend.schema}"
    return sa.create_engine(migrate.sqlalchemy_url(backend.url), connect_args=connect_args)


def _differences(backend: Backend) -> list[Any]:
    engine = _engine(backend)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "compare_server_default": True}
            )
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_there_is_a_single_head_revision():
    assert _head() is not None


def test_database_is_at_the_head_revision(backend):
    assert migrate.current_revision(backend.url, schema=backend.schema) == _head()


def test_migrated_schema_has_no_difference_from_the_metadata(backend):
    assert _differences(backend) == []


def test_migrated_schema_has_every_table(backend):
    engine = _engine(backend)
    try:
        with engine.connect() as connection:
            tables = set(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()

    assert set(metadata.tables) | {"alembic_version"} == tables


def test_upgrading_again_changes_nothing(backend):
    migrate.upgrade(backend.url, schema=backend.schema)

    assert migrate.current_revision(backend.url, schema=backend.schema) == _head()
    assert _differences(backend) == []


def test_a_fresh_sqlite_database_migrates_to_head(tmp_path):
    url = f"sqlite:///{tmp_path / 'nested' / 'fresh.sqlite3'}"

    assert migrate.current_revision(url) is None
    migrate.upgrade(url)

    assert migrate.current_revision(url) == _head()
    assert _differences(Backend("sqlite", url, None)) == []
