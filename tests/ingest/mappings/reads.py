"""Reading back what a centre's input became, shared by the per-centre mapping tests: the
receipt's verdicts and the FHIR reads that check them."""

from __future__ import annotations

from typing import Any

import httpx


def mapped_cleanly(receipt: dict[str, Any]) -> None:
    """Every unit mapped, nothing unread or undeclared, nothing invalid (no outcome at all)."""
    assert receipt["quarantined"] == 0, receipt["detail"]
    for unit in receipt["detail"]:
        assert "outcome" not in unit, unit["outcome"]


def diagnostics(unit: dict[str, Any]) -> str:
    return " | ".join(i.get("diagnostics", "") for i in unit["outcome"]["issue"])


async def search(client: httpx.AsyncClient, query: str) -> list[dict[str, Any]]:
    response = await client.get(query)
    assert response.status_code == 200, response.text
    return [e["resource"] for e in response.json().get("entry", [])]


async def read(client: httpx.AsyncClient, res_type: str, res_id: str) -> dict[str, Any]:
    response = await client.get(f"{res_type}/{res_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def versions(client: httpx.AsyncClient, res_type: str, res_id: str) -> int:
    response = await client.get(f"{res_type}/{res_id}/_history")
    assert response.status_code == 200, response.text
    return len(response.json().get("entry", []))
