"""A rewrite of a resource whose stored index rows were read (``WriteTx.read_index``) writes
only the rows that changed, and must leave exactly the rows a full rewrite leaves; and the
one-statement flush of PostgreSQL types its arrays as the schema types its columns."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import FastAPI

from app.fhir import writes
from app.fhir.context import FhirContext
from app.search.extract import extract_index
from app.storage import schema, writes_index, writes_pg
from app.storage.index_rows import COLUMNS
from app.storage.store import WriteTx

PATIENT: dict[str, Any] = {
    "resourceType": "Patient",
    "id": "diffed",
    "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}],
    "name": [{"family": "Okafor", "given": ["Adaeze", "Ngozi"]}],
    "gender": "female",
    "birthDate": "1948-03-02",
    "address": [{"postalCode": "SE1 7EH", "city": "London"}],
}


def test_diff_keeps_one_stored_row_per_equal_new_row() -> None:
    stored: writes_index.Stored = {
        "search_token": [(1, ("a", None, "s", "x", None)), (2, ("a", None, "s", "x", None))],
        "search_date": [(3, ("d", None, 10, 20, 10))],
    }
    new: dict[str, list[tuple[Any, ...]]] = {
        "search_token": [("a", None, "s", "x", None), ("a", None, "s", "y", None)],
        "search_uri": [("u", None, "http://x")],
    }
    gone, fresh = writes_index.diff("T", "i", stored, new)
    assert gone == {"search_token": [(2, "T", "i")], "search_date": [(3, "T", "i")]}
    assert fresh == {"search_token": [("a", None, "s", "y", None)], "search_uri": new["search_uri"]}


def test_diff_counts_values_stored_differently_as_changed() -> None:
    """1, 1.0 and True are equal in Python, as are 0.0 and -0.0: not as stored values."""
    stored: writes_index.Stored = {
        "search_number": [(1, ("n", None, 1.0, 0.0, 2.0)), (2, ("m", 1, 1.0, 1.0, 1.0))]
    }
    new: dict[str, list[tuple[Any, ...]]] = {
        "search_number": [("n", None, 1, -0.0, 2.0), ("m", True, 1.0, 1.0, 1.0)]
    }
    gone, fresh = writes_index.diff("T", "i", stored, new)
    assert gone == {"search_number": [(1, "T", "i"), (2, "T", "i")]}
    assert fresh == new


def test_the_one_statement_flush_types_its_arrays_as_the_schema_types_the_columns() -> None:
    names = (  # BigInteger before Integer: it is a subclass
        (sa.BigInteger, "int8"),
        (sa.Integer, "int4"),
        (sa.Text, "text"),
        (sa.Boolean, "bool"),
        (sa.LargeBinary, "bytea"),
        (sa.Float, "float8"),
    )
    inserted = {
        "resource": writes_pg.RESOURCE_COLUMNS,
        "resource_version": writes_pg.VERSION_COLUMNS,
        **{t: ("res_type", "res_id", *c) for t, c in COLUMNS.items()},
    }
    assert set(writes_pg.TYPES) == set(inserted)
    for table, columns in inserted.items():
        found = schema.metadata.tables[table].columns
        wanted = tuple(
            next(name for kind, name in names if isinstance(found[c].type, kind)) for c in columns
        )
        assert writes_pg.TYPES[table] == wanted, table


async def _rows(ctx: FhirContext, res_id: str) -> dict[str, Counter[tuple[Any, ...]]]:
    """The stored index rows of Patient/res_id, and (separately) their row ids."""
    row_id = "ctid::text" if ctx.db.dialect == "postgresql" else "rowid"
    out: dict[str, Counter[tuple[Any, ...]]] = {}
    async with ctx.db.read() as conn:
        for table, columns in COLUMNS.items():
            rows = await conn.fetch(
                f"SELECT {row_id}, {', '.join(columns)} FROM {table} "
                "WHERE res_type = 'Patient' AND res_id = $1",
                res_id,
            )
            out[table] = Counter(tuple(r[1:]) for r in rows)
            out[f"{table} ids"] = Counter((r[0],) for r in rows)
    return out


def _expected(resource: dict[str, Any]) -> dict[str, Counter[tuple[Any, ...]]]:
    rows = extract_index(resource).rows
    return {t: Counter(tuple(r) for r in rows.get(t, [])) for t in COLUMNS}


async def _stored_once(ctx: FhirContext) -> None:
    async with ctx.store.write() as tx:
        await writes.update(tx, PATIENT, "diffed", now=ctx.now())


async def _lock_and_read_index(tx: WriteTx, *ids: str) -> None:
    """What a caller of ``read_index`` does first: lock the resource (``prefetch``)."""
    await tx.prefetch([("Patient", "diffed")])
    await tx.read_index("Patient", ids)


def _values(found: dict[str, Counter[tuple[Any, ...]]]) -> dict[str, Counter[tuple[Any, ...]]]:
    return {t: found[t] for t in COLUMNS}


async def test_a_rewrite_after_read_index_keeps_unchanged_rows_and_ends_like_a_full_rewrite(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ctx: FhirContext = app.state.fhir
    await _stored_once(ctx)
    before = await _rows(ctx, "diffed")
    assert _values(before) == _expected(PATIENT)

    renamed = {**PATIENT, "name": [{"family": "Okafor-Ellis", "given": ["Adaeze", "Ngozi"]}]}
    async with ctx.store.write() as tx:
        await _lock_and_read_index(tx, "diffed")
        await writes.update(tx, renamed, "diffed", now=ctx.now())
    after = await _rows(ctx, "diffed")

    assert _values(after) == _expected(renamed)
    # The rows that did not change were not rewritten: same row ids (the birth date's, ...).
    assert before["search_date ids"] == after["search_date ids"]
    assert before["search_token ids"] == after["search_token ids"]
    assert before["search_string ids"] != after["search_string ids"]
    found = await client.get("Patient", params={"family:exact": "Okafor-Ellis"})
    assert [e["resource"]["id"] for e in found.json()["entry"]] == ["diffed"]
    assert (await client.get("Patient", params={"family:exact": "Okafor"})).json().get(
        "entry", []
    ) == []


async def test_read_index_then_two_writes_or_a_delete_in_one_transaction(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ctx: FhirContext = app.state.fhir
    await _stored_once(ctx)
    male = {**PATIENT, "gender": "male"}
    other = {**PATIENT, "gender": "other", "birthDate": "1950"}
    async with ctx.store.write() as tx:
        await _lock_and_read_index(tx, "diffed", "not-locked")
        await writes.update(tx, male, "diffed", now=ctx.now())
        await tx.connection()  # flushed: the stored rows changed since they were read
        await writes.update(tx, other, "diffed", now=ctx.now())
    assert _values(await _rows(ctx, "diffed")) == _expected(other)

    async with ctx.store.write() as tx:
        await _lock_and_read_index(tx, "diffed")
        await writes.update(tx, male, "diffed", now=ctx.now())
        await writes.delete(tx, "Patient", "diffed", now=ctx.now())
    assert _values(await _rows(ctx, "diffed")) == {t: Counter() for t in COLUMNS}
    assert (await client.get("Patient/diffed")).status_code == 410
