"""ConceptMap/$translate, type and instance level."""

from __future__ import annotations

from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response

from app.fhir.context import FhirContext
from app.fhir.operations import stored
from app.fhir.operations.parameters_in import OperationInputs
from app.fhir.operations.parameters_out import translate_parameters
from app.fhir.operations.run import (
    code_inputs,
    instance_id,
    one_of,
    operation_inputs,
    require,
    respond,
)
from app.terminology.service import TranslateRequest


async def translate(request: Request) -> Response:
    ctx, inputs = await operation_inputs(request)
    code, coding, concept = code_inputs(inputs, "translate")
    system = inputs.string("system")
    if code is not None:
        require(system, "system is required with code", "system")
    base = TranslateRequest(
        code=code,
        system=system,
        version=inputs.string("version"),
        coding=coding,
        codeable_concept=concept,
        source=inputs.string("source"),
        target=inputs.string("target"),
        target_system=inputs.string("targetsystem"),
        reverse=bool(inputs.boolean("reverse")),
    )
    res_id = instance_id(request)
    if res_id is not None:
        resource = await stored.by_id(ctx, "ConceptMap", res_id)
        held = stored.held(ctx, resource)
        request_for = replace(base, url=held) if held else replace(base, concept_map=resource)
    else:
        request_for = await _type_level(ctx, base, inputs)
    result = await ctx.terminology.translate(request_for)
    return respond(request, translate_parameters(result))


async def _type_level(
    ctx: FhirContext, base: TranslateRequest, inputs: OperationInputs
) -> TranslateRequest:
    inline = inputs.resource("conceptMap", "ConceptMap")
    given = inputs.string("url")
    one_of(url=given, conceptMap=inline)
    if inline is not None:
        return replace(base, concept_map=inline)
    if given is None:
        return base  # every map from the source system (to the target, if given)
    url, version = stored.split_canonical(given, inputs.string("conceptMapVersion"))
    canonical = stored.canonical(url, version)
    if canonical not in ctx.terminology_urls:
        found = await stored.by_url(ctx, "ConceptMap", url, version, parameter="url")
        if found is not None:
            return replace(base, concept_map=found)
    return replace(base, url=canonical)  # the service: a 404 naming it, or a remote server
