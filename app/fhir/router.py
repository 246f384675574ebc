"""The FHIR interaction table, read top to bottom like the RESTful API page of the spec.

The dispatcher (app.fhir.dispatch) and the CapabilityStatement are both built from this
table, so what we claim and what we serve cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from app.fhir.interactions import (
    batch,
    capabilities,
    create,
    delete,
    history,
    patch,
    read,
    search,
    update,
)

Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Route:
    codes: tuple[str, ...]
    """FHIR interaction codes this route implements (CapabilityStatement vocabulary)."""
    level: str
    method: str
    path: str
    handler: Handler


ROUTES: tuple[Route, ...] = (
    Route(("capabilities",), "system", "GET", "/metadata", capabilities.metadata),
    Route(("transaction", "batch"), "system", "POST", "", batch.batch_or_transaction),
    Route(("history-system",), "system", "GET", "/_history", history.history_system),
    Route(("search-system",), "system", "GET", "", search.search_system),
    Route(("history-type",), "type", "GET", "/{type}/_history", history.history_type),
    Route(("search-type",), "type", "POST", "/{type}/_search", search.search_type_post),
    Route(("search-type",), "type", "GET", "/{type}", search.search_type),
    Route(("create", "conditional-create"), "type", "POST", "/{type}", create.create),
    Route(("conditional-update",), "type", "PUT", "/{type}", update.conditional_update),
    Route(("conditional-patch",), "type", "PATCH", "/{type}", patch.patch),
    Route(("conditional-delete",), "type", "DELETE", "/{type}", delete.conditional_delete),
    Route(("vread",), "instance", "GET", "/{type}/{id}/_history/{vid}", read.vread),
    Route(
        ("history-instance",), "instance", "GET", "/{type}/{id}/_history", history.history_instance
    ),
    Route(("read",), "instance", "GET", "/{type}/{id}", read.read),
    Route(
        ("search-compartment",),
        "compartment",
        "GET",
        "/{type}/{id}/{target}",
        search.search_compartment,
    ),
    Route(("update",), "instance", "PUT", "/{type}/{id}", update.update),
    Route(("patch",), "instance", "PATCH", "/{type}/{id}", patch.patch),
    Route(("delete",), "instance", "DELETE", "/{type}/{id}", delete.delete),
)


def interaction_codes(level: str) -> list[str]:
    codes: list[str] = []
    for route in ROUTES:
        if route.level == level:
            codes.extend(c for c in route.codes if c not in codes)
    return codes
