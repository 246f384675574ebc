"""Executing one Bundle entry inside an open write transaction.

Shared by batch (one transaction per entry) and transaction (one for all). ``resolve_ids``
runs first in a transaction so that every ``urn:uuid`` and conditional reference can be
rewritten before any resource is stored.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Any

from app.auth.visibility import can_see
from app.config import API_SOURCE
from app.errors import (
    FhirError,
    InvalidRequest,
    Issue,
    ResourceGone,
    ResourceNotFound,
    operation_outcome,
)
from app.fhir import writes
from app.fhir.bundle_entries import Entry, rewrite_references
from app.fhir.conditional import criteria_request
from app.fhir.context import FhirContext
from app.fhir.headers import parse_criteria, parse_etag
from app.fhir.interactions.search import run_search
from app.fhir.resource_body import validate_for_write
from app.fhir.value_set_codes import codes_of
from app.search.dates import format_instant
from app.search.request import parse_search
from app.search.summary import read_subset
from app.search.value_sets import needs_value_sets, resolve_value_sets
from app.storage.store import WriteTx, read_current, read_version


@dataclass(slots=True)
class EntryResult:
    status: int
    full_url: str | None = None
    location: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body: bytes | None = None
    outcome: dict[str, Any] | None = None
    is_read: bool = False

    @classmethod
    def written(cls, outcome: writes.WriteOutcome) -> EntryResult:
        ref = f"{outcome.res_type}/{outcome.res_id}"
        return cls(
            status=outcome.status,
            full_url=ref if outcome.content is not None else None,
            location=f"{ref}/_history/{outcome.version_id}" if outcome.version_id else None,
            etag=f'W/"{outcome.version_id}"' if outcome.version_id else None,
            last_modified=format_instant(outcome.last_updated),
            body=outcome.content,
            # Bundle.entry.response.outcome: "hints and warnings produced ... for this entry"
            outcome=operation_outcome(outcome.issues) if outcome.issues else None,
        )

    @classmethod
    def failure(cls, error: FhirError) -> EntryResult:
        return cls(status=error.status, outcome=operation_outcome(error.all_issues()))


def in_entry(error: FhirError, entry: Entry) -> FhirError:
    """Name the failing entry in the error, keeping its status."""
    issues = [
        Issue(
            i.severity,
            i.code,
            i.diagnostics
            if i.diagnostics.startswith("Bundle.entry")
            else f"{entry.where}: {i.diagnostics}",
            i.expression or (entry.where,),
        )
        for i in error.all_issues()
    ]
    return replace(error, diagnostics=issues[0].diagnostics, issues=issues)


async def _conditional_target(
    tx: WriteTx, res_type: str, params: list[tuple[str, str]], types: frozenset[str]
) -> str | None:
    criteria, key = criteria_request(res_type, params, types)
    return await writes.match_one(tx, criteria, key)


async def resolve_ids(tx: WriteTx, entries: list[Entry], types: frozenset[str]) -> dict[str, str]:
    """Decide every created/updated id up front, map full URLs and conditional references to
    them, and rewrite the references in every entry's resource."""
    mapping: dict[str, str] = {}
    for entry in entries:
        try:
            await _resolve_id(tx, entry, types)
        except FhirError as exc:
            raise in_entry(exc, entry) from None
        if entry.full_url and entry.res_id and entry.method in ("POST", "PUT"):
            mapping[entry.full_url] = f"{entry.res_type}/{entry.res_id}"
    for entry in entries:
        if entry.resource is None:
            continue
        conditional = rewrite_references(entry.resource, mapping)
        if conditional:
            try:
                await _resolve_conditional_references(tx, conditional, mapping, types)
            except FhirError as exc:
                raise in_entry(exc, entry) from None
            rewrite_references(entry.resource, mapping)
    return mapping


async def _resolve_id(tx: WriteTx, entry: Entry, types: frozenset[str]) -> None:
    if entry.method == "POST":
        existing = None
        if entry.if_none_exist:
            existing = await _conditional_target(
                tx, entry.res_type, parse_criteria(entry.if_none_exist), types
            )
        entry.res_id = existing or writes.new_id()
        entry.fresh_id = existing is None
        entry.if_none_exist = "matched" if existing else None
    elif entry.method == "PUT" and entry.query is not None:
        existing = await _conditional_target(tx, entry.res_type, entry.query, types)
        body_id = entry.resource.get("id") if entry.resource else None
        entry.res_id = existing or body_id or writes.new_id()


async def _resolve_conditional_references(
    tx: WriteTx, references: list[str], mapping: dict[str, str], types: frozenset[str]
) -> None:
    """Each ``Type?criteria`` reference must match exactly one resource (spec: transaction)."""
    for ref in references:
        if ref in mapping:
            continue
        target_type, _, query = ref.partition("?")
        if target_type not in types:
            raise InvalidRequest(f"Conditional reference '{ref}' names no resource type")
        found = await _conditional_target(tx, target_type, parse_criteria(query), types)
        if found is None:
            raise ResourceNotFound(f"Conditional reference '{ref}' matches no resource")
        mapping[ref] = f"{target_type}/{found}"


