"""``mitral-fhir pathway rebuild|drain|status``: the pathway derivation from the command line,
with the same wiring as the server."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from app.config import Settings, get_settings
from app.fhir.context import FhirContext
from app.pathway import derivation
from app.pathway.derivation import Derived

console = Console(stderr=True)
out = Console()
pathway_cli = typer.Typer(help="Pathway CarePlans: rebuild, derive what is queued, status")


def _settings(database_url: str | None) -> Settings:
    update: dict[str, object] = {
        "ingest_background": False,
        "pathway_background": False,
        "demo_data": False,
    }
    if database_url:
        update["database_url"] = database_url
    return get_settings().model_copy(update=update)


async def _with_context(settings: Settings, rebuild: bool) -> tuple[Derived, float]:
    from app.main import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        ctx: FhirContext = app.state.fhir
        start = time.perf_counter()
        total = await derivation.queue_all(ctx) if rebuild else await derivation.queued(ctx)
        with Progress(
            TextColumn("patients"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            task = progress.add_task("derive", total=total)
            done = await derivation.drain(ctx, progress=lambda n: progress.advance(task, n))
        return done, time.perf_counter() - start


def _report(done: Derived, seconds: float) -> None:
    out.print(
        f"{done.patients} patients, {done.episodes} episodes: {done.written} CarePlans "
        f"written, {done.removed} removed, the rest unchanged ({seconds:.1f} s)"
    )


@pathway_cli.command()
def rebuild(
    database_url: Annotated[str | None, typer.Option(help="Database URL")] = None,
) -> None:
    """Derive every patient's CarePlans again from the store (unchanged ones keep their
    version): the same result as the incremental derivation."""
    _report(*asyncio.run(_with_context(_settings(database_url), rebuild=True)))


@pathway_cli.command()
def drain(
    database_url: Annotated[str | None, typer.Option(help="Database URL")] = None,
) -> None:
    """Derive the patients queued by writes since the last derivation."""
    _report(*asyncio.run(_with_context(_settings(database_url), rebuild=False)))


@pathway_cli.command()
def status(
    database_url: Annotated[str | None, typer.Option(help="Database URL")] = None,
) -> None:
    """Patients queued for derivation, and episodes derived."""

    async def work() -> tuple[int, int]:
        from app.main import create_app
        from app.pathway import episode_rows

        app = create_app(_settings(database_url))
        async with app.router.lifespan_context(app):
            ctx: FhirContext = app.state.fhir
            async with ctx.db.read() as conn:
                return await derivation.queued(ctx), await episode_rows.count(conn)

    queued, episodes = asyncio.run(work())
    out.print(f"{queued} patients queued, {episodes} episodes derived")


def register(cli: typer.Typer) -> None:
    cli.add_typer(pathway_cli, name="pathway")
