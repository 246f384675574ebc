"""Assembling Bundles around stored bytes without re-parsing them (orjson.Fragment)."""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from app.errors import Issue, operation_outcome
from app.search.dates import format_instant

_STATUS_TEXT = {200: "200 OK", 201: "201 Created", 204: "204 No Content"}


def status_line(code: int) -> str:
    return _STATUS_TEXT.get(code, str(code))


def match_entry(base: str, res_type: str, res_id: str, content: bytes) -> dict[str, Any]:
    return {
        "fullUrl": f"{base}/{res_type}/{res_id}",
        "resource": orjson.Fragment(content),
        "search": {"mode": "match"},
    }


def outcome_entry(issues: list[Issue]) -> dict[str, Any]:
    return {
        "fullUrl": f"urn:uuid:{uuid.uuid4()}",
        "resource": operation_outcome(issues),
        "search": {"mode": "outcome"},
    }


def bundle(
    kind: str,
    entries: list[dict[str, Any]],
    *,
    now: int,
    links: list[tuple[str, str]] | None = None,
    total: int | None = None,
) -> bytes:
    body: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": format_instant(now)},
        "type": kind,
    }
    if total is not None:
        body["total"] = total
    if links:
        body["link"] = [{"relation": rel, "url": url} for rel, url in links]
    if entries:
        body["entry"] = entries
    return orjson.dumps(body)
