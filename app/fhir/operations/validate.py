"""``$validate`` (R4 Resource-validate) at type and instance level, for every resource type.

The body is a ``Parameters`` (``resource``, ``mode``, ``profile``) or the bare resource;
``mode`` and ``profile`` may also come in the query string. The verdict on the resource is
always a 200 OperationOutcome, worst issues first, so a client learns everything at once;
only a request the operation cannot act on is an HTTP error: a body that is not a resource
of the URL's type (400), an unknown profile (404), a profile for another type (400),
``mode=delete`` on a resource that does not exist (404).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from app.errors import (
    InvalidRequest,
    Issue,
    StructureError,
    operation_outcome,
)
from app.fhir.context import FhirContext, context
from app.fhir.interactions.common import path_type
from app.fhir.negotiation import output_format, require_json_body
from app.fhir.operations.run import instance_id, respond
from app.fhir.operations.stored import by_id
from app.fhir.request_body import read_body
from app.fhir.resource_body import by_severity, parse_json
from app.model.resource_types import is_resource_type

MODES = ("create", "update", "delete", "profile")
_PROFILE_VALUES = ("valueCanonical", "valueUri", "valueUrl", "valueString")
_MODE_VALUES = ("valueCode", "valueString")
_OPERATION_INPUTS = frozenset({"resource", "mode", "profile"})
NO_ISSUES = "No issues found"


@dataclass(frozen=True, slots=True)
class ValidateRequest:
    resource: dict[str, Any] | None
    mode: str | None
    profile: str | None
    wrapped: bool = False
    """The resource came inside a Parameters (errors point into it)."""


async def validate(request: Request) -> Response:
    ctx = context(request)
    res_type = path_type(request)
    output_format(request)  # a 406 before any work
    res_id = instance_id(request)
    asked = await _read_request(request, ctx, res_type)
    if asked.mode == "delete":
        if res_id is None:
            raise InvalidRequest(
                "mode=delete checks whether a stored resource could be deleted: call it on "
                f"{res_type}/[id]/$validate",
                expression=("mode",),
            )
        await by_id(ctx, res_type, res_id)  # 404 or 410 wording when there is nothing to delete
        return _outcome(request, [])
    if asked.mode == "profile" and asked.profile is None:
        raise InvalidRequest("mode=profile needs the profile to check against", ("profile",))
    profiles = (_check_profile(ctx, asked.profile, res_type),) if asked.profile else ()
    resource = asked.resource
    if resource is None:
        if res_id is None:
            raise InvalidRequest(
                f"Give the {res_type} to validate: POST it, or a Parameters with a 'resource'",
                expression=("resource",),
            )
        resource = await by_id(ctx, res_type, res_id)
    mode = "update" if asked.mode == "update" else "create"  # mode=profile: content as create
    issues = await ctx.validator.validate(resource, profiles=profiles, mode=mode)
    if asked.mode == "update":
        issues = [*_update_issues(resource, res_type, res_id), *issues]
    return _outcome(request, issues)


def _outcome(request: Request, issues: list[Issue]) -> Response:
    if not issues:
        issues = [Issue("information", "informational", NO_ISSUES)]
    return respond(request, operation_outcome(by_severity(issues)))


async def _read_request(request: Request, ctx: FhirContext, res_type: str) -> ValidateRequest:
    query = _QueryInputs(request)
    if request.method in ("GET", "HEAD"):
        return ValidateRequest(None, _mode(query.get("mode"), "mode"), query.get("profile"))
    require_json_body(request)
    raw = await read_body(request, ctx.settings.max_body_bytes)
    if not raw.strip() and "id" in request.path_params:
        return ValidateRequest(None, _mode(query.get("mode"), "mode"), query.get("profile"))
    body = parse_json(raw)
    if not isinstance(body, dict):
        raise StructureError("The body must be a JSON object: a Parameters or a resource")
    if body.get("resourceType") == "Parameters" and _is_wrapper(body, res_type):
        asked = _from_parameters(body)
    else:
        asked = ValidateRequest(body, None, None)
    mode = _one_of(asked.mode, query.get("mode"), "mode")
    profile = _one_of(asked.profile, query.get("profile"), "profile")
    if asked.resource is not None:
        _check_resource_type(asked.resource, res_type, asked.wrapped)
    return ValidateRequest(asked.resource, _mode(mode, "mode"), profile)


class _QueryInputs:
    """``mode`` and ``profile`` from the query string, each at most once."""

    def __init__(self, request: Request) -> None:
        self._items = request.query_params.multi_items()

    def get(self, name: str) -> str | None:
        values = [v for k, v in self._items if k == name]
        if len(values) > 1:
            raise InvalidRequest(f"Parameter '{name}' may be given only once", expression=(name,))
        if values and not values[0]:
            raise InvalidRequest(f"Parameter '{name}' is empty", expression=(name,))
        return values[0] if values else None


def _is_wrapper(body: dict[str, Any], res_type: str) -> bool:
    """A Parameters body wraps the inputs, unless it is the Parameters being validated:
    at ``Parameters/$validate`` it wraps them when empty or naming one of them."""
    if res_type != "Parameters":
        return True
    parameters = body.get("parameter")
    return not parameters or (
        isinstance(parameters, list)
        and any(isinstance(p, dict) and p.get("name") in _OPERATION_INPUTS for p in parameters)
    )


def _from_parameters(body: dict[str, Any]) -> ValidateRequest:
    parameters = body.get("parameter", [])
    if not isinstance(parameters, list):
        raise StructureError(
            "Parameters.parameter must be an array", expression=("Parameters.parameter",)
        )
    found: dict[str, tuple[int, dict[str, Any]]] = {}
    for index, parameter in enumerate(parameters):
        where = f"Parameters.parameter[{index}]"
        if not isinstance(parameter, dict) or not isinstance(parameter.get("name"), str):
            raise StructureError(f"{where} must be an object with a name", expression=(where,))
        name = parameter["name"]
        if name in _OPERATION_INPUTS:
            if name in found:
                raise InvalidRequest(
                    f"Parameter '{name}' may be given only once",
                    expression=(f"Parameters.parameter[{found[name][0]}]", where),
                )
            found[name] = (index, parameter)
    resource = None
    if "resource" in found:
        index, parameter = found["resource"]
        resource = parameter.get("resource")
        if not isinstance(resource, dict):
            raise StructureError(
                "Parameter 'resource' must carry the resource to validate in 'resource'",
                expression=(f"Parameters.parameter[{index}].resource",),
            )
    return ValidateRequest(
        resource,
        _string(found.get("mode"), "mode", _MODE_VALUES),
        _string(found.get("profile"), "profile", _PROFILE_VALUES),
        wrapped=True,
    )


def _string(
    found: tuple[int, dict[str, Any]] | None, name: str, keys: tuple[str, ...]
) -> str | None:
    if found is None:
        return None
    index, parameter = found
    for key in keys:
        value = parameter.get(key)
        if isinstance(value, str) and value:
            return value
    raise InvalidRequest(
        f"Parameter '{name}' must have a non-empty {' or '.join(keys[:2])}",
        expression=(f"Parameters.parameter[{index}].value[x]",),
    )


def _one_of(in_body: str | None, in_query: str | None, name: str) -> str | None:
    if in_body is not None and in_query is not None and in_body != in_query:
        raise InvalidRequest(
            f"'{name}' is given in both the body ('{in_body}') and the URL ('{in_query}')",
            expression=(name,),
        )
    return in_body or in_query


def _mode(value: str | None, where: str) -> str | None:
    if value is not None and value not in MODES:
        raise InvalidRequest(
            f"mode '{value}' is not one of {', '.join(MODES)}", expression=(where,)
        )
    return value


def _check_resource_type(resource: dict[str, Any], res_type: str, wrapped: bool) -> None:
    """What cannot be validated at all is a 400: no resource type, or not this URL's."""
    kind = resource.get("resourceType")
    where = "Parameters.parameter.where(name = 'resource').resource" if wrapped else res_type
    if not isinstance(kind, str) or not kind:
        raise StructureError("The resource has no resourceType", expression=(where,))
    if not is_resource_type(kind):
        raise StructureError(f"'{kind}' is not a FHIR R4 resource type", expression=(where,))
    if kind != res_type:
        raise StructureError(
            f"The resource is a {kind}, but this is {res_type}/$validate", expression=(where,)
        )


def _check_profile(ctx: FhirContext, url: str, res_type: str) -> str:
    """The profile must be a StructureDefinition we hold, constraining this type."""
    known = ctx.validator.registry.get(url) is not None
    if not known and (url in ctx.terminology_urls or url.partition("|")[0] in ctx.terminology_urls):
        raise InvalidRequest(
            f"'{url}' is a terminology resource (CodeSystem, ValueSet or ConceptMap), "
            "not a StructureDefinition",
            expression=("profile",),
        )
    ctx.validator.resolve(url, res_type)  # 404 unknown, 400 for another type or an extension
    return url


def _update_issues(resource: dict[str, Any], res_type: str, res_id: str | None) -> list[Issue]:
    """mode=update: the resource must carry the id it would be stored under."""
    body_id = resource.get("id")
    where = (f"{res_type}.id",)
    if body_id is None:
        return [Issue("error", "required", "An update needs the resource id in the body", where)]
    if res_id is not None and body_id != res_id:
        return [
            Issue(
                "error",
                "invalid",
                f"The id in the body ('{body_id}') differs from the id in the URL ('{res_id}')",
                where,
            )
        ]
    return []
