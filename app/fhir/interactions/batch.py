"""batch and transaction Bundles (POST to the base).

A transaction runs every entry in one database transaction in the spec's order (DELETE, POST,
PUT/PATCH, GET), resolves ``urn:uuid`` full URLs and conditional references first, and commits
whole or not at all: a failing entry rolls everything back and is named in the
OperationOutcome. A batch runs each entry on its own. Neither ever falls back to the other.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from app.config import API_SOURCE
from app.errors import FhirError, InvalidRequest, PayloadTooLarge, StructureError
from app.fhir.bundle_entries import ORDER, Entry, parse_entry
from app.fhir.bundles import bundle, status_line
from app.fhir.context import INTERACTION, FhirContext, base_url, context
from app.fhir.entry_actions import EntryResult, execute, in_entry, resolve_ids
from app.fhir.headers import parse_prefer
from app.fhir.negotiation import output_format, require_json_body
from app.fhir.request_body import read_body
from app.fhir.resource_body import parse_json
from app.fhir.responses import fhir_response


def _entries(data: Any, ctx: FhirContext, base: str) -> tuple[str, list[Entry]]:
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise StructureError("POST to the base takes a Bundle of type batch or transaction")
    kind = data.get("type")
    if kind not in ("batch", "transaction"):
        raise InvalidRequest(
            f"Bundle.type must be batch or transaction here, got {kind!r}",
            expression=("Bundle.type",),
        )
    raw = data.get("entry", [])
    if not isinstance(raw, list):
        raise StructureError("Bundle.entry must be an array", expression=("Bundle.entry",))
    limit = ctx.settings.max_bundle_entries
    if len(raw) > limit:
        raise PayloadTooLarge(f"The Bundle has {len(raw)} entries; the limit is {limit}")
    if kind == "batch":
        return kind, []
    return kind, [parse_entry(i, e, base) for i, e in enumerate(raw)]


def _reject_duplicates(entries: list[Entry]) -> None:
    seen: dict[str, int] = {}
    for entry in entries:
        keys = [entry.full_url] if entry.full_url else []
        if entry.res_id and entry.method in ("PUT", "PATCH", "DELETE"):
            keys.append(f"{entry.res_type}/{entry.res_id}")
        for key in keys:
            if key in seen:
                raise InvalidRequest(
                    f"Bundle.entry[{entry.index}] identifies the same resource ({key}) as "
                    f"Bundle.entry[{seen[key]}]; a transaction may not touch a resource twice",
                    expression=(f"Bundle.entry[{entry.index}]",),
                )
            seen[key] = entry.index


def _response_entry(result: EntryResult, base: str, representation: bool) -> dict[str, Any]:
    response: dict[str, Any] = {"status": status_line(result.status)}
    if result.location:
        response["location"] = result.location
    if result.etag:
        response["etag"] = result.etag
    if result.last_modified:
        response["lastModified"] = result.last_modified
    if result.outcome is not None:
        response["outcome"] = result.outcome
    entry: dict[str, Any] = {}
    if result.full_url:
        entry["fullUrl"] = f"{base}/{result.full_url}"
    if result.body is not None and (representation or result.is_read):
        entry["resource"] = orjson.Fragment(result.body)
    entry["response"] = response
    return entry


async def _transaction(
    ctx: FhirContext, entries: list[Entry], base: str, source: str = API_SOURCE
) -> list[EntryResult]:
    _reject_duplicates(entries)
    ordered = sorted(entries, key=lambda e: (ORDER[e.method], e.index))
    results: dict[int, EntryResult] = {}
    async with ctx.store.write() as tx:
        now = ctx.now()
        current: Entry | None = None
        try:
            await resolve_ids(tx, ordered, ctx.types)
            for entry in ordered:
                current = entry
                results[entry.index] = await execute(
                    tx, entry, ctx, base=base, now=now, source=source
                )
        except FhirError as exc:
            raise (in_entry(exc, current) if current else exc) from None
    return [results[e.index] for e in entries]


async def _batch(
    ctx: FhirContext, raw_entries: list[Any], base: str, source: str = API_SOURCE
) -> list[EntryResult]:
    results = []
    for index, raw in enumerate(raw_entries):
        try:
            entry = parse_entry(index, raw, base)
            async with ctx.store.write() as tx:
                results.append(
                    await execute(tx, entry, ctx, base=base, now=ctx.now(), source=source)
                )
        except FhirError as exc:
            results.append(EntryResult.failure(exc))
    return results


async def batch_or_transaction(request: Request) -> Response:
    ctx = context(request)
    fmt = output_format(request)
    require_json_body(request)
    base = base_url(request)
    data = parse_json(await read_body(request, ctx.settings.max_body_bytes))
    kind, entries = _entries(data, ctx, base)
    request.scope[INTERACTION] = kind  # the audit trail tells batch from transaction
    if kind == "transaction":
        results = await _transaction(ctx, entries, base)
    else:
        results = await _batch(ctx, data.get("entry", []), base)
    # Entry resources are returned only when asked for: response Bundles stay small.
    prefer = request.headers.get("prefer")
    representation = prefer is not None and parse_prefer(prefer).return_mode == "representation"
    body = bundle(
        f"{kind}-response",
        [_response_entry(r, base, representation) for r in results],
        now=ctx.now(),
    )
    return fhir_response(body, status=HTTPStatus.OK, fmt=fmt)
