"""search at type and system level (GET and POST _search), returning searchset Bundles."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import Response

from app.auth import visibility
from app.errors import InvalidRequest, Issue, ResourceNotFound, UnsupportedMediaType
from app.fhir.bundles import bundle, match_entry, outcome_entry
from app.fhir.context import base_url, context
from app.fhir.headers import parse_prefer
from app.fhir.interactions.common import path_id, path_type
from app.fhir.negotiation import output_format
from app.fhir.request_body import read_body
from app.fhir.responses import fhir_response
from app.fhir.value_set_codes import codes_of
from app.search import sql
from app.search.compartments import Compartment, compartment_params, compartment_url
from app.search.include import INCLUDE_LIMIT, MAX_ROUNDS, included
from app.search.request import SearchRequest, parse_search
from app.search.value_sets import needs_value_sets, resolve_value_sets
from app.storage.database import Connection


def _path(request: SearchRequest) -> str | None:
    """Where the search was made, below the base (a compartment search keeps its form)."""
    compartment = request.compartment
    if compartment and not compartment.implicit:
        return f"{compartment.code}/{compartment.res_id}/{request.res_type}"
    return request.res_type


def _link(base: str, path: str | None, pairs: list[tuple[str, str]]) -> str:
    path = f"{base}/{path}" if path else base
    return f"{path}?{urlencode(pairs)}" if pairs else path


async def run_search(conn: Connection, request: SearchRequest, *, base: str, now: int) -> bytes:
    """Execute ``request`` and render the searchset Bundle (also used inside Bundles)."""
    issues = [
        Issue(
            "warning",
            "not-supported",
            f"Search parameter '{name}' is not supported and was ignored",
            (name,),
        )
        for name in request.unknown
    ]
    confined = visibility.confine(request)
    if confined.empty:
        links = [("self", _link(base, _path(request), request.echo))]
        entries = [outcome_entry(issues)] if issues else []
        total = 0 if request.summary_count or request.total != "none" else None
        return bundle("searchset", entries, now=now, links=links, total=total)
    if request.summary_count:
        total = await sql.count(conn, request)
        links = [("self", _link(base, _path(request), request.echo))]
        entries = [outcome_entry(issues)] if issues else []
        return bundle("searchset", entries, now=now, links=links, total=total)
    page = await sql.search(conn, request)
    matches = page.matches
    if confined.post_filters and request.res_type:
        ids = [m.res_id for m in matches]
        kept = await visibility.matching(conn, request.res_type, ids, confined.post_filters)
        matches = [m for m in matches if m.res_id in kept]
    # _summary applies to every resource returned; _elements only to the matches (R4
    # search.html#elements: "The list of elements does not apply to included resources").
    subset = request.subset
    entries = [match_entry(base, m.res_type, m.res_id, subset.apply(m.content)) for m in matches]
    if request.includes:
        keys = [(m.res_type, m.res_id) for m in matches]
        extra, truncated = await included(conn, request.includes, keys)
        seen = await visibility.visible(conn, extra)
        extra = [row for row in extra if (row[0], row[1]) in seen]
        for_included = subset.for_included()
        for res_type, res_id, content in extra:
            entry = match_entry(base, res_type, res_id, for_included.apply(content))
            entries.append({**entry, "search": {"mode": "include"}})
        if truncated:
            issues.append(
                Issue(
                    "warning",
                    "too-costly",
                    f"Included resources were cut short: at most {INCLUDE_LIMIT}, "
                    f"and :iterate follows at most {MAX_ROUNDS} levels",
                    ("_include",),
                )
            )
    if issues:
        entries.append(outcome_entry(issues))
    links = [("self", _link(base, _path(request), request.echo))]
    for relation, cursor in (("next", page.next_cursor), ("previous", page.prev_cursor)):
        if cursor:
            pairs = [*request.echo, ("_cursor", cursor)]
            links.append((relation, _link(base, _path(request), pairs)))
    return bundle("searchset", entries, now=now, links=links, total=page.total)


def parse_request(
    request: Request, res_type: str | None, params: list[tuple[str, str]]
) -> SearchRequest:
    ctx = context(request)
    search = parse_search(
        res_type,
        params,
        default_count=ctx.settings.default_page_size,
        max_count=ctx.settings.max_page_size,
        known_types=ctx.types,
        base=base_url(request),
    )
    if search.unknown and parse_prefer(request.headers.get("prefer")).strict:
        raise InvalidRequest(
            "Unknown or unsupported search parameters (Prefer: handling=strict): "
            + ", ".join(search.unknown),
            expression=tuple(search.unknown),
        )
    return search


async def _respond(
    request: Request, res_type: str | None, params: list[tuple[str, str]]
) -> Response:
    ctx = context(request)
    fmt = output_format(request)
    search = parse_request(request, res_type, params)
    if needs_value_sets(search):
        await resolve_value_sets(search, codes_of(ctx))
    async with ctx.db.read() as conn:
        body = await run_search(conn, search, base=base_url(request), now=ctx.now())
    return fhir_response(body, fmt=fmt)


async def search_type(request: Request) -> Response:
    return await _respond(request, path_type(request), request.query_params.multi_items())


async def search_type_post(request: Request) -> Response:
    res_type = path_type(request)
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/x-www-form-urlencoded"):
        raise UnsupportedMediaType("POST _search takes an application/x-www-form-urlencoded body")
    body = await read_body(request, context(request).settings.max_body_bytes)
    try:
        form = parse_qsl(body.decode(), keep_blank_values=True)
    except UnicodeDecodeError as exc:
        raise InvalidRequest(f"The form body is not valid UTF-8: {exc}") from exc
    params = request.query_params.multi_items() + form
    return await _respond(request, res_type, params)


async def search_compartment(request: Request) -> Response:
    """``GET [base]/Patient/{id}/{type}``: a type search restricted to one compartment."""
    code, owner = path_type(request), path_id(request)
    res_type = request.path_params["target"]
    if res_type not in context(request).types:
        raise ResourceNotFound(f"Unknown resource type '{res_type}'", issue_code="not-supported")
    if compartment_url(code) is None:
        raise ResourceNotFound(
            f"The {code} compartment is not supported here (only Patient)",
            issue_code="not-supported",
        )
    params = compartment_params(code, res_type)
    if not params:
        raise ResourceNotFound(
            f"{res_type} is not in the {code} compartment", issue_code="not-supported"
        )
    search = parse_request(request, res_type, request.query_params.multi_items())
    search.compartment = Compartment(code, owner, params)
    ctx = context(request)
    async with ctx.db.read() as conn:
        body = await run_search(conn, search, base=base_url(request), now=ctx.now())
    return fhir_response(body, fmt=output_format(request))


async def search_system(request: Request) -> Response:
    return await _respond(request, None, request.query_params.multi_items())
