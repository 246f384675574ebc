"""Applying a Decision to what the store returns: searches confined before they run, and
resources reached any other way (read, include, history, Bundle entries) filtered after.

Searches get the compartment as a restriction in SQL, so counts and paging stay right.
Granular scope filters (``patient/Observation.rs?category=...``) are added as search clauses
when one set applies; several sets (one per scope) are ORed by checking the page's ids
against each set.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import cast

import orjson

from app.auth import context, policy
from app.auth.policy import Decision, Filters
from app.errors import Forbidden
from app.model.resource_types import resource_types
from app.search import sql
from app.search.compartments import Compartment, compartment_params
from app.search.request import SearchRequest, parse_search
from app.storage.database import Connection, Database

_MANY = 10_000


@dataclass(frozen=True, slots=True)
class Confined:
    """A search after its restriction: ``empty`` when nothing can be visible, and the filter
    sets still to check on the page when more than one applies."""

    empty: bool = False
    post_filters: tuple[Filters, ...] = ()


def _clauses(res_type: str, pairs: Sequence[tuple[str, str]]) -> SearchRequest | None:
    parsed = parse_search(
        res_type, list(pairs), default_count=1, max_count=_MANY, known_types=resource_types()
    )
    return None if parsed.unknown else parsed


def _chained_types(search: SearchRequest) -> set[str]:
    found: set[str] = set()
    for clause in search.clauses:
        for link in clause.chain:
            found.update(link.types)
        if clause.chain:
            found.update(clause.types)
    return found


def confine(search: SearchRequest) -> Confined:
    """Restrict ``search`` to what the request's token may see (a no-op outside a request).

    Every type a chain or ``_has`` reaches needs search rights too: a filter only on the
    results would still let a caller infer values it cannot read (hapi-fhir#6065).
    """
    principal = context.current()
    if principal is None:
        return Confined()
    for res_type in sorted(_chained_types(search)):
        policy.decide(principal, res_type, "s")
    if search.res_type is None:
        return _confine_system(search)
    decision = policy.decide(principal, search.res_type, "s")
    if decision.patient is not None and not _to_compartment(search, decision.patient):
        return Confined(empty=True)
    if len(decision.filters) == 1:
        extra = _clauses(search.res_type, decision.filters[0])
        if extra is None:
            return Confined(empty=True)
        search.clauses.extend(extra.clauses)
        return Confined()
    return Confined(post_filters=decision.filters)


def _confine_system(search: SearchRequest) -> Confined:
    """``GET [base]?_type=...``: each type needs open search rights (a compartment cannot be
    applied across types in one query; patient-context apps search one type at a time)."""
    if search.types:
        require_open(search.types, "A system-level search")
    else:  # every type the token may search; none confined
        search.types = tuple(sorted(searchable(resource_types())))
        if not search.types:
            return Confined(empty=True)
    return Confined()


def searchable(types: Iterable[str]) -> list[str]:
    """Of ``types``, those the token may search, after checking none of them is confined
    (types it has no rights on at all are simply left out)."""
    principal = context.current()
    if principal is None:
        return list(types)
    found = [t for t in types if principal.grants.allows(t, "s")]
    require_open(found, "A system-level search or history")
    return found


def require_open(types: Iterable[str], what: str) -> None:
    """System-level search and history need unconfined search rights on every type."""
    principal = context.current()
    if principal is None:
        return
    for res_type in types:
        decision = policy.decide(principal, res_type, "s")
        if not decision.open:
            raise Forbidden(
                f"{what} needs unconfined search scopes for every type it covers; "
                f"{res_type} is confined by the token (ask by type instead)",
                expression=(res_type,),
            )


def _to_compartment(search: SearchRequest, patient: str) -> bool:
    assert search.res_type is not None
    found = policy.kind(search.res_type)
    if found == "shared":
        return True
    if found == "hidden":
        return False
    if search.compartment is not None and search.compartment.res_id != patient:
        return False
    if found == "self":
        extra = _clauses("Patient", [("_id", patient)])
        assert extra is not None
        search.clauses.extend(extra.clauses)
        return True
    params = compartment_params("Patient", search.res_type)
    search.compartment = Compartment("Patient", patient, params, implicit=True)
    return True


async def matching(
    conn: Connection, res_type: str, ids: Sequence[str], filters: tuple[Filters, ...]
) -> set[str]:
    """Those of ``ids`` that match at least one filter set."""
    if not filters:
        return set(ids)
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ",".join(ids[start : start + 500])
        for pairs in filters:
            search = _clauses(res_type, [("_id", chunk), *pairs])
            if search is not None:
                found.update(await sql.find_ids(conn, search, limit=_MANY))
    return found


async def visible(
    conn: Connection, items: Iterable[tuple[str, str, bytes | None]], letter: str = "r"
) -> set[tuple[str, str]]:
    """The (type, id) pairs of ``items`` (type, id, JSON content) the token may see."""
    items = list(items)
    principal = context.current()
    if principal is None:
        return {(t, i) for t, i, _ in items}
    keep: set[tuple[str, str]] = set()
    pending: dict[str, tuple[tuple[Filters, ...], list[str]]] = {}
    for res_type, res_id, content in items:
        decision = policy.allowed(res_type, letter)
        if decision is None or not _in(decision, res_type, content):
            continue
        if decision.filters:
            pending.setdefault(res_type, (decision.filters, []))[1].append(res_id)
        else:
            keep.add((res_type, res_id))
    for res_type, (filters, ids) in pending.items():
        keep.update((res_type, i) for i in await matching(conn, res_type, ids, filters))
    return keep


def _in(decision: Decision, res_type: str, content: bytes | None) -> bool:
    if decision.patient is None:
        return True
    if content is None:  # a deletion: nothing left to attribute, so not shown when confined
        return False
    return policy.in_compartment(res_type, orjson.loads(content), decision.patient)


async def can_see(
    conn: Connection | Database,
    res_type: str,
    res_id: str,
    content: bytes | None,
    letter: str = "r",
) -> bool:
    """One resource reached by id (read, vread, a Bundle GET): the letter is required (403
    without it), then the resource must be in the compartment and match the filters. Given
    the Database, a connection is opened only when filters need a query."""
    decision = policy.require(res_type, letter)
    if decision.open:
        return True
    if not _in(decision, res_type, content):
        return False
    if not decision.filters:
        return True
    if hasattr(conn, "write"):  # the Database: open a connection for the filter query
        async with cast(Database, conn).read() as opened:
            return bool(await matching(opened, res_type, [res_id], decision.filters))
    return bool(await matching(conn, res_type, [res_id], decision.filters))
