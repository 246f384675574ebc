"""CodeSystem/$lookup, CodeSystem/$validate-code and CodeSystem/$subsumes, type and instance."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app.fhir.context import FhirContext
from app.fhir.operations import stored
from app.fhir.operations.parameters_out import (
    lookup_parameters,
    subsumes_parameters,
    validate_code_parameters,
)
from app.fhir.operations.run import (
    code_inputs,
    instance_id,
    one_of,
    operation_inputs,
    require,
    respond,
    same_system,
)
from app.terminology.service import LookupRequest, SubsumesRequest, ValidateCodeRequest

CodeSystemTarget = tuple[str | None, dict[str, Any] | None]
"""The system url to ask the service about, or a stored CodeSystem to evaluate inline."""


async def _target(
    ctx: FhirContext, request: Request, system: str | None, version: str | None, parameter: str
) -> CodeSystemTarget:
    res_id = instance_id(request)
    if res_id is not None:
        resource = await stored.by_id(ctx, "CodeSystem", res_id)
        if stored.held(ctx, resource):
            return resource["url"], None
        return None, resource
    require(system, f"Name the code system: {parameter} is required", parameter)
    assert system is not None
    if stored.canonical(system, version) in ctx.terminology_urls:
        return system, None
    found = await stored.by_url(ctx, "CodeSystem", system, version, parameter=parameter)
    if found is not None:
        return None, found
    return system, None  # the service: a 404 naming it, or a remote server


def _instance_url(request: Request, target: CodeSystemTarget) -> str | None:
    """At instance level, the url a given Coding's system must match."""
    if instance_id(request) is None:
        return None
    url, resource = target
    found = url or (resource or {}).get("url")
    return found if isinstance(found, str) else None


async def lookup(request: Request) -> Response:
    ctx, inputs = await operation_inputs(request)
    code, coding = inputs.string("code"), inputs.coding("coding")
    one_of(code=code, coding=coding)
    require(code or coding, "Give the code to look up: code (with system) or coding", "code")
    system = inputs.string("system") or (coding.system if coding else None)
    same_system(system, coding, "coding")
    version = inputs.string("version") or (coding.version if coding else None)
    target = await _target(ctx, request, system, version, "system")
    same_system(_instance_url(request, target), coding, "coding")
    result = await ctx.terminology.lookup(
        LookupRequest(
            code=code,
            system=target[0],
            version=version,
            coding=coding,
            code_system=target[1],
            properties=inputs.strings("property"),
        )
    )
    return respond(request, lookup_parameters(result))


async def validate_code(request: Request) -> Response:
    ctx, inputs = await operation_inputs(request)
    code, coding, concept = code_inputs(inputs, "check")
    inline = inputs.resource("codeSystem", "CodeSystem")
    system = inputs.string("url") or inputs.string("system")
    system = system or (coding.system if coding else None)
    same_system(system, coding, "coding")
    version = inputs.string("version")
    target: CodeSystemTarget = (None, inline)
    if inline is None:
        target = await _target(ctx, request, system, version, "url")
    same_system(_instance_url(request, target), coding, "coding")
    result = await ctx.terminology.validate_code_in_code_system(
        ValidateCodeRequest(
            system=target[0],
            code_system=target[1],
            code=code,
            system_version=version,
            display=inputs.string("display"),
            coding=coding,
            codeable_concept=concept,
        )
    )
    return respond(request, validate_code_parameters(result))


async def subsumes(request: Request) -> Response:
    ctx, inputs = await operation_inputs(request)
    code_a, coding_a = inputs.string("codeA"), inputs.coding("codingA")
    code_b, coding_b = inputs.string("codeB"), inputs.coding("codingB")
    one_of(codeA=code_a, codingA=coding_a)
    one_of(codeB=code_b, codingB=coding_b)
    require(code_a or coding_a, "codeA (or codingA) is required", "codeA")
    require(code_b or coding_b, "codeB (or codingB) is required", "codeB")
    given = next((c.system for c in (coding_a, coding_b) if c is not None), None)
    system = inputs.string("system") or given
    same_system(system, coding_a, "codingA")
    same_system(system, coding_b, "codingB")
    version = inputs.string("version")
    target = await _target(ctx, request, system, version, "system")
    url = _instance_url(request, target)
    same_system(url, coding_a, "codingA")
    same_system(url, coding_b, "codingB")
    outcome = await ctx.terminology.subsumes(
        SubsumesRequest(
            system=target[0],
            code_a=code_a,
            code_b=code_b,
            coding_a=coding_a,
            coding_b=coding_b,
            version=version,
            code_system=target[1],
        )
    )
    return respond(request, subsumes_parameters(outcome))
