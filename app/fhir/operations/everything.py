"""``Patient/{id}/$everything`` (R4 Patient-everything): one patient's whole record.

The answer is a searchset Bundle: the Patient, every resource in its compartment (each type
found through the compartment's reference parameters, the same SQL as
``Patient/{id}/Observation``), then, as ``include`` entries, what those resources reference
outside the compartment (Organizations, Practitioners, Locations). Every type goes through
the same confinement as a search (``visibility.confine``), so a token sees only what its
scopes allow: types it may not search are left out, not refused, as SMART expects of a
server that filters. AuditEvents are left out unless ``_type`` names them (each access to the
patient writes one; they are the trail, not the record).

Inputs: ``_type`` (types to return), ``_since`` (changed at or after), ``start``/``end``
(care dates: applied to types with a ``date`` search parameter; other types are not
filtered by them), ``_count`` (page size) and ``_offset`` (our paging cursor; the order is
fixed: type, then id, so a page link stays meaningful while the record does not change).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from app.auth import policy, visibility
from app.errors import InvalidRequest, Issue
from app.fhir.bundles import bundle, match_entry, outcome_entry
from app.fhir.context import FhirContext, base_url, context
from app.fhir.negotiation import output_format
from app.fhir.operations.parameters_in import OperationInputs, read_inputs
from app.fhir.operations.run import instance_id
from app.fhir.operations.stored import by_id
from app.fhir.responses import fhir_response
from app.search import sql
from app.search.compartments import Compartment, compartment_params
from app.search.dates import parse_range
from app.search.include import INCLUDE_LIMIT, IncludeSpec, included
from app.search.parameters import parameters_for
from app.search.request import SearchRequest, parse_search
from app.storage.database import Connection

DEFINITION: Final = "http://hl7.org/fhir/OperationDefinition/Patient-everything"
EXPLICIT_ONLY: Final = frozenset({"AuditEvent"})
_EVERY_REFERENCE: Final = (IncludeSpec(False, False, None, None, None),)
_FETCH: Final = 500

Key = tuple[str, str]


async def everything(request: Request) -> Response:
    ctx = context(request)
    fmt = output_format(request)  # a 406 before any work
    patient_id = instance_id(request)
    if patient_id is None:
        raise InvalidRequest(
            "$everything runs on one patient here: call Patient/[id]/$everything",
            expression=("Patient",),
        )
    inputs = await read_inputs(request, ctx.settings.max_body_bytes)
    asked = _Asked.read(inputs, ctx)
    await by_id(ctx, "Patient", patient_id)  # 404 for unknown, deleted or out of scope
    base = base_url(request)
    async with ctx.db.read() as conn:
        keys = await _record(conn, ctx, patient_id, asked)
        page = keys[asked.offset : asked.offset + asked.count]
        entries = [
            match_entry(base, res_type, res_id, content)
            for res_type, res_id, content in await _contents(conn, page)
        ]
        extra, truncated = await included(conn, _EVERY_REFERENCE, page)
        everyone = set(keys)
        extra = [row for row in extra if (row[0], row[1]) not in everyone]
        seen = await visibility.visible(conn, extra)
    for res_type, res_id, content in extra:
        if (res_type, res_id) in seen:
            entry = match_entry(base, res_type, res_id, content)
            entries.append({**entry, "search": {"mode": "include"}})
    if truncated:
        text = f"Referenced resources were cut short at {INCLUDE_LIMIT} for this page"
        entries.append(outcome_entry([Issue("warning", "too-costly", text, ("_count",))]))
    links = _links(f"{base}/Patient/{patient_id}/$everything", asked, len(keys))
    body = bundle("searchset", entries, now=ctx.now(), links=links, total=len(keys))
    return fhir_response(body, fmt=fmt)


@dataclass(frozen=True, slots=True)
class _Asked:
    """The inputs, checked: a bad one is a 400 naming it, before anything is read."""

    types: tuple[str, ...]
    since: str | None
    start: str | None
    end: str | None
    count: int
    offset: int

    @classmethod
    def read(cls, inputs: OperationInputs, ctx: FhirContext) -> _Asked:
        types: list[str] = []
        for value in inputs.strings("_type"):
            for name in value.split(","):
                if name.strip() not in ctx.types:
                    raise InvalidRequest(
                        f"Unknown resource type '{name.strip()}' in _type", expression=("_type",)
                    )
                types.append(name.strip())
        since, start, end = (_date(inputs, name) for name in ("_since", "start", "end"))
        count = inputs.integer("_count")
        count = ctx.settings.default_page_size if count is None else count
        if count < 1:
            raise InvalidRequest("_count must be at least 1", expression=("_count",))
        offset = inputs.integer("_offset") or 0
        return cls(
            types=tuple(dict.fromkeys(types)),
            since=since,
            start=start,
            end=end,
            count=min(count, ctx.settings.max_page_size),
            offset=offset,
        )

    def echo(self) -> list[tuple[str, str]]:
        pairs = [("_type", ",".join(self.types))] if self.types else []
        pairs += [(n, v) for n, v in (("_since", self.since), ("start", self.start)) if v]
        pairs += [("end", self.end)] if self.end else []
        return [*pairs, ("_count", str(self.count))]


def _date(inputs: OperationInputs, name: str) -> str | None:
    value = inputs.string(name)
    if value is not None:
        try:
            parse_range(value)
        except ValueError as exc:
            raise InvalidRequest(f"{name}: {exc}", expression=(name,)) from None
    return value


def _member_types(ctx: FhirContext, asked: _Asked) -> list[str]:
    """The compartment's types this call covers, in a fixed order."""
    wanted = set(asked.types)
    found = []
    for res_type in sorted(ctx.types):
        if res_type == "Patient" or not compartment_params("Patient", res_type):
            continue
        if wanted and res_type not in wanted:
            continue
        if not wanted and res_type in EXPLICIT_ONLY:
            continue
        if policy.allowed(res_type, "s") is None:
            continue  # not in the token's scopes: left out, as a filtering server does
        found.append(res_type)
    return found


