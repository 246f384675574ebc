"""What every operation handler does around its own logic: inputs in, JSON out."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app.errors import InvalidRequest
from app.fhir.context import FhirContext, context
from app.fhir.interactions.common import path_id
from app.fhir.negotiation import output_format
from app.fhir.operations.parameters_in import OperationInputs, read_inputs
from app.fhir.responses import json_response
from app.terminology.service import Coding

CodeInputs = tuple[str | None, Coding | None, tuple[Coding, ...] | None]


async def operation_inputs(request: Request) -> tuple[FhirContext, OperationInputs]:
    ctx = context(request)
    output_format(request)  # a 406 before any work
    return ctx, await read_inputs(request, ctx.settings.max_body_bytes)


def instance_id(request: Request) -> str | None:
    """The id in ``[type]/[id]/$op``, None at type level."""
    return path_id(request) if "id" in request.path_params else None


def respond(request: Request, body: dict[str, Any]) -> Response:
    return json_response(body, fmt=output_format(request))


def one_of(**given: object) -> None:
    """At most one of several alternative inputs (``code``, ``coding``, ``codeableConcept``)."""
    names = [name for name, value in given.items() if value is not None]
    if len(names) > 1:
        raise InvalidRequest(
            f"Give only one of {', '.join(given)}; got {' and '.join(names)}",
            expression=tuple(names),
        )


def require(value: object, diagnostics: str, parameter: str) -> None:
    if value is None:
        raise InvalidRequest(diagnostics, expression=(parameter,))


def same_system(system: str | None, coding: Coding | None, parameter: str) -> None:
    """A Coding's system must be the one the operation runs on (HAPI: 400 otherwise)."""
    if system is not None and coding is not None and coding.system != system:
        raise InvalidRequest(
            f"{parameter}.system '{coding.system}' is not the code system asked about ('{system}')",
            expression=(f"{parameter}.system",),
        )


def code_inputs(inputs: OperationInputs, verb: str) -> CodeInputs:
    """The concept asked about: exactly one of ``code``, ``coding``, ``codeableConcept``."""
    code, coding = inputs.string("code"), inputs.coding("coding")
    concept = inputs.codeable_concept("codeableConcept")
    one_of(code=code, coding=coding, codeableConcept=concept)
    require(
        code or coding or concept,
        f"Give the code to {verb}: code, coding or codeableConcept",
        "code",
    )
    return code, coding, concept
