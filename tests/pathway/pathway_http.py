"""Helpers for the pathway tests through HTTP: store resources as a centre's feed would, fix
"today", derive, and read ``$pathway`` answers as plain dicts."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from typing import Any

import httpx
from fastapi import FastAPI

from app.pathway import derivation
from app.pathway.derivation import Derived

TODAY = "2025-04-01"
"""The day the tests' clock reads."""


@contextlib.contextmanager
def fixed_today(app: FastAPI, day: str = TODAY) -> Iterator[None]:
    """The context's clock reads ``day`` at noon (London in winter/spring: near enough UTC),
    advancing a millisecond per reading so versions stay ordered."""
    ctx = app.state.fhir
    start = int(dt.datetime.fromisoformat(f"{day}T12:00:00+00:00").timestamp() * 1_000_000)
    ticks = iter(range(start, start + 10**12, 1000))
    saved = ctx.clock
    ctx.clock = lambda: next(ticks)
    try:
        yield
    finally:
        ctx.clock = saved


async def put(client: httpx.AsyncClient, resource: dict[str, Any]) -> httpx.Response:
    body = {k: v for k, v in resource.items() if k != "meta"}
    if "profile" in (resource.get("meta") or {}):
        body["meta"] = {"profile": resource["meta"]["profile"]}
    response = await client.put(f"{resource['resourceType']}/{resource['id']}", json=body)
    assert response.status_code in (200, 201), response.text
    return response


async def put_all(client: httpx.AsyncClient, resources: list[dict[str, Any]]) -> None:
    for resource in resources:
        await put(client, resource)


async def derive(app: FastAPI) -> Derived:
    return await derivation.drain(app.state.fhir)


async def pathway(client: httpx.AsyncClient, patient_id: str) -> dict[str, Any]:
    response = await client.get(f"Patient/{patient_id}/$pathway")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "Parameters"
    return body


def value(part: dict[str, Any]) -> Any:
    for key, found in part.items():
        if key.startswith("value"):
            if key == "valueCoding":
                return found["code"]
            if key == "valueReference":
                return found["reference"]
            if key == "valueIdentifier":
                return found["value"]
            return found
    return None


def episodes(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Each episode part flattened: a name -> value dict (``centres`` and ``activity`` lists)."""
    out = []
    for parameter in body["parameter"]:
        if parameter["name"] != "episode":
            continue
        flat: dict[str, Any] = {"centres": [], "activity": []}
        for part in parameter["part"]:
            if part["name"] == "centres":
                flat["centres"].append(value(part))
            elif part["name"] == "activity":
                flat["activity"].append({p["name"]: value(p) for p in part["part"]})
            else:
                flat[part["name"]] = value(part)
        out.append(flat)
    return out


def careplans(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [p["resource"] for p in body["parameter"] if p["name"] == "careplan"]
