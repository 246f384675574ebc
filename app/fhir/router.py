"""The FHIR interaction table, read top to bottom like the RESTful API page of the spec.

The dispatcher (app.fhir.dispatch) and the CapabilityStatement are both built from this
table, so what we claim and what we serve cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

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
from app.fhir.operations import (
    code_system,
    concept_map,
    everything,
    measure,
    pathway,
    validate,
    value_set,
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
    operation: str = ""
    """The operation's name (without ``$``) for operation routes."""
    code: str = field(init=False)
    """The first interaction code, or ``operation``: how security and the audit name it."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "code", self.codes[0] if self.codes else "operation")


@dataclass(frozen=True, slots=True)
class Operation:
    """A FHIR operation on one resource type, or on every type (``res_type`` None), served by
    GET and POST at type and instance level (``/ValueSet/$expand``, ``/{type}/{id}/$validate``)."""

    res_type: str | None
    name: str
    """Without the ``$``."""
    definition: str
    """The canonical url of its OperationDefinition (CapabilityStatement vocabulary)."""
    handler: Handler

    def routes(self) -> tuple[Route, ...]:
        res_type = self.res_type or "{type}"
        return tuple(
            Route((), level, method, path, self.handler, self.name)
            for level, path in (
                ("type", f"/{res_type}/${self.name}"),
                ("instance", f"/{res_type}/{{id}}/${self.name}"),
            )
            for method in ("GET", "POST")
        )


_R4 = "http://hl7.org/fhir/OperationDefinition/"
OPERATIONS: tuple[Operation, ...] = (
    Operation("CodeSystem", "lookup", _R4 + "CodeSystem-lookup", code_system.lookup),
    Operation(
        "CodeSystem", "validate-code", _R4 + "CodeSystem-validate-code", code_system.validate_code
    ),
    Operation("CodeSystem", "subsumes", _R4 + "CodeSystem-subsumes", code_system.subsumes),
    Operation("ValueSet", "expand", _R4 + "ValueSet-expand", value_set.expand),
    Operation("ValueSet", "validate-code", _R4 + "ValueSet-validate-code", value_set.validate_code),
    Operation("ConceptMap", "translate", _R4 + "ConceptMap-translate", concept_map.translate),
    Operation(None, "validate", _R4 + "Resource-validate", validate.validate),
    Operation("Patient", "pathway", pathway.DEFINITION, pathway.pathway),
    Operation("Patient", "everything", everything.DEFINITION, everything.everything),
    Operation(
        "Measure", "evaluate-measure", _R4 + "Measure-evaluate-measure", measure.evaluate_measure
    ),
)


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
    *(route for operation in OPERATIONS for route in operation.routes()),
)


def operations_of(res_type: str) -> list[Operation]:
    return [op for op in OPERATIONS if op.res_type in (res_type, None)]


def interaction_codes(level: str) -> list[str]:
    codes: list[str] = []
    for route in ROUTES:
        if route.level == level:
            codes.extend(c for c in route.codes if c not in codes)
    return codes
