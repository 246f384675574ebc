"""Structural validation of a FHIR R4 (4.0.1) JSON resource against the base specification.

`validate_structure` walks the parsed JSON once against the element table compiled from the
official R4 StructureDefinition snapshots (see `definitions.py`) and reports every problem:
unknown or abstract resource types, unknown properties, cardinality (missing required
elements, a list where at most one value is allowed, a single value where FHIR JSON needs an
array), empty arrays/objects/strings, JSON value types and lexical forms of primitives,
choice elements with more than one variant, `_element` siblings, extensions (url, one value,
ext-1), narrative XHTML and nested resources (`contained`, `Bundle.entry.resource`,
`Parameters.parameter.resource`), each checked against its own type. Profiles, terminology
bindings and FHIRPath invariants (beyond ele-1 and ext-1) are other layers' work.

Locations (`Issue.expression`) follow the HL7 Java validator, so our messages line up with
what implementers see from the reference validator:

* list items always carry their index: ``Patient.name[0].given[1]``;
* choice elements use ``ofType``: ``Observation.value.ofType(Quantity).value``;
* a nested resource is marked with a FHIRPath comment naming it, then the path continues:
  ``Bundle.entry[0].resource/*Patient/p1*/.birthDate``, ``Patient.contained[0]/*Organization/o1*/.name``
  (``null`` stands in for a missing id, as in the Java validator);
* extensions on a primitive (`_birthDate`) are reported on the primitive:
  ``Patient.birthDate.extension[0].url``.

This is the structural layer only (see ADR 0004 for why the compiled walk, not the R4B
pydantic models, is the check of record); it never raises for bad input, it returns issues.
"""

from __future__ import annotations

from typing import Any, Final

from app.errors import Issue
from app.validation.definitions import Definitions, ElementDef, TypeDef, load_definitions
from app.validation.primitives import Checker, Finding, json_kind, make_checker, show

__all__ = ["validate_structure"]

_ROOT_UNKNOWN: Final = "Resource"
# Enough for anyone to act on; stops a 50 MB bad Bundle from producing a 50 MB outcome.
MAX_ISSUES: Final = 1000


class _TooManyIssues(Exception):
    """Ends a walk that has already reported enough for anyone to act on."""


