"""The mitral-fhir command line: serve, db upgrade, and the demo data."""

from __future__ import annotations

import logging
import os
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from app.cli_clients import register as register_clients
from app.cli_ingest import register as register_ingest
from app.cli_pathway import register as register_pathway
from app.config import Settings, get_settings
from app.storage import migrate

cli = typer.Typer(help="mitral-fhir: FHIR R4 service for the regional mitral valve network")
db_cli = typer.Typer(help="Database schema management")
cli.add_typer(db_cli, name="db")
console = Console(stderr=True)


def _settings(**overrides: object) -> Settings:
    """Environment first (get_settings), then the flags that were given."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return get_settings().model_copy(update=given)


def _export(settings: Settings) -> None:
    """Hand the effective settings to worker processes through the environment."""
    for name, value in settings.model_dump().items():
        if value is not None:
            os.environ[f"MITRAL_FHIR_{name.upper()}"] = str(value)
    get_settings.cache_clear()


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="sqlite:///path or postgresql://user@host/db")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes")] = None,
    demo: Annotated[bool | None, typer.Option("--demo/--no-demo", help="Load demo data")] = None,
) -> None:
    """Run the FHIR server (migrating the database first unless auto_migrate is off)."""
    settings = _settings(
        host=host, port=port, database_url=database_url, workers=workers, demo_data=demo
    )
    if settings.demo_data and "MITRAL_FHIR_ACCESS_CONTROL" not in os.environ:
        # The demo opens to a browser without a token; the app logs a loud warning.
        settings = settings.model_copy(update={"access_control": False})
    logging.basicConfig(level=settings.log_level.upper())
    if settings.auto_migrate:
        migrate.upgrade(settings.database_url, schema=settings.database_schema)
    _export(settings)
    console.print(
        f"mitral-fhir on http://{settings.host}:{settings.port}/fhir "
        f"({'SQLite' if settings.is_sqlite else 'PostgreSQL'}, {settings.workers} worker(s))"
    )
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        access_log=False,
    )


@db_cli.command("upgrade")
def db_upgrade(
    database_url: Annotated[str | None, typer.Option(help="Database URL")] = None,
    revision: Annotated[str, typer.Option(help="Target revision")] = "head",
) -> None:
    """Apply the schema migrations."""
    settings = _settings(database_url=database_url)
    migrate.upgrade(settings.database_url, schema=settings.database_schema, revision=revision)
    current = migrate.current_revision(settings.database_url, schema=settings.database_schema)
    console.print(f"database at revision {current}")


@cli.command()
def reindex(
    res_type: Annotated[str | None, typer.Option("--type", help="Only this resource type")] = None,
    param: Annotated[str | None, typer.Option(help="Only this search parameter's rows")] = None,
    start_after: Annotated[
        str | None, typer.Option("--from", help="Resume after this Type/id cursor")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Resources per transaction")] = 500,
    database_url: Annotated[str | None, typer.Option(help="Database URL")] = None,
) -> None:
    """Rewrite search index rows from the stored resources (resumable with --from)."""
    import asyncio

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from app.search.reindex import Batch, parse_cursor
    from app.search.reindex import reindex as run_reindex
    from app.storage.database import create_database
    from app.storage.store import ResourceStore

    settings = _settings(database_url=database_url)
    try:
        parse_cursor(start_after)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc

    async def run() -> int:
        db = create_database(
            settings.database_url,
            schema=settings.database_schema,
            sqlite_cache_mib=settings.sqlite_cache_mib,
        )
        await db.open()
        try:
            total = await ResourceStore(db).count_current(res_type=res_type)
            with Progress(
                TextColumn("reindex"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.description}"),
                console=console,
            ) as progress:
                task = progress.add_task("", total=total)

                def on_batch(batch: Batch) -> None:
                    progress.update(task, advance=batch.resources, description=batch.cursor)
                    progress.console.print(
                        f"{batch.resources} resources, {batch.rows} index rows; "
                        f"resume with --from {batch.cursor}",
                        soft_wrap=True,
                    )

                return await run_reindex(
                    db,
                    res_type=res_type,
                    param=param,
                    start_after=start_after,
                    batch_size=batch_size,
                    on_batch=on_batch,
                )
        finally:
            await db.close()

    done = asyncio.run(run())
    console.print(f"reindexed {done} resources")


register_clients(cli)
register_ingest(cli)
register_pathway(cli)


def main() -> None:
    cli()
