"""``mitral-fhir ingest``, ``quarantine list|show|replay`` and ``synth``: the ingest pipeline
from the command line, with the same wiring as the server (``create_app``'s start-up)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from app.config import Settings, get_settings
from app.ingest.pipeline import Ingestor
from app.ingest.reports import Receipt
from app.pathway.derivation import analyze, drain
from app.storage import ingest_log

console = Console(stderr=True)
out = Console()
quarantine_cli = typer.Typer(help="Inputs that could not be mapped: list, show, replay")
T = TypeVar("T")


def _settings(database_url: str | None) -> Settings:
    base = get_settings()
    update: dict[str, object] = {
        "ingest_background": False,
        "pathway_background": False,
        "demo_data": False,
    }
    if database_url:
        update["database_url"] = database_url
    return base.model_copy(update=update)


@contextlib.asynccontextmanager
async def _ingestor(settings: Settings) -> AsyncIterator[Ingestor]:
    from app.main import create_app

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        ingestor: Ingestor | None = app.state.ingestor
        if ingestor is None:
            raise typer.BadParameter(f"no mappings found in {settings.mappings_dir}")
        yield ingestor


def _run(settings: Settings, work: Callable[[Ingestor], Awaitable[T]]) -> T:
    async def main() -> T:
        async with _ingestor(settings) as ingestor:
            return await work(ingestor)

    return asyncio.run(main())


def _summary(receipts: list[Receipt]) -> Table:
    """One row per centre, whatever the number of files."""
    table = Table(
        "centre", "units", "mapped", "quarantined", "repeats", "created", "updated", "unchanged"
    )
    by_centre: dict[str, Receipt] = {}
    for receipt in receipts:
        by_centre.setdefault(receipt.centre, Receipt(receipt.centre)).units.extend(receipt.units)
    for r in by_centre.values():
        table.add_row(
            r.centre,
            str(len(r.units)),
            str(r.count(ingest_log.MAPPED)),
            str(r.count(ingest_log.QUARANTINED)),
            str(sum(1 for u in r.units if u.repeat)),
            str(r.resources("created")),
            str(r.resources("updated")),
            str(r.resources("unchanged")),
        )
    return table


def ingest(
    files: Annotated[list[Path], typer.Argument(help="Files of the centre's feed")],
    centre: Annotated[str, typer.Option(help="Centre slug (the mapping's file name)")],
    database_url: Annotated[str | None, typer.Option(help="Database URL")] = None,
) -> None:
    """Ingest files of one centre's feed: every unit ends mapped or quarantined."""
    settings = _settings(database_url)
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise typer.BadParameter(f"no such file: {', '.join(missing)}")

    async def work(ingestor: Ingestor) -> list[Receipt]:
        ingestor.spec(centre)
        resumed = await ingestor.resume()
        if resumed:
            console.print(f"mapped {len(resumed)} units left by an interrupted run")
        with Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console
        ) as progress:
            task = progress.add_task("files", total=len(files))
            receipts = await ingestor.receive_many(
                centre,
                ((path.read_bytes(), path.name) for path in files),
                progress=lambda done: progress.update(task, completed=done),
            )
        await analyze(ingestor.ctx)  # a bulk load: fresh planner statistics first
        derived = await drain(ingestor.ctx)
        if derived.patients:
            console.print(
                f"pathway: {derived.patients} patients derived, {derived.written} CarePlans written"
            )
        return receipts

    receipts = _run(settings, work)
    out.print(_summary(receipts))
    if any(r.count(ingest_log.QUARANTINED) for r in receipts):
        console.print("some input was quarantined: see `mitral-fhir quarantine list`")


@quarantine_cli.command("list")
def quarantine_list(
    centre: Annotated[str | None, typer.Option(help="Only this centre")] = None,
    limit: Annotated[int, typer.Option(help="At most this many")] = 50,
    database_url: Annotated[str | None, typer.Option(help="Database URL")] = None,
) -> None:
    """Quarantined units, oldest first, with the first reason."""

    async def work(ingestor: Ingestor) -> list[ingest_log.LoggedUnit]:
        async with ingestor.ctx.db.read() as conn:
            return await ingest_log.list_units(
                conn, status=ingest_log.QUARANTINED, centre=centre, limit=limit
            )

    units = _run(_settings(database_url), work)
    table = Table("centre", "source", "position", "reason")
    table.add_column("unit", no_wrap=True, min_width=40)
    for u in units:
        reason = ""
        if u.outcome:
            issues = orjson.loads(u.outcome).get("issue", [])
            reason = issues[0].get("diagnostics", "") if issues else ""
        table.add_row(u.centre, u.source_name or "", u.position or "", reason, u.unit_id)
    out.print(table)
    out.print(f"{len(units)} quarantined")


@quarantine_cli.command("show")
def quarantine_show(
    unit_id: Annotated[str, typer.Argument(help="Unit id (from `quarantine list`)")],
    database_url: Annotated[str | None, typer.Option(help="Database URL")] = None,
) -> None:
    """One unit: its content as received and its OperationOutcome."""

    async def work(ingestor: Ingestor) -> ingest_log.LoggedUnit | None:
        async with ingestor.ctx.db.read() as conn:
            return await ingest_log.get_unit(conn, unit_id)

    unit = _run(_settings(database_url), work)
    if unit is None:
        console.print(f"no unit {unit_id}")
        raise typer.Exit(1)
    out.print(f"unit {unit.unit_id}  centre {unit.centre}  status {unit.status}")
    out.print(f"source {unit.source_name or '-'}  {unit.position or ''}  via {unit.transport}")
    if unit.context:
        out.print(unit.context.decode("utf-8", errors="replace"))
    out.print(unit.content.decode("utf-8", errors="replace").replace("\r", "\n"))
    if unit.outcome:
        out.print_json(unit.outcome.decode())


@quarantine_cli.command("replay")
def quarantine_replay(
    unit_ids: Annotated[list[str] | None, typer.Argument(help="Unit ids; none: all")] = None,
    centre: Annotated[str | None, typer.Option(help="With no ids: this centre's only")] = None,
    database_url: Annotated[str | None, typer.Option(help="Database URL")] = None,
) -> None:
    """Map quarantined units again, e.g. after a mapping fix."""

    async def work(ingestor: Ingestor) -> Receipt:
        ids = list(unit_ids or [])
        if not ids:
            async with ingestor.ctx.db.read() as conn:
                units = await ingest_log.list_units(
                    conn, status=ingest_log.QUARANTINED, centre=centre, limit=1_000_000
                )
            ids = [u.unit_id for u in units]
        receipt = Receipt(centre or "all")
        receipt.units = await ingestor.replay(ids)
        return receipt

    receipt = _run(_settings(database_url), work)
    out.print(_summary([receipt]))


def synth(
    patients: Annotated[int, typer.Option(help="Patients in the cohort")] = 100,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same files)")] = 1,
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the feeds to")] = Path(
        "data/feeds"
    ),
) -> None:
    """Write every centre's synthetic feed in its own format (see docs/centres.md)."""
    from app.ingest.synth import generate

    summary = generate(patients=patients, seed=seed, out=out_dir)
    out.print(summary)


def register(cli: typer.Typer) -> None:
    cli.command()(ingest)
    cli.command()(synth)
    cli.add_typer(quarantine_cli, name="quarantine")
