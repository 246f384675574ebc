"""Keeping the stored pathway true: derive the CarePlans (and episode rows) of every patient
queued in ``pathway_dirty``.

The queue is written by the store in the same transaction as the change (``WriteTx``), so a
change cannot be missed, even across a crash; each batch of patients is derived from the
store and written, with its queue entries removed, in one transaction. Derivation is a pure
function of the stored resources (``derive``), and an unchanged CarePlan keeps its version,
so deriving again (``rebuild``) changes nothing unless the data did.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from app.fhir import writes
from app.fhir.context import FhirContext
from app.pathway import codes, episode_rows
from app.pathway.careplan import render
from app.pathway.derive import derive
from app.pathway.model import Episode
from app.storage.database import Connection
from app.storage.store import PATHWAY_SOURCES, StoredVersion, WriteTx

log = logging.getLogger(__name__)

BATCH = 200
"""Patients per transaction."""
_REFERENCES = (
    ("Appointment", "patient"),
    ("Condition", "subject"),
    ("Encounter", "subject"),
    ("Observation", "subject"),
    ("Procedure", "subject"),
    ("ServiceRequest", "subject"),
)
"""(type, search parameter) of every reference to the Patient a pathway source is about:
one equality branch each, so both backends seek the (res_type, param, target_id) index."""
assert {t for t, _ in _REFERENCES} == PATHWAY_SOURCES - {"Patient"}
_QUEUE_ALL = (
    "INSERT INTO pathway_dirty (patient_id, queued_at) "
    "SELECT res_id, CAST($1 AS BIGINT) FROM resource WHERE res_type = 'Patient' "
    "UNION SELECT patient_id, CAST($1 AS BIGINT) FROM pathway_episode WHERE true "
    "ON CONFLICT (patient_id) DO UPDATE SET queued_at = excluded.queued_at"
)
_DONE = "DELETE FROM pathway_dirty WHERE patient_id = $1 AND queued_at <= $2"


@dataclass
class Derived:
    patients: int = 0
    episodes: int = 0
    written: int = 0
    """CarePlans created or changed (unchanged ones keep their version)."""
    removed: int = 0


def _marks(count: int, start: int = 1) -> str:
    return ", ".join(f"${n}" for n in range(start, start + count))


def _about_sqlite(count: int) -> str:
    marks = _marks(count, 2)
    branches = " UNION ".join(
        "SELECT target_id, res_type, res_id FROM search_reference "
        f"WHERE res_type = '{res_type}' AND param = '{param}' AND target_type = 'Patient' "
        f"AND target_id IN ({marks})"
        for res_type, param in _REFERENCES
    )
    return (
        f"SELECT s.target_id, r.content FROM ({branches}) s "
        "JOIN resource r ON r.res_type = s.res_type AND r.res_id = s.res_id WHERE r.deleted = $1"
    )


_ABOUT_PG = (
    "SELECT s.target_id, r.content FROM unnest($2::text[]) AS p(id) CROSS JOIN LATERAL ("
    + " UNION ".join(
        "SELECT target_id, res_type, res_id FROM search_reference "
        f"WHERE res_type = '{res_type}' AND param = '{param}' AND target_id = p.id "
        "AND target_type = 'Patient'"
        for res_type, param in _REFERENCES
    )
    + ") s JOIN resource r ON r.res_type = s.res_type AND r.res_id = s.res_id "
    "WHERE r.deleted = $1"
)
"""PostgreSQL: one index seek per (patient, type) through LATERAL. With ``IN`` lists its
planner filtered a whole type's references instead (195 ms a batch at 20,000 patients,
against 30 ms), whenever the statistics were young."""


async def load_raw(
    conn: Connection, patient_ids: Sequence[str]
) -> tuple[dict[str, bytes], dict[str, list[bytes]]]:
    """The stored JSON of the live Patients, and of every live resource about each of them
    (the reads of a derivation alone: the benchmark's floor)."""
    ids = list(patient_ids)
    rows = await conn.fetch(
        "SELECT res_id, content FROM resource WHERE res_type = 'Patient' AND deleted = $1 "
        f"AND res_id IN ({_marks(len(ids), 2)})",
        False,
        *ids,
    )
    patients = {r[0]: bytes(r[1]) for r in rows}
    about: dict[str, list[bytes]] = {pid: [] for pid in ids}
    if conn.dialect == "postgresql":
        rows = await conn.fetch(_ABOUT_PG, False, ids)
    else:
        rows = await conn.fetch(_about_sqlite(len(ids)), False, *ids)
    for target, content in rows:
        about[target].append(bytes(content))
    return patients, about


def episodes_of(patient: dict[str, Any] | None, resources: list[dict[str, Any]]) -> list[Episode]:
    if patient is None:
        return []
    return derive(patient, resources)


Computed = list[tuple[str, list[Episode], list[dict[str, Any]]]]


def compute(batch: list[tuple[str, bytes | None, list[bytes]]]) -> Computed:
    """Episodes and CarePlans of each (patient id, Patient JSON, its resources' JSON): pure.
    Parsed with orjson: derivation reads dates and codes, never a decimal's precision."""
    out: Computed = []
    for pid, patient_json, contents in batch:
        resources = [orjson.loads(c) for c in contents]
        patient = orjson.loads(patient_json) if patient_json is not None else None
        found = episodes_of(patient, resources)
        by_ref = {f"{r['resourceType']}/{r['id']}": r for r in resources}
        out.append((pid, found, [render(e, f"Patient/{pid}", by_ref) for e in found]))
    return out


_organizations_seen: list[tuple[int, int]] = []
"""The (count, newest lastUpdated) of the Organizations last learnt: they are read again
only when that changes (an Organization written, or another database)."""


async def _learn_organizations(conn: Connection) -> None:
    row = await conn.fetchrow(
        "SELECT COUNT(*), MAX(last_updated) FROM resource WHERE res_type = 'Organization'"
    )
    state = (int(row[0] or 0), int(row[1] or 0)) if row else (0, 0)
    if _organizations_seen == [state]:
        return
    rows = await conn.fetch(
        "SELECT content FROM resource WHERE res_type = 'Organization' AND deleted = $1", False
    )
    codes.learn_organizations([orjson.loads(r[0]) for r in rows if r[0] is not None])
    _organizations_seen[:] = [state]


def _stored_as(current: StoredVersion, careplan: dict[str, Any]) -> bool:
    """Whether the current version is already byte for byte what ``writes.update`` would
    store for ``careplan`` at that version: an update that would keep the version anyway,
    found without its parse and compare of the stored JSON. Anything else goes through
    ``writes.update``."""
    if current.deleted or current.content is None:
        return False
    stored = writes.stamp(careplan, careplan["id"], current.version_id, current.last_updated)
    return stored == current.content


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """A batch allocates tens of thousands of short-lived dicts, each tripping the cyclic
    collector's thresholds: paused for the batch (it is bounded), a rebuild ran ~15% faster."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


async def _write(
    tx: WriteTx,
    ctx: FhirContext,
    queued: Sequence[tuple[str, int]],
    result: Derived,
) -> None:
    ids = [pid for pid, _ in queued]
    conn = await tx.connection()
    await _learn_organizations(conn)
    patients, about = await load_raw(conn, ids)
    before = await episode_rows.stored(conn, ids)
    with _collector_paused():
        computed = compute([(pid, patients.get(pid), about[pid]) for pid in ids])
    now = ctx.now()
    episodes = [e for _, found, _ in computed for e in found]
    careplans = [c for _, _, rendered in computed for c in rendered]
    keep = {c["id"] for c in careplans}
    stale = [cid for pid in ids for cid in before.get(pid, {}) if cid not in keep]
    await tx.prefetch([("CarePlan", c["id"]) for c in careplans] + [("CarePlan", s) for s in stale])
    for careplan in careplans:
        current = await tx.current("CarePlan", careplan["id"])
        if current is not None and _stored_as(current, careplan):
            result.written += current.last_updated == now  # as writes.update counts it
            continue
        outcome = await writes.update(tx, careplan, careplan["id"], now=now)
        result.written += outcome.last_updated == now
    for careplan_id in stale:
        await writes.delete(tx, "CarePlan", careplan_id, now=now)
    conn = await tx.connection()
    changed = [
        (pid, found)
        for pid, found, _ in computed
        if not episode_rows.unchanged(found, before.get(pid, {}))
    ]
    await episode_rows.replace(
        conn, [pid for pid, _ in changed], [e for _, found in changed for e in found]
    )
    await conn.executemany(_DONE, sorted(queued))  # the order writers lock them in
    result.patients += len(ids)
    result.episodes += len(episodes)
    result.removed += len(stale)


async def drain(
    ctx: FhirContext,
    *,
    progress: Callable[[int], None] | None = None,
    patient_ids: Sequence[str] | None = None,
) -> Derived:
    """Derive every queued patient (or only those of ``patient_ids`` that are queued)."""
    result = Derived()
    while True:
        async with ctx.db.read() as conn:
            if patient_ids is None:
                rows = await conn.fetch(
                    "SELECT patient_id, queued_at FROM pathway_dirty "
                    "ORDER BY queued_at, patient_id LIMIT $1",
                    BATCH,
                )
            elif patient_ids:
                rows = await conn.fetch(
                    "SELECT patient_id, queued_at FROM pathway_dirty "
                    f"WHERE patient_id IN ({_marks(len(patient_ids))})",
                    *patient_ids,
                )
            else:
                rows = []
        if not rows:
            return result
        async with ctx.store.write() as tx:
            await _write(tx, ctx, [(r[0], int(r[1])) for r in rows], result)
        if progress is not None:
            progress(len(rows))
        if patient_ids is not None:
            return result


async def queue_all(ctx: FhirContext) -> int:
    """Queue every patient (and every patient that has episodes) for derivation."""
    async with ctx.db.write() as conn:
        await conn.execute(_QUEUE_ALL, ctx.now())
        row = await conn.fetchrow("SELECT COUNT(*) FROM pathway_dirty")
    return int(row[0]) if row else 0


async def queued(ctx: FhirContext) -> int:
    async with ctx.db.read() as conn:
        row = await conn.fetchrow("SELECT COUNT(*) FROM pathway_dirty")
    return int(row[0]) if row else 0


async def rebuild(ctx: FhirContext, progress: Callable[[int], None] | None = None) -> Derived:
    """Every CarePlan derived again from the store: the same result as the incremental path
    (it is the same path), and no new versions where nothing changed."""
    await queue_all(ctx)
    await analyze(ctx)
    return await drain(ctx, progress=progress)


async def analyze(ctx: FhirContext) -> None:
    """PostgreSQL: refresh the planner's statistics of the tables a derivation reads.

    After a bulk load they can be too young to prefer the (type, param, target) reference
    index, and the load of a batch then filters a whole type's references (1.3 s a batch at
    1,000 patients, against 30 ms). A rebuild and a bulk ``ingest`` are maintenance: a
    second of ANALYZE is cheap there.
    """
    if ctx.db.dialect == "postgresql":
        async with ctx.db.write() as conn:
            await conn.execute("ANALYZE search_reference, resource, pathway_episode")
