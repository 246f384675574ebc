"""Schema migrations through Alembic, callable from the CLI and the test fixtures."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def sqlalchemy_url(url: str) -> str:
    """Map our URLs onto SQLAlchemy's sync drivers (migrations run synchronously)."""
    scheme, _, rest = url.partition("://")
    if scheme.startswith("sqlite"):
        return f"sqlite://{rest}"
    return f"postgresql+psycopg://{rest}"


def _engine(url: str, schema: str | None) -> sa.Engine:
    connect_args: dict[str, str] = {}
    if schema and not url.startswith("sqlite"):
        connect_args["options"] = f"-csearch_path={schema}"
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return sa.create_engine(sqlalchemy_url(url), connect_args=connect_args)


def upgrade(url: str, *, schema: str | None = None, revision: str = "head") -> None:
    """Bring the database at ``url`` (and ``schema`` on PostgreSQL) up to ``revision``."""
    engine = _engine(url, schema)
    try:
        with engine.begin() as connection:
            if schema and connection.dialect.name == "postgresql":
                connection.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def current_revision(url: str, *, schema: str | None = None) -> str | None:
    engine = _engine(url, schema)
    try:
        with engine.connect() as connection:
            inspector = sa.inspect(connection)
            if not inspector.has_table("alembic_version"):
                return None
            value = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
            return str(value) if value is not None else None
    finally:
        engine.dispose()
