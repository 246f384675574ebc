"""history at instance, type and system level: paged history Bundles, newest first."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response

from app.auth.context import current as context_principal
from app.auth.policy import forbidden, require
from app.auth.visibility import can_see, searchable, visible
from app.errors import InvalidRequest, ResourceNotFound
from app.fhir.bundles import bundle, status_line
from app.fhir.context import base_url, context
from app.fhir.interactions.common import path_id, path_type
from app.fhir.negotiation import output_format
from app.fhir.responses import fhir_response
from app.search.dates import format_instant, parse_range
from app.storage.store import StoredVersion

_KNOWN = {"_since", "_count", "_cursor", "_format", "_pretty"}


def _entry(base: str, version: StoredVersion) -> dict[str, Any]:
    ref = f"{version.res_type}/{version.res_id}"
    if version.deleted:
        status = 204
    elif version.version_id == 1 or version.method == "POST":
        status = 201
    else:
        status = 200
    entry: dict[str, Any] = {"fullUrl": f"{base}/{ref}"}
    if version.content is not None:
        entry["resource"] = orjson.Fragment(version.content)
    entry["request"] = {
        "method": version.method,
        "url": version.res_type if version.method == "POST" else ref,
    }
    entry["response"] = {
        "status": status_line(status),
        "etag": f'W/"{version.version_id}"',
        "lastModified": format_instant(version.last_updated),
    }
    return entry


def _parse(request: Request) -> tuple[int | None, int | None, int]:
    query = request.query_params
    unknown = [k for k in query if k not in _KNOWN]
    if unknown:
        raise InvalidRequest(
            f"Unsupported history parameters: {', '.join(unknown)}", expression=tuple(unknown)
        )
    since = None
    if "_since" in query:
        try:
            since = parse_range(query["_since"])[0]
        except ValueError as exc:
            raise InvalidRequest(f"_since: {exc}", expression=("_since",)) from exc
    settings = context(request).settings
    count = settings.default_page_size
    if "_count" in query:
        if not query["_count"].isdigit():
            raise InvalidRequest("_count must be a non-negative integer", expression=("_count",))
        count = min(int(query["_count"]), settings.max_page_size)
    cursor = query.get("_cursor")
    if cursor is not None and not (cursor.isdigit() and int(cursor) < 2**63):
        raise InvalidRequest("Invalid history cursor", expression=("_cursor",))
    return since, int(cursor) if cursor else None, max(count, 1)


async def _history(request: Request, res_type: str | None, res_id: str | None) -> Response:
    ctx = context(request)
    fmt = output_format(request)
    since, cursor, count = _parse(request)
    page = await ctx.store.history(
        res_type=res_type, res_id=res_id, since=since, before_seq=cursor, limit=count
    )
    base = base_url(request)
    path = "/".join(p for p in (base, res_type, res_id, "_history") if p)
    echo = [(k, v) for k, v in request.query_params.multi_items() if k in ("_since", "_count")]
    links = [("self", f"{path}?{urlencode(echo)}" if echo else path)]
    if page.next_seq is not None:
        links.append(("next", f"{path}?{urlencode([*echo, ('_cursor', str(page.next_seq))])}"))
    versions = page.versions
    if context_principal() is not None:
        async with ctx.db.read() as conn:
            seen = await visible(
                conn, ((v.res_type, v.res_id, v.content) for v in versions), "r" if res_id else "s"
            )
        versions = [v for v in versions if (v.res_type, v.res_id) in seen]
    entries = [_entry(base, v) for v in versions]
    return fhir_response(bundle("history", entries, now=ctx.now(), links=links), fmt=fmt)


async def history_instance(request: Request) -> Response:
    res_type, res_id = path_type(request), path_id(request)
    ctx = context(request)
    found = await ctx.store.read(res_type, res_id)
    if found is None or not await can_see(ctx.db, res_type, res_id, found.content):
        raise ResourceNotFound(f"{res_type}/{res_id} has never existed here")
    return await _history(request, res_type, res_id)


async def history_type(request: Request) -> Response:
    res_type = path_type(request)
    require(res_type, "s")
    return await _history(request, res_type, None)


async def history_system(request: Request) -> Response:
    if not searchable(sorted(context(request).types)):
        raise forbidden("Resource", "s")
    return await _history(request, None, None)
