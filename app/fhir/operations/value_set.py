"""ValueSet/$expand and ValueSet/$validate-code, type and instance level."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app.fhir.context import FhirContext
from app.fhir.operations import stored
from app.fhir.operations.parameters_in import OperationInputs
from app.fhir.operations.parameters_out import validate_code_parameters
from app.fhir.operations.run import (
    code_inputs,
    instance_id,
    one_of,
    operation_inputs,
    require,
    respond,
)
from app.terminology.service import ExpandRequest, ValidateCodeRequest


@dataclass(frozen=True, slots=True)
class ValueSetTarget:
    """The ValueSet to run on: a canonical url the service holds, or a resource to evaluate."""

    url: str | None = None
    version: str | None = None
    resource: dict[str, Any] | None = None

    @property
    def canonical(self) -> str | None:
        return None if self.url is None else stored.canonical(self.url, self.version)


async def _target(ctx: FhirContext, request: Request, inputs: OperationInputs) -> ValueSetTarget:
    res_id = instance_id(request)
    if res_id is not None:
        resource = await stored.by_id(ctx, "ValueSet", res_id)
        if stored.held(ctx, resource):
            return ValueSetTarget(resource["url"], resource.get("version"))
        return ValueSetTarget(resource=resource)
    inline = inputs.resource("valueSet", "ValueSet")
    given = inputs.string("url")
    one_of(url=given, valueSet=inline)
    if inline is not None:
        return ValueSetTarget(resource=inline)
    require(given, "Name the ValueSet: url is required (or valueSet in a POST)", "url")
    assert given is not None
    return await by_url(ctx, given, inputs.string("valueSetVersion"), parameter="url")


async def by_url(
    ctx: FhirContext, given: str, version: str | None, *, parameter: str
) -> ValueSetTarget:
    """The local content's ValueSet with this canonical, else a stored one, else the url
    itself for the service to answer (a 404 naming it, or a remote server)."""
    url, version = stored.split_canonical(given, version)
    if stored.canonical(url, version) in ctx.terminology_urls:
        return ValueSetTarget(url, version)
    found = await stored.by_url(ctx, "ValueSet", url, version, parameter=parameter)
    if found is not None:
        return ValueSetTarget(resource=found)
    return ValueSetTarget(url, version)


async def expand(request: Request) -> Response:
    ctx, inputs = await operation_inputs(request)
    target = await _target(ctx, request, inputs)
    expansion = await ctx.terminology.expand(
        ExpandRequest(
            url=target.url,
            value_set=target.resource,
            version=target.version,
            filter=inputs.string("filter"),
            count=inputs.integer("count"),
            offset=inputs.integer("offset") or 0,
            active_only=bool(inputs.boolean("activeOnly")),
            include_designations=bool(inputs.boolean("includeDesignations")),
        )
    )
    return respond(request, expansion)


async def validate_code(request: Request) -> Response:
    ctx, inputs = await operation_inputs(request)
    code, coding, concept = code_inputs(inputs, "check")
    system = inputs.string("system")
    if code is not None:
        require(system, "system is required with code", "system")
    target = await _target(ctx, request, inputs)
    result = await ctx.terminology.validate_code_in_value_set(
        ValidateCodeRequest(
            url=target.canonical,
            value_set=target.resource,
            code=code,
            system=system,
            system_version=inputs.string("systemVersion"),
            display=inputs.string("display"),
            coding=coding,
            codeable_concept=concept,
        )
    )
    return respond(request, validate_code_parameters(result))
