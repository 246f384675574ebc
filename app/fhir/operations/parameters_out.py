"""Terminology results as FHIR ``Parameters`` (the R4 OperationDefinitions' output names)."""

from __future__ import annotations

from typing import Any

from app.errors import operation_outcome
from app.terminology.service import (
    Coding,
    Designation,
    LookupResult,
    Property,
    SubsumesOutcome,
    TranslateResult,
    ValidateCodeResult,
)

_VALUE_KEYS = {
    "code": "valueCode",
    "Coding": "valueCoding",
    "string": "valueString",
    "integer": "valueInteger",
    "boolean": "valueBoolean",
    "dateTime": "valueDateTime",
    "decimal": "valueDecimal",
}


def _parameters(parameters: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": parameters}


def coding_json(coding: Coding) -> dict[str, Any]:
    out: dict[str, Any] = {"system": coding.system}
    if coding.version is not None:
        out["version"] = coding.version
    out["code"] = coding.code
    if coding.display is not None:
        out["display"] = coding.display
    return out


def _designation(designation: Designation) -> dict[str, Any]:
    parts: list[dict[str, Any]] = []
    if designation.language:
        parts.append({"name": "language", "valueCode": designation.language})
    if designation.use is not None:
        parts.append({"name": "use", "valueCoding": coding_json(designation.use)})
    parts.append({"name": "value", "valueString": designation.value})
    return {"name": "designation", "part": parts}


def _property(prop: Property) -> dict[str, Any]:
    value = coding_json(prop.value) if isinstance(prop.value, Coding) else prop.value
    return {
        "name": "property",
        "part": [
            {"name": "code", "valueCode": prop.code},
            {"name": "value", _VALUE_KEYS[prop.type]: value},
        ],
    }


def lookup_parameters(result: LookupResult) -> dict[str, Any]:
    out: list[dict[str, Any]] = [{"name": "name", "valueString": result.name}]
    if result.version is not None:
        out.append({"name": "version", "valueString": result.version})
    out.append({"name": "display", "valueString": result.display})
    out.append({"name": "abstract", "valueBoolean": result.abstract})
    out.extend(_designation(d) for d in result.designations)
    out.extend(_property(p) for p in result.properties)
    return _parameters(out)


def validate_code_parameters(result: ValidateCodeResult) -> dict[str, Any]:
    out: list[dict[str, Any]] = [{"name": "result", "valueBoolean": result.result}]
    if result.message is not None:
        out.append({"name": "message", "valueString": result.message})
    if result.display is not None:
        out.append({"name": "display", "valueString": result.display})
    if result.issues:
        out.append({"name": "issues", "resource": operation_outcome(result.issues)})
    return _parameters(out)


def translate_parameters(result: TranslateResult) -> dict[str, Any]:
    out: list[dict[str, Any]] = [{"name": "result", "valueBoolean": result.result}]
    if result.message is not None:
        out.append({"name": "message", "valueString": result.message})
    for match in result.matches:
        parts: list[dict[str, Any]] = [{"name": "equivalence", "valueCode": match.equivalence}]
        if match.concept is not None:
            parts.append({"name": "concept", "valueCoding": coding_json(match.concept)})
        parts.append({"name": "source", "valueUri": match.source})
        out.append({"name": "match", "part": parts})
    return _parameters(out)


def subsumes_parameters(outcome: SubsumesOutcome) -> dict[str, Any]:
    return _parameters([{"name": "outcome", "valueCode": outcome}])
