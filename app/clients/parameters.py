"""Building and reading FHIR ``Parameters``, the body and answer of every FHIR operation.

Reading is tolerant: servers add outputs the operation does not define, and a value may come in
any of several ``value[x]`` types; callers ask for the names they know and ignore the rest.
"""

from __future__ import annotations

from typing import Any

from app.clients.errors import BadGateway

VALUE_TYPES = (
    "valueBoolean",
    "valueCode",
    "valueString",
    "valueUri",
    "valueUrl",
    "valueCanonical",
    "valueInteger",
    "valueDecimal",
    "valueDateTime",
    "valueCoding",
    "valueCodeableConcept",
)


def parameter(name: str, value_type: str, value: Any) -> dict[str, Any]:
    """One ``Parameters.parameter``; ``value_type`` is ``valueCoding``, ``resource``, ..."""
    return {"name": name, value_type: value}


def parameters(*items: dict[str, Any] | None) -> dict[str, Any]:
    """A ``Parameters`` resource of the given items, skipping ``None``."""
    return {"resourceType": "Parameters", "parameter": [i for i in items if i is not None]}


def parts(container: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """Every parameter (or part) called ``name`` of a Parameters resource or of a part."""
    found = container.get("parameter") if "parameter" in container else container.get("part")
    return [p for p in found or () if isinstance(p, dict) and p.get("name") == name]


def value(param: dict[str, Any]) -> Any:
    """The ``value[x]`` (or ``resource``) of a parameter, whatever its type; None if absent."""
    for key, found in param.items():
        if key.startswith("value") or key == "resource":
            return found
    return None


def first(container: dict[str, Any], name: str) -> Any:
    """The value of the first parameter called ``name``, or None."""
    found = parts(container, name)
    return value(found[0]) if found else None


def expect_parameters(body: dict[str, Any], server: str, operation: str) -> dict[str, Any]:
    if body.get("resourceType") != "Parameters":
        raise BadGateway(
            f"{server} answered {operation} with a {body.get('resourceType')}, not Parameters"
        )
    return body
