"""The ingest pipeline: log every unit, map it, validate it, write it with its Provenance, or
quarantine it with the reason. Nothing is lost and nothing is written twice.

1. ``receive`` cuts the input into units and logs them all in one committed transaction
   (deduplicated by digest) before anything else: from then on nothing can be lost.
2. Each unit is read back from its stored bytes, mapped, and validated against the regional
   profiles (``validate_for_write`` with source ``ingest:<centre>``).
3. A chunk of units is written in one transaction together with their new status, so after
   a crash a unit is either mapped with all its writes or still ``received``, and ``resume``
   maps it again; deterministic ids and no-op updates make that safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from app.errors import FhirError, Issue, ResourceNotFound, Transient
from app.fhir.context import FhirContext
from app.fhir.resource_body import check_resource, validate_for_write
from app.ingest.mapping.codes import centre_terminology
from app.ingest.mapping.engine import Mapped, Mapper
from app.ingest.mapping.spec import Spec
from app.ingest.records import SourceError, SourceRecord
from app.ingest.reports import Receipt, UnitReport
from app.ingest.units import Cut, cut, kind_for, records
from app.ingest.writer import (
    UnitWrite,
    centre_organization,
    ensure_organization,
    planned_keys,
    write_unit,
)
from app.model import fhir_json
from app.storage import ingest_log
from app.storage.ingest_log import LoggedUnit, NewUnit
from app.terminology.local import LocalTerminology

log = logging.getLogger(__name__)

_NOISE = ("dom-6:",)
"""Warnings every mapped resource would carry (no narrative): not worth a line per unit."""
_VERDICTS = 4096
"""Validation verdicts remembered (least recently used dropped)."""
CHUNK = 1000
"""Units per write transaction at most (SQLite). One commit per unit would bound ingest by
fsyncs, and index inserts keyed by random ids dirty a page each: each commit writes every
B-tree page its inserts dirtied, and the more inserts share a page the fewer pages there are
per unit (CSV rows: about 20 % less CPU per row at 1,000 than at 100, HL7 v2 messages about
15 %). The write lock is held only for the writes (mapping and validation happen before),
about 0.5 s for 1,000 CSV rows; reads go on meanwhile (WAL)."""
CHUNK_RESOURCES = 4000
"""Mapped resources per write transaction at most, so a chunk of large units (Bundles of
many entries) stays as small a transaction as a chunk of CSV rows (about 4 writes a unit
with its Provenance)."""
OVERLAPPED_CHUNK = 100
"""``CHUNK`` where the next chunk is mapped while one is written (PostgreSQL): the first
chunk's mapping and the last one's write overlap nothing, so small chunks keep that short."""
OVERLAPPED_CHUNK_RESOURCES = 400
LOG_BATCH = 2000
"""Units logged per transaction before they are mapped: many chunks, so that on PostgreSQL
most writes overlap the mapping of the next chunk (``_map_chunks``; a batch begins with a
mapping and ends with a write that overlap nothing)."""
LOG_BATCH_BYTES = 32 << 20
"""Bytes of units logged per transaction at most: the batch is held in memory until mapped."""
_RETRIES = 3

Known = SourceError | list[SourceRecord]
"""What cutting a unit already found out: why it cannot be read, or its records."""


class UnknownCentre(ResourceNotFound):
    pass


class Ingestor:
    """Everything ingest needs, built once: the specs and a mapper per centre."""

    def __init__(self, ctx: FhirContext, specs: dict[str, Spec], local: LocalTerminology) -> None:
        self.ctx = ctx
        self.local = local
        self.specs = specs
        self.mappers = {c: Mapper(s, centre_terminology(s, local)) for c, s in specs.items()}
        self._verdicts: OrderedDict[tuple[str, bytes], list[Issue] | FhirError] = OrderedDict()

    def spec(self, centre: str) -> Spec:
        found = self.specs.get(centre)
        if found is None:
            known = ", ".join(sorted(self.specs)) or "none"
            raise UnknownCentre(f"Unknown centre {centre!r} (known: {known})")
        return found

    async def receive(
        self,
        centre: str,
        content: bytes,
        *,
        media_type: str | None = None,
        transport: str = "http",
        source_name: str | None = None,
    ) -> Receipt:
        """Log every unit of ``content``, then map the new ones. ``SourceError`` only for a
        request that is not for this centre at all (wrong content type)."""
        inputs = [(content, source_name)]
        found = await self.receive_many(centre, inputs, media_type=media_type, transport=transport)
        return found[0]

    async def receive_many(
        self,
        centre: str,
        inputs: Iterable[tuple[bytes, str | None]],
        *,
        media_type: str | None = None,
        transport: str = "file",
        progress: Callable[[int], None] | None = None,
    ) -> list[Receipt]:
        """``receive`` for many inputs (files) at once, one receipt each.

        Units are logged and mapped in batches that cross input boundaries: a feed of many
        small files (daily extracts, one Bundle per file) then costs a commit per batch
        rather than two per file. ``progress`` gets the number of inputs finished so far.
        """
        spec = self.spec(centre)
        kind_for(spec, media_type)
        receipts: list[Receipt] = []
        batch: list[tuple[Receipt, Cut]] = []

        async def flush(finished: int) -> None:
            reports = await self._log_and_map([piece for _, piece in batch])
            for receipt, piece in batch:
                receipt.units.append(reports[piece.unit.unit_id])
            batch.clear()
            if progress is not None:
                progress(finished)

        size = 0
        for content, source_name in inputs:
            receipt = Receipt(centre)
            receipts.append(receipt)
            for piece in cut(spec, content, transport=transport, source_name=source_name):
                batch.append((receipt, piece))
                size += len(piece.unit.content)
                if len(batch) >= LOG_BATCH or size >= LOG_BATCH_BYTES:
                    await flush(len(receipts) - 1)
                    size = 0
        if batch:
            await flush(len(receipts))
        elif progress is not None:
            progress(len(receipts))
        return receipts

    async def _log_and_map(self, pieces: list[Cut]) -> dict[str, UnitReport]:
        """Every piece's report, by unit id (a unit sent twice has one report)."""
        now = self.ctx.now()
        async with self.ctx.db.write() as conn:
            statuses = await ingest_log.log_units(conn, [p.unit for p in pieces], now)
        reports: dict[str, UnitReport] = {}
        fresh: dict[str, NewUnit] = {}
        known: dict[str, Known] = {}
        for piece in pieces:
            uid = piece.unit.unit_id
            status = statuses.get(uid, ingest_log.RECEIVED)
            if uid in reports or uid in fresh:
                continue
            if status != ingest_log.RECEIVED:
                reports[uid] = UnitReport(uid, piece.unit.position, status, repeat=True)
                continue
            fresh[uid] = piece.unit
            if piece.problem is not None:
                known[uid] = piece.problem
            elif piece.record is not None:
                known[uid] = [piece.record]
        # Fresh units are mapped from the bytes just logged (or what cutting them already
        # read), not read back: same content.
        units = [_logged(unit, now) for unit in fresh.values()]
        # SQLite runs the writes on this thread: nothing to overlap with.
        overlap = self.ctx.db.dialect == "postgresql"
        reports.update((r.unit_id, r) for r in await self._map_chunks(units, known, overlap))
        return reports

    async def _map_chunks(
        self, units: list[LoggedUnit], known: dict[str, Known], overlap: bool
    ) -> list[UnitReport]:
        """Map, validate and write ``units`` in order, a chunk (``CHUNK`` units or
        ``CHUNK_RESOURCES`` resources) per transaction; a chunk whose write fails is written
        unit by unit, so one bad unit is quarantined and the rest still land. A unit reports
        what its own writes did (``writer._Tally``), so where chunks begin and end changes no
        outcome.

        With ``overlap`` each chunk is prepared while the one before is written: PostgreSQL
        works on a write in its own process, so its part and our mapping of the next chunk
        overlap (a yield after each unit lets the write's round trips go on). Writes stay in
        order, one at a time, so the outcome is that of writing the chunks one after another.
        """
        reports: list[UnitReport] = []
        writing: asyncio.Future[list[UnitReport]] | None = None
        most, heaviest = (
            (OVERLAPPED_CHUNK, OVERLAPPED_CHUNK_RESOURCES) if overlap else (CHUNK, CHUNK_RESOURCES)
        )

        async def write(chunk: list[UnitWrite]) -> None:
            nonlocal writing
            if writing is not None:
                done, writing = writing, None
                reports.extend(await done)
            if overlap:
                writing = asyncio.ensure_future(self._write_prepared(chunk))
            else:
                reports.extend(await self._write_prepared(chunk))

        chunk: list[UnitWrite] = []
        weight = 0
        try:
            for unit in units:
                item = await self._prepare(unit, known.get(unit.unit_id))
                chunk.append(item)
                weight += 1 + len(item.resources)
                if writing is not None:
                    await asyncio.sleep(0)
                if len(chunk) >= most or weight >= heaviest:
                    await write(chunk)
                    chunk, weight = [], 0
            if chunk:
                await write(chunk)
            if writing is not None:
                done, writing = writing, None
                reports.extend(await done)
        finally:
            if writing is not None and not writing.done():
                # Let a write in flight finish (or roll back) before the error goes up.
                with contextlib.suppress(Exception):
                    await asyncio.shield(writing)
        return reports

    async def store_message(self, centre: str, content: bytes, transport: str) -> list[Cut]:
        """Log the units of one MLLP frame (committed before the caller ACKs)."""
        spec = self.spec(centre)
        pieces = list(cut(spec, content, transport=transport))
        async with self.ctx.db.write() as conn:
            await ingest_log.log_units(conn, [p.unit for p in pieces], self.ctx.now())
        return pieces

    async def process(
        self, unit_ids: Sequence[str], *, known_problems: dict[str, SourceError] | None = None
    ) -> list[UnitReport]:
        """Map and write logged units (``received`` ones; replay resets others first)."""
        reports: list[UnitReport] = []
        for start in range(0, len(unit_ids), CHUNK):
            chunk = list(unit_ids[start : start + CHUNK])
            async with self.ctx.db.read() as conn:
                units = [
                    u
                    for u in await ingest_log.get_units(conn, chunk)
                    if u.status == ingest_log.RECEIVED
                ]
            if units:
                known: dict[str, Known] = dict(known_problems or {})
                reports.extend(await self._map_chunks(units, known, overlap=False))
        return reports

    async def _write_prepared(self, prepared: list[UnitWrite]) -> list[UnitReport]:
        try:
            return await self._commit_retrying(prepared)
        except Transient:
            raise  # the units stay received: resume maps them; they are not at fault
        except FhirError as exc:
            if len(prepared) == 1:
                return await self._quarantine_after_write(prepared[0], exc)
            log.warning("ingest chunk failed (%s); writing its units one by one", exc)
        reports: list[UnitReport] = []
        for one in prepared:
            try:
                reports.extend(await self._commit_retrying([one]))
            except Transient:
                raise
            except FhirError as single:
                reports.extend(await self._quarantine_after_write(one, single))
        return reports

    async def _commit_retrying(self, prepared: list[UnitWrite]) -> list[UnitReport]:
        """A deadlock or serialization failure with a concurrent writer (the pathway
        derivation, another ingest) says nothing about the input: try again, briefly."""
        for attempt in range(_RETRIES):
            try:
                return await self._commit(prepared)
            except Transient as exc:
                if attempt == _RETRIES - 1:
                    raise
                log.info("ingest chunk met a concurrent writer (%s); retrying", exc)
                await asyncio.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    async def _prepare(self, unit: LoggedUnit, known: Known | None) -> UnitWrite:
        spec = self.spec(unit.centre)
        mapper = self.mappers[unit.centre]
        prepared = UnitWrite(unit=unit, spec=spec)
        problem = known if isinstance(known, SourceError) else None
        if isinstance(known, list):
            found = known
        elif problem is None:
            try:
                found = records(spec, unit.kind, unit.content, unit.context, unit.position)
            except SourceError as exc:
                problem = exc
        if problem is not None:
            prepared.errors.append(_source_issue(problem, unit))
            return prepared
        mapped = self._map(mapper, found)
        prepared.merges = mapped.merges
        prepared.warnings.extend(mapped.warnings)
        prepared.errors.extend(mapped.errors)
        if prepared.errors:
            return prepared
        source = f"ingest:{unit.centre}"
        structural_only = self.ctx.settings.write_level(source) == "structural"
        for n, resource in enumerate(mapped.resources):
            verdict = await self._validate(resource, source, structural_only)
            if isinstance(verdict, FhirError):
                prepared.errors.extend(_located(verdict.all_issues(), resource, n))
                continue
            prepared.resources.append(resource)
            prepared.warnings.extend(verdict)
        return prepared

    async def _validate(
        self, resource: dict[str, Any], source: str, structural_only: bool
    ) -> list[Issue] | FhirError:
        """The write policy's verdict, remembered by content: a feed maps the same Patient
        (and its centre's Organizations) into message after message, and validation is a
        function of the content alone (profiles and terminology are fixed for the process)."""
        key = (source, fhir_json.dumps(resource))
        found = self._verdicts.get(key)
        if found is not None:
            self._verdicts.move_to_end(key)
            return found
        verdict: list[Issue] | FhirError
        try:
            if structural_only:  # else the validator's first step is this very walk
                check_resource(resource, expected_type=resource["resourceType"])
            warnings = await validate_for_write(self.ctx, resource, source)
            verdict = [w for w in warnings if not w.diagnostics.startswith(_NOISE)]
        except FhirError as exc:
            verdict = exc
        self._verdicts[key] = verdict
        if len(self._verdicts) > _VERDICTS:
            self._verdicts.popitem(last=False)
        return verdict

    def _map(self, mapper: Mapper, found: list[SourceRecord]) -> Mapped:
        if len(found) == 1:
            return mapper.map_record(found[0])
        return map_bundle(mapper, found)

    async def _commit(self, prepared: list[UnitWrite]) -> list[UnitReport]:
        now = self.ctx.now()
        reports: list[UnitReport] = []
        statuses: list[ingest_log.StatusRow] = []
        async with self.ctx.store.write() as tx:
            specs = {item.spec.centre: item.spec for item in prepared}.values()
            keys = [key for item in prepared for key in planned_keys(item)]
            keys.extend(("Organization", centre_organization(spec)["id"]) for spec in specs)
            await tx.prefetch(keys)
            for spec in specs:
                await ensure_organization(tx, spec, now)  # no-op once written
            for item in prepared:
                reports.append(await write_unit(tx, self.ctx, item, now, statuses))
            await ingest_log.set_statuses(await tx.connection(), statuses)
        return reports

    async def _quarantine_after_write(self, item: UnitWrite, exc: FhirError) -> list[UnitReport]:
        item.errors.extend(exc.all_issues())
        item.resources = []
        return await self._commit([item])

    async def replay(self, unit_ids: Sequence[str]) -> list[UnitReport]:
        """Map quarantined (or any) units again, e.g. after a mapping fix."""
        async with self.ctx.db.write() as conn:
            for uid in unit_ids:
                unit = await ingest_log.get_unit(conn, uid)
                if unit is None:
                    raise UnknownUnit(f"No ingest unit {uid!r}")
                await ingest_log.set_status(
                    conn,
                    uid,
                    ingest_log.RECEIVED,
                    outcome=unit.outcome,
                    result=unit.result,
                    now=self.ctx.now(),
                    attempt=False,
                )
        return await self.process(list(unit_ids))

    async def resume(self) -> list[UnitReport]:
        """Map every unit still ``received`` (left by a crash or a stop mid-batch)."""
        reports: list[UnitReport] = []
        while True:
            async with self.ctx.db.read() as conn:
                pending = await ingest_log.list_units(
                    conn, status=ingest_log.RECEIVED, limit=LOG_BATCH
                )
            if not pending:
                return reports
            reports.extend(await self.process([u.unit_id for u in pending]))


