"""Turning a request body into a validated resource dict: JSON parse, type/id checks,
structural validation. Every failure is an OperationOutcome with the element's FHIRPath."""

from __future__ import annotations

from typing import Any

import orjson

from app.errors import Issue, StructureError
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
        prefix + p[len(res_type) + 1 :] if p.startswith(res_type + ".") else prefix + p
        for p in issue.expression
    )
    return Issue(issue.severity, issue.code, issue.diagnostics, paths)
