"""Units written together in one chunk (one transaction, one ``now``) report and prove only
what each did itself: the same as if each unit had been written alone. Runs on every backend.

A later unit of a chunk that leaves a resource as an earlier unit of the same chunk wrote it
reports it unchanged and writes no Provenance for it, and the receipts do not depend on where
the chunk boundaries fall.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.ingest import pipeline
from tests.conftest import empty_tables
from tests.ingest.feed_messages import push, referral

NHS = "9434765919"
NOTE = "NTE|1||same referral, sent again with a note"
"""A segment the mapping does not read: new bytes (a new unit), the same resources."""


async def count(http: httpx.AsyncClient, query: str) -> int:
    response = await http.get(f"/fhir/{query}")
    assert response.status_code == 200, response.text
    total: int = response.json()["total"]
    return total


def outcomes(receipt: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (u["status"], *(len(u.get(w, [])) for w in ("created", "updated", "unchanged")))
        for u in receipt["detail"]
    ]


async def test_a_unit_repeating_what_an_earlier_unit_of_its_chunk_wrote_changes_nothing(
    http: httpx.AsyncClient,
) -> None:
    body = "\n".join([referral(1, nhs=NHS), referral(1, nhs=NHS, extra=NOTE)]) + "\n"
    receipt = await push(http, body)
    assert receipt["units"] == 2 and receipt["mapped"] == 2
    first, second = receipt["detail"]
    assert len(first["created"]) == 2  # the Patient and the referral
    assert second.get("created", []) == [] and second.get("updated", []) == []
    assert len(second["unchanged"]) == 2
    assert await count(http, "Provenance?_summary=count") == 1  # none for the repeat
    history = await http.get("/fhir/ServiceRequest/_history")
    assert len(history.json()["entry"]) == 1


async def test_a_correction_in_the_same_chunk_proves_only_what_it_changed(
    http: httpx.AsyncClient,
) -> None:
    body = "\n".join([referral(2, nhs=NHS), referral(2, nhs=NHS, status="R")]) + "\n"
    receipt = await push(http, body)
    second = receipt["detail"][1]
    assert [r.split("/")[0] for r in second["updated"]] == ["ServiceRequest"]
    assert [r.split("/")[0] for r in second["unchanged"]] == ["Patient"]
    sr_id = second["updated"][0].split("/")[1]
    provenances = (await http.get(f"/fhir/Provenance?target=ServiceRequest/{sr_id}")).json()
    targets = sorted(
        t["reference"]
        for entry in provenances["entry"]
        for t in entry["resource"]["target"]
        if t["reference"].startswith("ServiceRequest/")
    )
    assert targets == [
        f"ServiceRequest/{sr_id}/_history/1",
        f"ServiceRequest/{sr_id}/_history/2",
    ]
    patient_provenances = await count(http, f"Provenance?target={second['unchanged'][0]}")
    assert patient_provenances == 1  # only the unit that created it


async def test_receipts_do_not_depend_on_the_chunk_size(
    http: httpx.AsyncClient, ingest_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = (
        "\n".join(
            [
                referral(3, nhs=NHS),
                referral(4, nhs=NHS),
                referral(3, nhs=NHS, extra=NOTE),
                referral(3, nhs=NHS, status="R"),
                referral(4, nhs=NHS, status="E"),
            ]
        )
        + "\n"
    )
    together = await push(http, body)
    provenances = await count(http, "Provenance?_summary=count")
    await empty_tables(ingest_app)
    monkeypatch.setattr(pipeline, "CHUNK", 1)
    monkeypatch.setattr(pipeline, "OVERLAPPED_CHUNK", 1)
    alone = await push(http, body)
    assert outcomes(together) == outcomes(alone)
    assert [u.get("updated") for u in together["detail"]] == [
        u.get("updated") for u in alone["detail"]
    ]
    changed = sum(1 for u in alone["detail"] if u.get("created") or u.get("updated"))
    assert await count(http, "Provenance?_summary=count") == provenances == changed


async def test_log_batches_cut_by_size_lose_and_reorder_nothing(
    http: httpx.AsyncClient, ingest_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = "\n".join(referral(n, nhs=NHS, status="R" if n % 2 else "A") for n in range(5)) + "\n"
    whole = await push(http, body)
    await empty_tables(ingest_app)
    monkeypatch.setattr(pipeline, "LOG_BATCH_BYTES", 1)  # every unit a batch of its own
    cut = await push(http, body)
    assert [u["position"] for u in cut["detail"]] == [u["position"] for u in whole["detail"]]
    assert outcomes(cut) == outcomes(whole)
    assert cut["mapped"] == whole["mapped"] == 5