class UnknownUnit(ResourceNotFound):
    pass


def map_bundle(mapper: Mapper, found: list[SourceRecord]) -> Mapped:
    """A vendor Bundle: plan every entry first so entries can reference each other by their
    fullUrl or ``Type/id`` (``ref: {resolve: ...}``), then build them all."""
    out = Mapped()
    aliases: dict[str, str] = {}
    plans = []
    for record in found:
        problem = mapper.check_source(record)
        if problem is not None:
            out.errors.append(problem)
            continue
        ev = mapper.evaluation(record, aliases)
        planned = mapper.plan(ev)
        if planned:
            primary = f"{planned[0][0].type}/{planned[0][2]}"
            for name in (getattr(record, "full_url", None), getattr(record, "local_ref", None)):
                if name:
                    aliases[f"@{name}"] = primary
        plans.append((record, ev, planned))
    for record, ev, planned in plans:
        ev.aliases.update(aliases)
        built = mapper.build(ev, planned)
        out.resources.extend(built.resources)
        out.merges.extend(built.merges)
        out.errors.extend(ev.issues)
        if not ev.issues:
            out.warnings.extend(mapper.unread_warnings(record, mapper.spec.rules[record.rule_key]))
    return out


def _logged(unit: NewUnit, now: int) -> LoggedUnit:
    return LoggedUnit(
        unit.unit_id,
        unit.centre,
        unit.kind,
        unit.transport,
        unit.source_name,
        unit.position,
        unit.context,
        unit.content,
        received_at=now,
        status=ingest_log.RECEIVED,
        attempts=0,
        updated_at=now,
        outcome=None,
        result=None,
        seq=0,
    )


def _source_issue(problem: SourceError, unit: LoggedUnit) -> Issue:
    where = problem.location or unit.position or "input"
    return Issue("error", problem.code, f"{where}: {problem.message}")


def _located(issues: list[Issue], resource: dict[str, Any], n: int) -> list[Issue]:
    """Validation issues of the n-th mapped resource, saying which one it was."""
    label = f"{resource['resourceType']}/{resource.get('id')} (mapped resource {n + 1})"
    return [Issue(i.severity, i.code, f"{label}: {i.diagnostics}", i.expression) for i in issues]
