"""A write transaction remembers the current rows it has read or written (``WriteTx``), so
an ingest chunk reads each current version once and never flushes before a read. What that
must not change: a resource written twice in one transaction is stored and indexed as the
second write says, and concurrent writers of the same resources still serialize."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from app.fhir import writes
from app.fhir.context import FhirContext

PATIENT = {
    "resourceType": "Patient",
    "id": "tx-twice",
    "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "9434765919"}],
    "name": [{"family": "Okafor", "given": ["Adaeze"]}],
    "birthDate": "1948-03-02",
}


async def _write_twice(ctx: FhirContext) -> None:
    async with ctx.store.write() as tx:
        await tx.prefetch([("Patient", "tx-twice")])
        first = await writes.update(tx, PATIENT, "tx-twice", now=ctx.now())
        renamed = {**PATIENT, "name": [{"family": "Okafor-Ellis", "given": ["Adaeze"]}]}
        second = await writes.update(tx, renamed, "tx-twice", now=ctx.now())
        again = await writes.update(tx, renamed, "tx-twice", now=ctx.now())
    assert (first.version_id, second.version_id, again.version_id) == (1, 2, 2)


async def test_a_resource_written_twice_in_one_transaction_is_indexed_as_the_last_write(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await _write_twice(app.state.fhir)

    read = await client.get("Patient/tx-twice")
    assert read.json()["meta"]["versionId"] == "2"
    assert read.json()["name"][0]["family"] == "Okafor-Ellis"
    old = await client.get("Patient", params={"family": "Okafor"})
    assert [e["resource"]["name"][0]["family"] for e in old.json().get("entry", [])] == [
        "Okafor-Ellis"  # "Okafor" is a prefix of the new name: the string search matches it
    ]
    exact = await client.get("Patient", params={"family:exact": "Okafor"})
    assert exact.json().get("entry", []) == []
    history = await client.get("Patient/tx-twice/_history")
    assert len(history.json()["entry"]) == 2


async def test_concurrent_prefetching_writers_serialize_on_the_same_resources(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    ctx: FhirContext = app.state.fhir
    keys = [("Patient", f"tx-race-{n}") for n in range(20)]

    async def writer(label: str) -> None:
        async with ctx.store.write() as tx:
            await tx.prefetch(reversed(keys) if label == "b" else keys)
            for res_type, res_id in keys:
                body = {**PATIENT, "id": res_id, "gender": "female" if label == "a" else "male"}
                body.pop("identifier")
                await writes.update(tx, {**body, "resourceType": res_type}, res_id, now=ctx.now())

    await asyncio.gather(writer("a"), writer("b"))

    for _, res_id in keys:
        history = (await client.get(f"Patient/{res_id}/_history")).json()
        # One writer created each resource, the other updated it: never two version 1s.
        assert sorted(e["resource"]["meta"]["versionId"] for e in history["entry"]) == ["1", "2"]
