"""The semantics of every write interaction, shared by the REST handlers and Bundles.

Each function runs inside an open ``WriteTx`` so a transaction Bundle can chain many writes
into one database transaction. Versions are integers; an update that changes nothing
(ignoring meta.versionId/lastUpdated) keeps the current version, as Blaze does.

The token's rights (app.auth.write_access) are checked on the stored version before a write
and on the new one right after it is queued: granular scope filters are judged by search SQL,
so the new version must be in the transaction (flushed) first; a refusal rolls it back.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from http import HTTPStatus
from typing import Any

import jsonpatch
import orjson

from app.auth import write_access
from app.errors import (
    InvalidRequest,
    Issue,
    MultipleMatches,
    PreconditionFailed,
    ResourceGone,
    ResourceNotFound,
    StructureError,
)
from app.fhir.resource_body import check_resource
from app.model import fhir_json
from app.search.dates import format_instant
from app.search.extract import extract_index
from app.search.request import SearchRequest
from app.search.sql import find_ids
from app.storage.store import StoredVersion, WriteTx

Clock = Callable[[], int]
WriteCheck = Callable[[dict[str, Any]], Awaitable[list[Issue]]]
"""The source's write policy (``resource_body.validate_for_write``): raises on errors,
returns the warnings to report."""


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    status: HTTPStatus
    res_type: str
    res_id: str
    version_id: int
    last_updated: int
    content: bytes | None
    """The stored JSON bytes (None after a delete or when nothing existed)."""
    issues: tuple[Issue, ...] = ()
    """Warnings from validation on write, reported with the 200/201."""


def new_id() -> str:
    """A UUIDv7-style id: 48 bits of milliseconds, then 74 random bits.

    Time-ordered ids keep index inserts at the right edge of each B-tree instead of scattering
    them (random UUIDv4 ids halved SQLite ingest throughput in our benchmarks), and still give
    no useful guess at another resource's id.
    """
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    value = value & ~(0xF << 76) | (0x7 << 76)  # version 7
    value = value & ~(0x3 << 62) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def stamp(resource: dict[str, Any], res_id: str, version_id: int, now: int) -> bytes:
    """The exact bytes stored for ``resource`` at that version (also how the pathway
    derivation recognises a CarePlan already stored as is)."""
    meta = dict(resource.get("meta") or {})
    meta["versionId"] = str(version_id)
    meta["lastUpdated"] = format_instant(now)
    body = {"resourceType": resource["resourceType"], "id": res_id, "meta": meta}
    body.update((k, v) for k, v in resource.items() if k not in body)
    return fhir_json.dumps(body)


def _without_version_meta(resource: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in resource.items() if k not in ("meta", "id")}
    meta = dict(resource.get("meta") or {})
    meta.pop("versionId", None)
    meta.pop("lastUpdated", None)
    if meta:
        out["meta"] = meta
    return out


def _unchanged(current: StoredVersion, resource: dict[str, Any]) -> bool:
    if current.deleted or current.content is None:
        return False
    stored = orjson.loads(current.content)
    return _without_version_meta(stored) == _without_version_meta(resource)


async def _write(
    tx: WriteTx,
    resource: dict[str, Any],
    res_id: str,
    current: StoredVersion | None,
    *,
    method: str,
    now: int,
) -> WriteOutcome:
    version_id = current.version_id + 1 if current else 1
    content = stamp(resource, res_id, version_id, now)
    res_type = resource["resourceType"]
    tx.put(
        res_type=res_type,
        res_id=res_id,
        version_id=version_id,
        last_updated=now,
        method=method,
        content=content,
        index=extract_index(resource),
        existed=current is not None,
    )
    created = current is None or current.deleted
    status = HTTPStatus.CREATED if created else HTTPStatus.OK
    return WriteOutcome(status, res_type, res_id, version_id, now, content)


def _kept(current: StoredVersion) -> WriteOutcome:
    return WriteOutcome(
        HTTPStatus.OK,
        current.res_type,
        current.res_id,
        current.version_id,
        current.last_updated,
        current.content,
    )


async def create(
    tx: WriteTx,
    resource: dict[str, Any],
    *,
    now: int,
    res_id: str | None = None,
    fresh: bool = False,
) -> WriteOutcome:
    """Create with a server-assigned id (any id in the body is ignored, as the spec says).

    A freshly generated id (``fresh``, or no id given) cannot exist yet, so no lookup or lock
    is needed: creates in a Bundle are just queued.
    """
    decision = write_access.check_create(resource["resourceType"], resource)
    if res_id is None:
        res_id, fresh = new_id(), True
    current = None if fresh else await tx.current(resource["resourceType"], res_id)
    outcome = await _write(tx, resource, res_id, current, method="POST", now=now)
    await write_access.check_written(tx, decision, outcome.res_type, res_id, "c")
    return outcome


def _check_if_match(current: StoredVersion | None, if_match: int | None) -> None:
    if if_match is None:
        return
    if current is None or current.deleted:
        raise PreconditionFailed(f'If-Match W/"{if_match}" given, but the resource does not exist')
    if current.version_id != if_match:
        raise PreconditionFailed(
            f'Version conflict: If-Match W/"{if_match}" but the current version is '
            f"{current.version_id}",
            headers={"ETag": f'W/"{current.version_id}"'},
        )


async def update(
    tx: WriteTx,
    resource: dict[str, Any],
    res_id: str,
    *,
    now: int,
    if_match: int | None = None,
    method: str = "PUT",
) -> WriteOutcome:
    """Update or create-with-client-id; a no-op update keeps the version."""
    res_type = resource["resourceType"]
    current = await tx.current(res_type, res_id)
    decision = await write_access.check_update(tx, res_type, res_id, current)
    write_access.check_content(decision, res_type, resource)
    _check_if_match(current, if_match)
    if current is not None and _unchanged(current, resource):
        return _kept(current)
    outcome = await _write(tx, resource, res_id, current, method=method, now=now)
    await write_access.check_written(tx, decision, res_type, res_id, "u")
    return outcome


async def delete(
    tx: WriteTx, res_type: str, res_id: str, *, now: int, if_match: int | None = None
) -> WriteOutcome:
    """Delete (a new, deleted version in history); deleting nothing is not an error."""
    current = await tx.current(res_type, res_id)
    if not await write_access.may_delete(tx, res_type, current):
        current = None
    _check_if_match(current, if_match)
    if current is None or current.deleted:
        version = current.version_id if current else 0
        last = current.last_updated if current else now
        return WriteOutcome(HTTPStatus.NO_CONTENT, res_type, res_id, version, last, None)
    version_id = current.version_id + 1
    tx.delete(res_type=res_type, res_id=res_id, version_id=version_id, last_updated=now)
    return WriteOutcome(HTTPStatus.NO_CONTENT, res_type, res_id, version_id, now, None)


async def patch(
    tx: WriteTx,
    res_type: str,
    res_id: str,
    operations: Any,
    *,
    now: int,
    if_match: int | None = None,
    check: WriteCheck | None = None,
) -> WriteOutcome:
    """Apply a JSON Patch to the current version, then validate the result like an update
    (``check`` is the write policy; only the patched resource can be judged by it)."""
    current = await tx.current(res_type, res_id)
    decision = await write_access.check_update(tx, res_type, res_id, current)
    if current is None:
        raise ResourceNotFound(f"{res_type}/{res_id} does not exist")
    if current.deleted or current.content is None:
        raise ResourceGone(f"{res_type}/{res_id} has been deleted")
    _check_if_match(current, if_match)
    if not isinstance(operations, list):
        raise StructureError("A JSON Patch document must be a JSON array of operations")
    try:
        patched = jsonpatch.apply_patch(fhir_json.loads(current.content), operations)
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
        raise InvalidRequest(f"The JSON Patch could not be applied: {exc}") from exc
    except (TypeError, KeyError, ValueError) as exc:
        raise InvalidRequest(f"Malformed JSON Patch operation: {exc}") from exc
    resource = check_resource(patched, expected_type=res_type)
    if resource.get("id") != res_id:
        raise InvalidRequest("A patch may not change the resource id", expression=("id",))
    write_access.check_content(decision, res_type, resource)
    warnings = tuple(await check(resource)) if check is not None else ()
    if _unchanged(current, resource):
        return replace(_kept(current), issues=warnings)
    outcome = await _write(tx, resource, res_id, current, method="PATCH", now=now)
    await write_access.check_written(tx, decision, res_type, res_id, "u")
    return replace(outcome, issues=warnings)


async def match_one(tx: WriteTx, criteria: SearchRequest, lock_name: str) -> str | None:
    """The single id matching conditional criteria, None for no match, 412 for several.

    The lock serializes identical conditional requests, so N concurrent identical
    conditional creates yield exactly one resource.
    """
    write_access.check_conditional(criteria.res_type or "")
    await tx.lock(f"conditional:{lock_name}")
    ids = await find_ids(await tx.connection(), criteria, limit=2)
    if len(ids) > 1:
        raise MultipleMatches(
            f"The criteria '{lock_name}' match more than one resource; be more selective"
        )
    return ids[0] if ids else None