async def _read(tx: WriteTx, entry: Entry, ctx: FhirContext, base: str, now: int) -> EntryResult:
    if entry.res_id is None:
        search = parse_search(
            entry.res_type,
            entry.query or [],
            default_count=ctx.settings.default_page_size,
            max_count=ctx.settings.max_page_size,
            known_types=ctx.types,
        )
        if needs_value_sets(search):
            await resolve_value_sets(search, codes_of(ctx))
        body = await run_search(await tx.connection(), search, base=base, now=now)
        return EntryResult(HTTPStatus.OK, body=body, is_read=True)
    subset = read_subset(entry.query or [])
    conn = await tx.connection()
    if entry.version is None:
        found = await read_current(conn, entry.res_type, entry.res_id)
    elif entry.version.isdigit():
        found = await read_version(conn, entry.res_type, entry.res_id, int(entry.version))
    else:
        raise InvalidRequest(f"'{entry.version}' is not a version id (a positive integer)")
    if found is None or not await can_see(conn, entry.res_type, entry.res_id, found.content):
        raise ResourceNotFound(
            f"{entry.res_type}/{entry.res_id} is not known"
            + (f" at version {entry.version}" if entry.version else "")
        )
    if found.deleted:
        raise ResourceGone(f"{entry.res_type}/{entry.res_id} was deleted")
    return EntryResult(
        HTTPStatus.OK,
        full_url=f"{entry.res_type}/{entry.res_id}",
        etag=f'W/"{found.version_id}"',
        last_modified=format_instant(found.last_updated),
        body=subset.apply(found.content) if subset and found.content else found.content,
        is_read=True,
    )


async def _delete(tx: WriteTx, entry: Entry, now: int, if_match: int | None) -> EntryResult:
    res_id = entry.res_id
    if res_id is None:
        res_id = await _conditional_target(
            tx, entry.res_type, entry.query or [], frozenset({entry.res_type})
        )
        if res_id is None:
            return EntryResult(HTTPStatus.NO_CONTENT)
    outcome = await writes.delete(tx, entry.res_type, res_id, now=now, if_match=if_match)
    return EntryResult.written(outcome)


async def execute(
    tx: WriteTx,
    entry: Entry,
    ctx: FhirContext,
    *,
    base: str,
    now: int,
    source: str = API_SOURCE,
) -> EntryResult:
    """Run one entry; POST, PUT and PATCH resources go through ``source``'s write policy
    (after references are rewritten, so reference targets are judged as stored)."""
    if_match = parse_etag(entry.if_match)
    prefix = f"{entry.where}.resource."

    async def check(resource: dict[str, Any]) -> list[Issue]:
        return await validate_for_write(ctx, resource, source, expression_prefix=prefix)

    if entry.method in ("GET", "HEAD"):
        return await _read(tx, entry, ctx, base, now)
    if entry.method == "DELETE":
        return await _delete(tx, entry, now, if_match)
    if entry.method == "PATCH":
        if entry.res_id is None:
            raise InvalidRequest("PATCH entries need Type/id in request.url")
        outcome = await writes.patch(
            tx, entry.res_type, entry.res_id, entry.patch, now=now, if_match=if_match, check=check
        )
        return EntryResult.written(outcome)
    assert entry.resource is not None
    if entry.method == "POST":
        if entry.res_id is None:  # a batch entry: ids are not resolved up front
            await resolve_ids(tx, [entry], ctx.types)
        assert entry.res_id is not None
        if entry.if_none_exist == "matched":
            found = await read_current(await tx.connection(), entry.res_type, entry.res_id)
            assert found is not None
            return EntryResult.written(
                writes.WriteOutcome(
                    HTTPStatus.OK,
                    entry.res_type,
                    entry.res_id,
                    found.version_id,
                    found.last_updated,
                    found.content,
                )
            )
        warnings = tuple(await check(entry.resource))
        created = await writes.create(
            tx, entry.resource, now=now, res_id=entry.res_id, fresh=entry.fresh_id
        )
        return EntryResult.written(replace(created, issues=warnings))
    if entry.res_id is None:
        await resolve_ids(tx, [entry], ctx.types)
    assert entry.res_id is not None
    if entry.query is None and entry.resource.get("id") != entry.res_id:
        raise InvalidRequest(
            f"resource.id ({entry.resource.get('id')!r}) differs from the id in request.url",
            expression=(f"{entry.where}.resource.id",),
        )
    warnings = tuple(await check(entry.resource))
    outcome = await writes.update(tx, entry.resource, entry.res_id, now=now, if_match=if_match)
    return EntryResult.written(replace(outcome, issues=warnings))
