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
from app.storage import writes_pg
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
_NO_FLUSH_WAIT = {
    "postgresql": "set_config('synchronous_commit', 'off', true)",
    "sqlite": "NULL",  # WAL with synchronous=NORMAL: a commit never waits for the disk
}
"""PostgreSQL: the derivation's commit does not wait for its WAL to reach the disk (0.7 ms
of a derivation per message), set for its transaction by the claim. A crash can lose only
whole transactions, so what it loses is a derivation together with the removal of its queue
entries: those patients are still queued and derived again; and nothing can depend on a lost
derivation, as every commit that waits for the disk (any source write) also makes every
earlier one durable."""


def _organizations(dialect: str) -> str:
    return (
        f"SELECT NULL, COUNT(*), MAX(last_updated), {_NO_FLUSH_WAIT[dialect]} FROM resource "
        "WHERE res_type = 'Organization'"
    )


def _claim_sql(dialect: str, count: int | None) -> str:
    """The next ``BATCH`` of the queue (``count`` None) or the entries of ``count`` patient
    ids, then (patient id NULL) the state of the Organizations (``_learn_organizations``):
    one statement."""
    if count is None:
        queued = "SELECT patient_id, queued_at FROM pathway_dirty ORDER BY queued_at, patient_id"
        queued += " LIMIT $1"
    else:
        queued = (
            f"SELECT patient_id, queued_at FROM pathway_dirty WHERE patient_id IN ({_marks(count)})"
        )
    organizations = _organizations(dialect)
    return f"SELECT patient_id, queued_at, NULL, NULL FROM ({queued}) q UNION ALL {organizations}"


@dataclass
class Derived:
    patients: int = 0
    episodes: int = 0
    written: int = 0
    """CarePlans created or changed (unchanged ones keep their version)."""
    removed: int = 0


def _marks(count: int, start: int = 1) -> str:
    return ", ".join(f"${n}" for n in range(start, start + count))


def _load_sqlite(count: int) -> str:
    marks = _marks(count, 2)
    branches = " UNION ".join(
        "SELECT target_id, res_type, res_id FROM search_reference "
        f"WHERE res_type = '{res_type}' AND param = '{param}' AND target_type = 'Patient' "
        f"AND target_id IN ({marks})"
        for res_type, param in _REFERENCES
    )
    return (
        "SELECT res_id, content, 1 FROM resource WHERE res_type = 'Patient' AND deleted = $1 "
        f"AND res_id IN ({marks}) UNION ALL "
        f"SELECT s.target_id, r.content, 0 FROM ({branches}) s "
        "JOIN resource r ON r.res_type = s.res_type AND r.res_id = s.res_id WHERE r.deleted = $1 "
        f"UNION ALL SELECT patient_id, {episode_rows.AS_JSON['sqlite']}, 2 FROM pathway_episode "
        f"WHERE patient_id IN ({marks})"
    )


_IDS = writes_pg.array(2, "text")
_LOAD_PG = (
    "SELECT res_id, content, 1 FROM resource WHERE res_type = 'Patient' AND deleted = $1 "
    f"AND res_id = ANY({_IDS}::text[]) UNION ALL "
    f"SELECT s.target_id, r.content, 0 FROM unnest({_IDS}) AS p(id) CROSS JOIN LATERAL ("
    + " UNION ".join(
        "SELECT target_id, res_type, res_id FROM search_reference "
        f"WHERE res_type = '{res_type}' AND param = '{param}' AND target_id = p.id "
        "AND target_type = 'Patient'"
        for res_type, param in _REFERENCES
    )
    + ") s JOIN resource r ON r.res_type = s.res_type AND r.res_id = s.res_id "
    "WHERE r.deleted = $1 "
    f"UNION ALL SELECT patient_id, {episode_rows.AS_JSON['postgresql']}, 2 FROM pathway_episode "
    f"WHERE patient_id = ANY({_IDS}::text[])"
)
"""PostgreSQL: one index seek per (patient, type) through LATERAL. With ``IN`` lists its
planner filtered a whole type's references instead (195 ms a batch at 20,000 patients,
against 30 ms), whenever the statistics were young. The ids are ``writes_pg.array``, so the
plan is made once, not at every run."""


Loaded = tuple[dict[str, bytes], dict[str, list[bytes]], dict[str, dict[str, tuple[Any, ...]]]]
"""The live Patients' JSON, the JSON of the live resources about each patient, and each
patient's stored episode rows (careplan id -> row)."""


async def load_raw(conn: Connection, patient_ids: Sequence[str]) -> Loaded:
    """What a derivation reads of these patients (alone: the benchmark's floor), in one
    statement: a derivation per message was mostly round trips."""
    ids = list(patient_ids)
    if conn.dialect == "postgresql":
        rows = await conn.fetch(_LOAD_PG, False, ids)
    else:
        rows = await conn.fetch(_load_sqlite(len(ids)), False, *ids)
    patients: dict[str, bytes] = {}
    about: dict[str, list[bytes]] = {pid: [] for pid in ids}
    stored: dict[str, dict[str, tuple[Any, ...]]] = {pid: {} for pid in ids}
    for target, content, kind in rows:
        if kind == 0:
            about[target].append(bytes(content))
        elif kind == 1:
            patients[target] = bytes(content)
        else:
            row = episode_rows.stored_row(bytes(content))
            stored[target][row[episode_rows.CAREPLAN]] = row
    return patients, about, stored


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


