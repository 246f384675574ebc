"""GET /metadata: the CapabilityStatement, generated from the route table and the registries."""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from app import __version__
from app.auth.discovery import security_section
from app.fhir.context import base_url, context
from app.fhir.negotiation import output_format
from app.fhir.responses import fhir_response
from app.search.param_meta import targets
from app.search.parameters import parameters_for

_TYPE_LEVEL = {
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "create",
    "search-type",
}
_DATE = "2026-11-26"


def _includes(res_type: str) -> list[str]:
    """`_include` values this type accepts: `*` and every reference parameter."""
    params = parameters_for(res_type)
    refs = sorted(p.code for p in params.values() if p.type == "reference")
    return ["*", *(f"{res_type}:{code}" for code in refs)]


@cache
def _revincludes(types: frozenset[str]) -> dict[str, list[str]]:
    """`_revinclude` values per target type: every reference parameter that can point at it."""
    found: dict[str, set[str]] = {t: set() for t in types}
    for source in types:
        for param in parameters_for(source).values():
            if param.type != "reference":
                continue
            for target in targets(param) or tuple(types):
                if target in found:
                    found[target].add(f"{source}:{param.code}")
    return {t: ["*", *sorted(v)] for t, v in found.items()}


def _resource(res_type: str, codes: list[str], types: frozenset[str]) -> dict[str, Any]:
    from app.fhir.router import operations_of

    params = parameters_for(res_type)
    resource: dict[str, Any] = {
        "type": res_type,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{res_type}",
        "interaction": [{"code": c} for c in codes if c in _TYPE_LEVEL],
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": True,
        "conditionalCreate": "conditional-create" in codes,
        "conditionalRead": "not-match",
        "conditionalUpdate": "conditional-update" in codes,
        "conditionalDelete": "single" if "conditional-delete" in codes else "not-supported",
        "searchParam": [
            {"name": p.code, "definition": p.url, "type": p.type}
            for p in sorted(params.values(), key=lambda p: p.code)
        ],
        "searchInclude": _includes(res_type),
        "searchRevInclude": _revincludes(types)[res_type],
    }
    operations = operations_of(res_type)
    if operations:
        resource["operation"] = [
            {"name": op.name, "definition": op.definition} for op in operations
        ]
    return resource


@lru_cache(maxsize=8)
def capability_statement(
    base: str, max_entries: int, types: frozenset[str], security: bytes | None = None
) -> bytes:
    """``security``: the JSON of ``rest.security`` when access control is on (None: off)."""
    from app.fhir.router import interaction_codes

    codes = interaction_codes("type") + interaction_codes("instance")
    statement = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": _DATE,
        "publisher": "mitral-fhir",
        "kind": "instance",
        "software": {"name": "mitral-fhir", "version": __version__},
        "implementation": {
            "description": "mitral-fhir regional mitral valve network FHIR R4 service",
            "url": base,
        },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json", "application/json"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [
            {
                "mode": "server",
                "documentation": (
                    f"Transactions and batches accept up to {max_entries} entries. "
                    "Search date values without an offset are read as UTC."
                ),
                "resource": [_resource(t, codes, types) for t in sorted(types)],
                "interaction": [
                    {"code": c}
                    for c in interaction_codes("system")
                    if c in ("transaction", "batch", "search-system", "history-system")
                ],
                "searchParam": [
                    {"name": p.code, "definition": p.url, "type": p.type}
                    for p in parameters_for("Resource").values()
                ],
                "compartment": ["http://hl7.org/fhir/CompartmentDefinition/patient"],
            }
        ],
    }
    rest = statement["rest"][0]  # type: ignore[index]
    if security is not None:
        rest["security"] = orjson.loads(security)
    else:
        rest["documentation"] += " Access control is OFF on this server (demo): no token needed."
    return orjson.dumps(statement)


async def metadata(request: Request) -> Response:
    ctx = context(request)
    base = base_url(request)
    settings = ctx.settings
    security = orjson.dumps(security_section(base, settings)) if settings.access_control else None
    body = capability_statement(base, settings.max_bundle_entries, ctx.types, security)
    return fhir_response(body, fmt=output_format(request))
