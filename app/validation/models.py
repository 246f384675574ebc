"""The one door to `fhir.resources` (R4B pydantic models): parse a dict, get FHIR issues back.

The project rule is that structure goes through the fhir.resources models, but the package
only has R4B (4.3.0) models on pydantic v2, and R4B is not R4: 18 R4 resource types do not
exist in it (MedicinalProduct*, Substance* specifications, EffectEvidenceSynthesis, ...) and
some elements differ. So the write path's check of record is the compiled R4 walk in
`structural.py` (ADR 0004); this facade exists for code that needs a typed model object and
as a cross-check in tests. Keeping every import of the package here means an R4 model
release, or dropping the dependency, touches one module.
"""

from __future__ import annotations

from typing import Any, Final

from fhir.resources.R4B import get_fhir_model_class  # noqa: TID251
from fhir.resources.R4B.resource import Resource  # noqa: TID251
from pydantic import ValidationError

from app.errors import Issue
from app.validation.definitions import TypeDef, load_definitions

__all__ = ["parse_r4b", "r4b_model_class", "validate_with_r4b"]

_STRUCTURE_ERRORS: Final = frozenset(
    {
        "extra_forbidden",
        "string_type",
        "int_type",
        "int_parsing",
        "float_type",
        "float_parsing",
        "decimal_type",
        "decimal_parsing",
        "bool_type",
        "bool_parsing",
        "list_type",
        "dict_type",
        "model_type",
        "model_attributes_type",
        "none_required",
        "too_long",
        "too_short",
    }
)


def r4b_model_class(resource_type: str) -> type[Resource] | None:
    """The R4B model class for a resource type, or None if R4B has no such resource."""
    try:
        cls = get_fhir_model_class(resource_type)
    except (KeyError, ValueError):
        return None
    if not (isinstance(cls, type) and issubclass(cls, Resource)):
        return None
    return cls


def parse_r4b(resource: dict[str, Any]) -> Resource:
    """A typed R4B model of `resource`; raises pydantic's ValidationError if it does not fit."""
    cls = r4b_model_class(str(resource.get("resourceType")))
    if cls is None:
        raise ValueError(f"R4B has no resource type {resource.get('resourceType')!r}")
    return cls.model_validate(resource)


def validate_with_r4b(resource: dict[str, Any]) -> list[Issue]:
    """The R4B models' verdict on `resource`, as issues located in FHIRPath."""
    resource_type = resource.get("resourceType")
    cls = r4b_model_class(resource_type) if isinstance(resource_type, str) else None
    if cls is None:
        label = resource_type if isinstance(resource_type, str) else "Resource"
        return [
            Issue(
                "error",
                "not-supported",
                f"The R4B models have no resource type {resource_type!r}",
                (label,),
            )
        ]
    try:
        cls.model_validate(resource)
    except ValidationError as exc:
        return [_issue(str(resource_type), err) for err in exc.errors()]
    return []


def _issue(resource_type: str, err: Any) -> Issue:
    kind = str(err.get("type", ""))
    path = fhirpath_of(resource_type, tuple(err.get("loc", ())))
    if kind == "extra_forbidden":
        code, text = "structure", f"Unknown element at {path}"
    elif kind == "missing" or kind.endswith(".missing"):
        code, text = "required", f"{path}: minimum required = 1, but only found 0"
    elif kind in _STRUCTURE_ERRORS:
        code, text = "structure", f"{path}: {err.get('msg', kind)}"
    elif kind == "value_error":
        code, text = "value", f"{path}: {err.get('msg', kind)}"
    else:
        code, text = "invalid", f"{path}: {err.get('msg', kind)}"
    return Issue("error", code, text, (path,))


def fhirpath_of(resource_type: str, loc: tuple[int | str, ...]) -> str:
    """Turn a pydantic error location into the FHIRPath style `structural.py` reports."""
    defs = load_definitions()
    typedef: TypeDef | None = defs.resource(resource_type)
    path = resource_type
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        name = part[1:] if part.startswith("_") else part
        el = typedef.elements.get(name) if typedef is not None else None
        if el is None:
            path += f".{part}"
            typedef = None
            continue
        path += f".{el.step}"
        typedef = el.complex if part == name else defs.types["Element"]
    return path