async def _learn_organizations(conn: Connection, row: Sequence[Any]) -> None:
    """``row``: the (count, newest lastUpdated) of the Organizations, read with the claim."""
    state = (int(row[0] or 0), int(row[1] or 0))
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


async def _claim(
    conn: Connection, patient_ids: Sequence[str] | None
) -> tuple[list[tuple[str, int]], Sequence[Any]]:
    """The queue entries to derive now (the oldest ``BATCH``, or those of ``patient_ids``),
    and the Organizations' state."""
    if patient_ids is None:
        rows = await conn.fetch(_claim_sql(conn.dialect, None), BATCH)
    else:
        rows = await conn.fetch(_claim_sql(conn.dialect, len(patient_ids)), *patient_ids)
    queued = [(r[0], int(r[1])) for r in rows if r[0] is not None]
    organizations = next((r[1:3] for r in rows if r[0] is None), (0, 0))
    return queued, organizations


async def _write(
    tx: WriteTx,
    ctx: FhirContext,
    queued: Sequence[tuple[str, int]],
    organizations: Sequence[Any],
    result: Derived,
) -> None:
    ids = [pid for pid, _ in queued]
    conn = await tx.connection()
    await _learn_organizations(conn, organizations)
    patients, about, before = await load_raw(conn, ids)
    with _collector_paused():
        computed = compute([(pid, patients.get(pid), about[pid]) for pid in ids])
    now = ctx.now()
    episodes = [e for _, found, _ in computed for e in found]
    careplans = [c for _, _, rendered in computed for c in rendered]
    keep = {c["id"] for c in careplans}
    stale = [cid for pid in ids for cid in before.get(pid, {}) if cid not in keep]
    await tx.prefetch([("CarePlan", c["id"]) for c in careplans] + [("CarePlan", s) for s in stale])
    rewrite: list[dict[str, Any]] = []
    stored: list[str] = []
    for careplan in careplans:
        current = await tx.current("CarePlan", careplan["id"])
        if current is not None and _stored_as(current, careplan):
            result.written += current.last_updated == now  # as writes.update counts it
            continue
        rewrite.append(careplan)
        if current is not None and not current.deleted:
            stored.append(careplan["id"])
    # A changed CarePlan mostly keeps its index rows (an activity more): write the difference
    await tx.read_index("CarePlan", stored)
    for careplan in rewrite:
        outcome = await writes.update(tx, careplan, careplan["id"], now=now)
        result.written += outcome.last_updated == now
    for careplan_id in stale:
        await writes.delete(tx, "CarePlan", careplan_id, now=now)
    conn = await tx.connection()
    await episode_rows.write(conn, [(found, before.get(pid, {})) for pid, found, _ in computed])
    await conn.executemany(_DONE, sorted(queued))  # the order writers lock them in
    result.patients += len(ids)
    result.episodes += len(episodes)
    result.removed += len(stale)


async def _any_queued(ctx: FhirContext, patient_ids: Sequence[str]) -> bool:
    if not patient_ids:
        return False
    async with ctx.db.read() as conn:
        row = await conn.fetchrow(
            f"SELECT COUNT(*) FROM pathway_dirty WHERE patient_id IN ({_marks(len(patient_ids))})",
            *patient_ids,
        )
    return bool(row and row[0])


async def drain(
    ctx: FhirContext,
    *,
    progress: Callable[[int], None] | None = None,
    patient_ids: Sequence[str] | None = None,
) -> Derived:
    """Derive every patient queued when it was called (or only those of ``patient_ids``
    that are queued).

    Each batch is claimed inside the transaction that derives it (on SQLite a read outside
    it would hop to a reader thread), and a batch smaller than ``BATCH`` is the last: an
    entry queued after it was claimed came from a later write, left to the next drain (as
    the background task does every interval).
    """
    result = Derived()
    if patient_ids is not None and not await _any_queued(ctx, patient_ids):
        return result  # ``$pathway`` of a derived patient: a read, no write transaction
    while True:
        async with ctx.store.write() as tx:
            queued, organizations = await _claim(await tx.connection(), patient_ids)
            if queued:
                await _write(tx, ctx, queued, organizations, result)
        if queued and progress is not None:
            progress(len(queued))
        if not queued or patient_ids is not None or len(queued) < BATCH:
            break
    if result.patients >= BATCH:
        await _vacuum_queue(ctx)
    return result


async def _vacuum_queue(ctx: FhirContext) -> None:
    """PostgreSQL: after a bulk derivation, clear the queue's dead rows at once. Each claim
    of the oldest entries would otherwise read them all until autovacuum came by (1 ms a
    claim after 20,000 patients: a third of a derivation per message)."""
    if ctx.db.dialect != "postgresql":
        return
    async with ctx.db.read() as conn:  # no transaction: VACUUM cannot run inside one
        await conn.execute("VACUUM pathway_dirty")


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
