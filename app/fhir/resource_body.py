"""Turning a request body into a validated resource dict: JSON parse, type/id checks,
structural validation (400), then the write policy of its source: base rules and profiles
(422). Every failure is an OperationOutcome with the element's FHIRPath."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from app.errors import Issue, StructureError, Unprocessable
from app.fhir.context import FhirContext
from app.model import fhir_json
from app.model.resource_types import is_resource_type, is_valid_id
from app.validation.structural import validate_structure


def parse_json(body: bytes) -> Any:
    if not body.strip():
        raise StructureError("The request body is empty; a FHIR resource was expected")
    try:
        return fhir_json.loads(body)
    except ValueError as exc:  # orjson.JSONDecodeError is a ValueError
        raise StructureError(f"The request body is not valid JSON: {exc}") from exc


def check_resource(
    data: Any, *, expected_type: str | None = None, expression_prefix: str = ""
) -> dict[str, Any]:
    """Check that ``data`` is a structurally valid R4 resource; return it unchanged."""
    where = expression_prefix.rstrip(".") or None
    if not isinstance(data, dict):
        raise StructureError(
            "A FHIR resource must be a JSON object", expression=(where,) if where else ()
        )
    res_type = data.get("resourceType")
    if not isinstance(res_type, str) or not res_type:
        raise StructureError(
            "The resource has no resourceType",
            expression=(f"{expression_prefix}resourceType",) if where else (),
        )
    if not is_resource_type(res_type):
        raise StructureError(
            f"'{res_type}' is not a FHIR R4 resource type",
            expression=(f"{expression_prefix}resourceType",) if where else (),
        )
    if expected_type is not None and res_type != expected_type:
        raise StructureError(
            f"The resourceType '{res_type}' does not match the URL's type '{expected_type}'",
            expression=(f"{expression_prefix or res_type + '.'}resourceType",),
        )
    res_id = data.get("id")
    if res_id is not None and (not isinstance(res_id, str) or not is_valid_id(res_id)):
        raise StructureError(
            f"Invalid id {orjson.dumps(res_id).decode()}: 1-64 of A-Z a-z 0-9 - .",
            expression=(f"{expression_prefix or res_type + '.'}id",),
        )
    issues = validate_structure(data)
    errors = [i for i in issues if i.severity in ("error", "fatal")]
    if errors:
        if expression_prefix:
            errors = [_prefixed(i, res_type, expression_prefix) for i in errors]
        first = errors[0]
        summary = (
            first.diagnostics
            if len(errors) == 1
            else (f"{len(errors)} errors; first: {first.diagnostics}")
        )
        # Basic FHIR rules (types, cardinality, formats) are a 400, not a 422 (spec: http.html).
        raise StructureError(summary, expression=first.expression, issues=errors)
    return data


def _prefixed(issue: Issue, res_type: str, prefix: str) -> Issue:
    """Re-root an issue's paths inside a Bundle entry (Patient.x -> Bundle.entry[3].resource.x)."""
    paths = tuple(
        prefix.rstrip(".")
        if p == res_type
        else prefix + p[len(res_type) + 1 :]
        if p.startswith(res_type + ".")
        else prefix + p
        for p in issue.expression
    )
    return Issue(issue.severity, issue.code, issue.diagnostics, paths)


SEVERITY_ORDER = {"fatal": 0, "error": 1, "warning": 2, "information": 3}


def by_severity(issues: Sequence[Issue]) -> list[Issue]:
    """Worst first, keeping the validator's order within a severity (stable sort)."""
    return sorted(issues, key=lambda i: SEVERITY_ORDER.get(i.severity, 4))


def is_error(issue: Issue) -> bool:
    return issue.severity in ("fatal", "error")


async def validate_for_write(
    ctx: FhirContext, resource: dict[str, Any], source: str, *, expression_prefix: str = ""
) -> list[Issue]:
    """Apply ``source``'s write policy to a structurally checked resource.

    Raises ``Unprocessable`` (422) carrying every issue when any is an error; otherwise
    returns the warnings, which the write reports back. Information issues (must-support
    elements absent) stay with ``$validate``: a write is not the place to nag. The REST API
    writes as ``api``; ingest (issue 6) calls this with ``ingest:<centre>``.
    """
    if ctx.settings.write_level(source) == "structural":
        return []
    res_type = resource["resourceType"]
    required = ctx.settings.required_profiles_for(source, res_type)
    issues = await _profile_issues(ctx, resource, required, source)
    if expression_prefix:
        issues = [_prefixed(i, res_type, expression_prefix) for i in issues]
    errors = [i for i in issues if is_error(i)]
    if errors:
        summary = (
            errors[0].diagnostics
            if len(errors) == 1
            else f"{len(errors)} errors; first: {errors[0].diagnostics}"
        )
        raise Unprocessable(summary, expression=errors[0].expression, issues=by_severity(issues))
    return [i for i in issues if i.severity == "warning"]


async def _profile_issues(
    ctx: FhirContext, resource: dict[str, Any], required: tuple[str, ...], source: str
) -> list[Issue]:
    """The validator's verdict; with several required profiles, conforming to one suffices
    (a ServiceRequest from a centre is a referral or an intervention request)."""
    meta = resource.get("meta")
    claimed = meta.get("profile") if isinstance(meta, dict) else None
    if len(required) <= 1:
        return await ctx.validator.validate(resource, profiles=required)
    chosen = tuple(url for url in required if isinstance(claimed, list) and url in claimed)
    if chosen:
        # The resource says which of the alternatives it is: judge it by that one.
        return await ctx.validator.validate(resource, profiles=chosen)
    verdicts = [await ctx.validator.validate(resource, profiles=(url,)) for url in required]
    counts = [sum(1 for i in issues if is_error(i)) for issues in verdicts]
    best = counts.index(min(counts))
    if counts[best] == 0:
        return verdicts[best]
    res_type = resource["resourceType"]
    headline = Issue(
        "error",
        "processing",
        f"A {res_type} written by '{source}' must conform to one of {', '.join(required)}; "
        f"it conforms to none. The issues against {required[best]} follow.",
        (res_type,),
    )
    return [headline, *verdicts[best]]