class _Walker:
    """One validation run: the definitions, per-type value checkers and the issues found."""

    __slots__ = ("checkers", "defs", "element_type", "issues")

    def __init__(self, defs: Definitions, checkers: dict[str, Checker]) -> None:
        self.defs = defs
        self.checkers = checkers
        self.element_type = defs.types["Element"]
        self.issues: list[Issue] = []

    def report(self, code: str, path: str, diagnostics: str, severity: str = "error") -> None:
        self.issues.append(Issue(severity, code, diagnostics, (path,)))
        if len(self.issues) >= MAX_ISSUES:
            raise _TooManyIssues

    def report_finding(self, finding: Finding, path: str) -> None:
        self.report(finding.code, path, f"{finding.lead} at {path}: {finding.reason}", finding.severity)

    # -- resources ---------------------------------------------------------------------

    def resource(self, resource: Any, prefix: str | None) -> None:
        where = prefix or _ROOT_UNKNOWN
        if type(resource) is not dict:
            self.report("structure", where, f"A resource must be a JSON object, got {json_kind(resource)}")
            return
        resource_type = resource.get("resourceType")
        if resource_type is None:
            self.report("required", where, "The resource has no resourceType")
            return
        if type(resource_type) is not str:
            self.report("structure", where, f"resourceType must be a string, got {json_kind(resource_type)}")
            return
        typedef = self.defs.resource(resource_type)
        if typedef is None:
            self.report("structure", where, _unknown_resource_type(resource_type, self.defs))
            return
        if prefix is None:
            path = resource_type
        else:
            rid = resource.get("id")
            path = f"{prefix}/*{resource_type}/{rid if type(rid) is str else 'null'}*/"
        self.object(resource, typedef, path, is_resource=True)

    # -- objects -------------------------------------------------------------------------

    def object(self, obj: dict[str, Any], typedef: TypeDef, path: str, is_resource: bool = False) -> None:
        elements = typedef.elements
        chosen: dict[str, str] | None = None
        for key, value in obj.items():
            el = elements.get(key)
            if el is None:
                if key[:1] == "_":
                    chosen = self.primitive_extension(obj, key, value, typedef, path, chosen)
                elif not (is_resource and key == "resourceType"):
                    self.report("structure", f"{path}.{key}", f"Unknown element '{key}' in {_type_label(typedef)}")
                continue
            if el.choice is not None:
                chosen = self.choose(el, key, path, chosen)
            if el.max == 0:
                self.report("structure", f"{path}.{el.step}", f"{path}.{el.step} is not allowed here (max 0)")
            elif el.is_array:
                self.array(obj, el, value, path)
            elif type(value) is list:
                self.report(
                    "structure", f"{path}.{el.step}", f"{path}.{el.step}: at most 1 value allowed, got a list"
                )
            else:
                self.value(el, value, f"{path}.{el.step}")
        for step, names in typedef.required:
            if not any(name in obj or f"_{name}" in obj for name in names):
                self.report("required", f"{path}.{step}", f"{path}.{step}: minimum required = 1, but only found 0")
        if typedef.name == "Extension":
            self.extension_rule(obj, chosen, path)
        elif len(obj) == 1 and "id" in obj:
            self.report("invariant", path, f"ele-1: {path} has an id but no value or children")

    def choose(self, el: ElementDef, key: str, path: str, chosen: dict[str, str] | None) -> dict[str, str]:
        assert el.choice is not None
        if chosen is None:
            chosen = {}
        other = chosen.setdefault(el.choice, key)
        if other != key:
            self.report(
                "structure",
                f"{path}.{el.choice}[x]",
                f"{path}.{el.choice}[x]: only one of its types may be present, found '{other}' and '{key}'",
            )
        return chosen

    def array(self, obj: dict[str, Any], el: ElementDef, value: Any, path: str) -> None:
        base = f"{path}.{el.step}"
        if type(value) is not list:
            self.report("structure", base, f"{base} must be a JSON array (it can repeat), got {json_kind(value)}")
            return
        if not value:
            self.report("structure", base, f"{base}: an array cannot be empty; omit the element instead")
            return
        if el.max > 1 and len(value) > el.max:
            self.report("structure", base, f"{base}: at most {el.max} values allowed, got {len(value)}")
        for index, item in enumerate(value):
            if item is None and el.primitive is not None and _has_extension_at(obj, el.name, index):
                continue
            self.value(el, item, f"{base}[{index}]")

    def value(self, el: ElementDef, value: Any, path: str) -> None:
        if value is None:
            self.report("structure", path, f"{path}: null is not allowed; omit the element instead")
            return
        if el.primitive is not None:
            finding = self.checkers[el.type_name](value)
            if finding is not None:
                self.report_finding(finding, path)
        elif el.is_resource:
            self.resource(value, path)
        elif type(value) is not dict:
            self.report("structure", path, f"{path}: expected a JSON object for {el.type_name}, got {json_kind(value)} {show(value)}")
        elif not value:
            self.report("structure", path, f"{path}: an object cannot be empty; omit the element instead")
        else:
            assert el.complex is not None
            self.object(value, el.complex, path)

    # -- primitive extensions (`_name`) and extensions ------------------------------------

    def primitive_extension(
        self,
        obj: dict[str, Any],
        key: str,
        value: Any,
        typedef: TypeDef,
        path: str,
        chosen: dict[str, str] | None,
    ) -> dict[str, str] | None:
        el = typedef.elements.get(key[1:])
        if el is None or el.primitive is None or el.primitive.name == "xhtml":
            self.report("structure", f"{path}.{key}", f"Unknown element '{key}' in {_type_label(typedef)}")
            return chosen
        if el.choice is not None:
            chosen = self.choose(el, el.name, path, chosen)
        base = f"{path}.{el.step}"
        if not el.is_array:
            self.element_object(value, base, key)
            return chosen
        if type(value) is not list:
            self.report("structure", base, f"{base}: '{key}' must be a JSON array, got {json_kind(value)}")
            return chosen
        values = obj.get(el.name)
        if type(values) is list and len(values) != len(value):
            self.report(
                "structure",
                base,
                f"{base}: '{key}' has {len(value)} items but '{el.name}' has {len(values)}; they must align",
            )
        for index, item in enumerate(value):
            if item is None:
                if not (type(values) is list and index < len(values) and values[index] is not None):
                    self.report("structure", f"{base}[{index}]", f"{base}[{index}]: neither a value nor an extension")
                continue
            self.element_object(item, f"{base}[{index}]", key)
        return chosen

    def element_object(self, value: Any, path: str, key: str) -> None:
        if type(value) is not dict:
            self.report("structure", path, f"{path}: '{key}' must hold a JSON object (id, extension), got {json_kind(value)}")
        elif not value:
            self.report("structure", path, f"{path}: '{key}' cannot be an empty object")
        else:
            self.object(value, self.element_type, path)

    def extension_rule(self, obj: dict[str, Any], chosen: dict[str, str] | None, path: str) -> None:
        has_value = chosen is not None and "value" in chosen
        if has_value == ("extension" in obj):
            which = "both" if has_value else "neither"
            self.report(
                "invariant",
                path,
                f"ext-1: {path} must have either extensions or value[x], not both; it has {which}",
            )


def _has_extension_at(obj: dict[str, Any], name: str, index: int) -> bool:
    extensions = obj.get(f"_{name}")
    return type(extensions) is list and index < len(extensions) and extensions[index] is not None


def _type_label(typedef: TypeDef) -> str:
    return typedef.name


def _unknown_resource_type(resource_type: str, defs: Definitions) -> str:
    if resource_type in ("Resource", "DomainResource", "MetadataResource"):
        return f"'{resource_type}' is abstract; use a concrete R4 resource type"
    if resource_type in defs.types:
        return f"'{resource_type}' is a data type, not a resource type"
    return f"Unknown resource type '{resource_type}' (not a FHIR R4 4.0.1 resource)"


def _checkers(defs: Definitions) -> dict[str, Checker]:
    return {name: make_checker(prim) for name, prim in defs.primitives.items()}


_CHECKERS: dict[str, Checker] = {}


def validate_structure(resource: dict[str, Any]) -> list[Issue]:
    """Every structural problem in `resource` against base R4 4.0.1; empty means valid."""
    defs = load_definitions()
    if not _CHECKERS:
        _CHECKERS.update(_checkers(defs))
    walker = _Walker(defs, _CHECKERS)
    try:
        walker.resource(resource, None)
    except _TooManyIssues:
        walker.issues.append(
            Issue("information", "too-costly", f"Validation stopped after {MAX_ISSUES} issues", ())
        )
    except RecursionError:
        walker.issues.append(Issue("error", "structure", "The resource is nested too deeply to validate", ()))
    return walker.issues