async def _record(conn: Connection, ctx: FhirContext, patient_id: str, asked: _Asked) -> list[Key]:
    """Every (type, id) of the record, the Patient first; capped like a Bundle."""
    limit = ctx.settings.max_bundle_entries
    keys: list[Key] = []
    if not asked.types or "Patient" in asked.types:
        keys.append(("Patient", patient_id))
    for res_type in _member_types(ctx, asked):
        search = _search(ctx, res_type, patient_id, asked, limit)
        confined = visibility.confine(search)
        if confined.empty:
            continue
        ids = await sql.find_ids(conn, search, limit=limit + 1)
        if confined.post_filters:
            kept = await visibility.matching(conn, res_type, ids, confined.post_filters)
            ids = [i for i in ids if i in kept]
        keys.extend((res_type, i) for i in sorted(ids))
        if len(keys) > limit:
            raise InvalidRequest(
                f"Patient/{patient_id} has more than {limit} resources of the types asked "
                "for; narrow the call with _type or _since",
                expression=("_type",),
                issue_code="too-costly",
            )
    return keys


def _search(
    ctx: FhirContext, res_type: str, patient_id: str, asked: _Asked, limit: int
) -> SearchRequest:
    pairs: list[tuple[str, str]] = []
    if asked.since:
        pairs.append(("_lastUpdated", f"ge{asked.since}"))
    date = parameters_for(res_type).get("date")
    if date is not None and date.type == "date":
        pairs += [("date", f"ge{asked.start}")] if asked.start else []
        pairs += [("date", f"le{asked.end}")] if asked.end else []
    search = parse_search(
        res_type, pairs, default_count=limit + 1, max_count=limit + 1, known_types=ctx.types
    )
    search.compartment = Compartment("Patient", patient_id, compartment_params("Patient", res_type))
    return search


async def _contents(conn: Connection, keys: list[Key]) -> list[tuple[str, str, bytes]]:
    """The current content of ``keys``, in their order (one query per type and 500 ids)."""
    by_type: dict[str, list[str]] = {}
    for res_type, res_id in keys:
        by_type.setdefault(res_type, []).append(res_id)
    found: dict[Key, bytes] = {}
    for res_type, ids in by_type.items():
        for start in range(0, len(ids), _FETCH):
            chunk = ids[start : start + _FETCH]
            marks = ", ".join(f"${n + 2}" for n in range(len(chunk)))
            rows = await conn.fetch(
                "SELECT res_id, content FROM resource WHERE res_type = $1 "
                f"AND res_id IN ({marks}) AND NOT deleted",
                res_type,
                *chunk,
            )
            found.update(((res_type, r[0]), bytes(r[1])) for r in rows)
    return [(t, i, found[(t, i)]) for t, i in keys if (t, i) in found]


def _links(url: str, asked: _Asked, total: int) -> list[tuple[str, str]]:
    pairs = asked.echo()

    def at(offset: int) -> str:
        return f"{url}?{urlencode([*pairs, ('_offset', str(offset))] if offset else pairs)}"

    links = [("self", at(asked.offset))]
    if asked.offset + asked.count < total:
        links.append(("next", at(asked.offset + asked.count)))
    if asked.offset > 0:
        links.append(("previous", at(max(0, asked.offset - asked.count))))
    return links
