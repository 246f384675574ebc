"""Structural validation of a FHIR R4 (4.0.1) JSON resource against the base specification.

`validate_structure` walks the parsed JSON once against the element table compiled from the
official R4 StructureDefinition snapshots (`definitions.py`) and reports every problem:
unknown or abstract resource types, unknown properties, cardinality (missing required
elements, a list where at most one value is allowed, a single value where FHIR JSON needs an
array), empty arrays/objects/strings and nulls, JSON value types and lexical forms of
primitives (`primitives.py`), choice elements with more than one variant, `_element`
siblings, extensions (url, one value, ext-1), ele-1, narrative XHTML (`xhtml.py`) and nested
resources (`contained`, `Bundle.entry.resource`, `Parameters.parameter.resource`), each
checked against its own type. Profiles, terminology bindings and the other FHIRPath
invariants are later layers' work; a `meta.profile` is not looked at here.

Locations (`Issue.expression`, one FHIRPath per issue) follow the HL7 Java validator, so they
line up with what implementers see from the reference validator:

* list items always carry their index: ``Patient.name[0].given[1]``;
* a choice element is written with ``ofType``: ``Observation.value.ofType(Quantity).value``
  (a rule about the choice as a whole is reported at ``Observation.value[x]``);
* a nested resource is marked with a FHIRPath comment naming it and the path continues:
  ``Bundle.entry[0].resource/*Patient/p1*/.birthDate``,
  ``Patient.contained[0]/*Organization/o1*/.name`` (``null`` stands in for a missing id,
  as in the Java validator);
* a `_birthDate` sibling is reported on its primitive: ``Patient.birthDate.extension[0].url``;
* an unknown property is reported at its own name: ``Patient.foo``.

Issue codes: ``structure`` (unknown element, wrong JSON type, malformed or empty),
``required`` (min not met), ``value`` (a primitive's lexical form), ``invariant`` (ele-1,
ext-1). Severity is ``error`` except the advisory untrimmed-string rule (``warning``).
ADR 0004 records why this compiled walk, not the R4B pydantic models, is the check of record.
"""

from __future__ import annotations

import re
from typing import Any, Final

from app.errors import Issue
from app.validation.definitions import Definitions, ElementDef, TypeDef, load_definitions
from app.validation.primitives import Finding, json_kind, show
from app.validation.walk import Node

__all__ = ["MAX_ISSUES", "structure_and_nodes", "validate_structure"]

# Enough for anyone to act on; stops a 50 MB broken Bundle producing a 50 MB outcome.
MAX_ISSUES: Final = 1000
_UNKNOWN_ROOT: Final = "Resource"
_ABSTRACT: Final = frozenset({"Resource", "DomainResource", "MetadataResource"})
# A scheme, then something: what the Java validator accepts as an absolute extension url.
_ABSOLUTE_URL: Final = re.compile(r"[a-z][a-z0-9+.-]*:\S")


class _TooManyIssues(Exception):
    """Ends a walk that has already reported MAX_ISSUES."""


class _Walker:
    """One validation run: the definitions and the issues found so far.

    With ``collect``, it also records the typed objects it passes, exactly as
    `walk.nodes` yields them (same order, paths and resources), so the rule layers need
    not walk the resource a second time."""

    __slots__ = ("defs", "element_type", "issues", "nodes", "owner", "root")

    def __init__(self, defs: Definitions, collect: bool = False) -> None:
        self.defs = defs
        self.element_type = defs.types["Element"]
        self.issues: list[Issue] = []
        self.nodes: list[Node] | None = [] if collect else None
        # The resource being walked (%resource) and the outermost of its contained chain
        # (%rootResource): what a collected node carries.
        self.owner: dict[str, Any] = {}
        self.root: dict[str, Any] = {}

    def report(self, code: str, path: str, text: str, severity: str = "error") -> None:
        self.issues.append(Issue(severity, code, text, (path,)))
        if len(self.issues) >= MAX_ISSUES:
            raise _TooManyIssues

    def found(self, finding: Finding, path: str) -> None:
        text = f"{finding.lead} at {path}: {finding.reason}"
        self.report(finding.code, path, text, finding.severity)

    # -- resources -------------------------------------------------------------------------

    def resource(
        self,
        resource: Any,
        prefix: str | None,
        expected: str = "Resource",
        contained: bool = False,
    ) -> None:
        where = prefix or _UNKNOWN_ROOT
        if type(resource) is not dict:
            self.report(
                "structure", where, f"A resource must be a JSON object, not {json_kind(resource)}"
            )
            return
        resource_type = resource.get("resourceType")
        if resource_type is None:
            self.report("required", where, f"{where}: the resource has no resourceType")
            return
        if type(resource_type) is not str:
            text = f"{where}: resourceType must be a string, not {json_kind(resource_type)}"
            self.report("structure", where, text)
            return
        typedef = self.defs.resource(resource_type)
        if typedef is None:
            self.report("structure", where, _unknown_resource_type(resource_type, self.defs))
            return
        if expected not in ("Resource", resource_type):
            text = f"{where}: expected resource type {expected}, got {resource_type}"
            self.report("structure", where, text)
            return
        if prefix is None:
            path = resource_type
        else:
            rid = resource.get("id")
            path = f"{prefix}/*{resource_type}/{rid if type(rid) is str else 'null'}*/"
        if self.nodes is None:
            self.object(resource, typedef, path, is_resource=True)
            return
        # A contained resource keeps its container as %rootResource; the validated resource,
        # a Bundle entry or a Parameters resource stands alone.
        owner, root = self.owner, self.root
        self.owner = resource
        if prefix is None or not contained:
            self.root = resource
        self.nodes.append(Node(typedef, resource, path, resource, self.root, True))
        try:
            self.object(resource, typedef, path, is_resource=True)
        finally:
            self.owner, self.root = owner, root

    # -- objects ---------------------------------------------------------------------------

    def object(
        self, obj: dict[str, Any], typedef: TypeDef, path: str, is_resource: bool = False
    ) -> None:
        """Check one JSON object. The hot loop: a valid primitive costs one inline call."""
        elements = typedef.elements
        chosen: dict[str, str] | None = None
        for key, value in obj.items():
            el = elements.get(key)
            if el is None:
                if not is_resource or key != "resourceType":
                    chosen = self.other_key(obj, key, typedef, path, chosen)
                continue
            if el.choice is not None:
                chosen = self.choose(el, key, path, chosen)
            check = el.check
            if el.is_array:
                self.array(obj, el, value, path)
            elif check is not None and value is not None and type(value) is not list:
                finding = check(value)
                if finding is not None:
                    self.found(finding, f"{path}.{el.step}")
            elif type(value) is list:
                text = f"{path}.{el.step}: at most 1 value allowed, got a list"
                self.report("structure", f"{path}.{el.step}", text)
            else:
                self.item(obj, el, value, f"{path}.{el.step}", None)
        if typedef.has_rules or len(obj) == 1:
            self.object_rules(obj, typedef, path, chosen)

    def array(self, obj: dict[str, Any], el: ElementDef, value: Any, path: str) -> None:
        where = f"{path}.{el.step}"
        if type(value) is not list:
            text = f"{where} must be a JSON array (it can repeat), not {json_kind(value)}"
            self.report("structure", where, text)
            return
        if not value:
            self.report("structure", where, f"{where}: an array cannot be empty; omit the element")
            return
        if 0 < el.max < len(value):
            text = f"{where}: at most {el.max} values allowed, got {len(value)}"
            self.report("structure", where, text)
        check = el.check
        for index, item in enumerate(value):
            if check is None or item is None:
                self.item(obj, el, item, f"{where}[{index}]", index)
            else:
                finding = check(item)
                if finding is not None:
                    self.found(finding, f"{where}[{index}]")

    def object_rules(
        self, obj: dict[str, Any], typedef: TypeDef, path: str, chosen: dict[str, str] | None
    ) -> None:
        """Rules about the object as a whole: required elements, ele-1, ext-1, type rules."""
        for step, names in typedef.required:
            for name in names:
                if name in obj:
                    break
            else:
                text = f"{path}.{step}: minimum required = 1, but only found 0"
                self.report("required", f"{path}.{step}", text)
        if typedef.is_extension:
            self.extension_rule(obj, typedef, chosen, path)
        elif len(obj) == 1 and "id" in obj and typedef is not self.element_type:
            self.report("invariant", path, f"ele-1: {path} has an id but no value or children")
        if typedef.rule is not None:
            for code, where, text in typedef.rule(obj, path):
                self.report(code, where, text)

    def other_key(
        self,
        obj: dict[str, Any],
        key: str,
        typedef: TypeDef,
        path: str,
        chosen: dict[str, str] | None,
    ) -> dict[str, str] | None:
        """A key that is not an element: a `_name` sibling, a prohibited or unknown element."""
        if key[:1] == "_":
            el = typedef.elements.get(key[1:])
            if el is not None and el.primitive is not None and el.primitive.name != "xhtml":
                if el.choice is not None:
                    chosen = self.choose(el, el.name, path, chosen)
                self.primitive_extension(obj, key, el, path)
                return chosen
        prohibited = typedef.prohibited.get(key)
        if prohibited is not None:
            where = f"{path}.{prohibited.step}"
            self.report("structure", where, f"{where} is not allowed in {typedef.name} (max 0)")
        else:
            self.report("structure", f"{path}.{key}", f"Unknown element '{key}' in {typedef.name}")
        return chosen

    def choose(
        self, el: ElementDef, key: str, path: str, chosen: dict[str, str] | None
    ) -> dict[str, str]:
        base = el.choice or el.name
        if chosen is None:
            chosen = {}
        other = chosen.setdefault(base, key)
        if other != key:
            where = f"{path}.{base}[x]"
            text = f"{where}: only one type may be present, found '{other}' and '{key}'"
            self.report("structure", where, text)
        return chosen

    def item(
        self, obj: dict[str, Any], el: ElementDef, value: Any, path: str, index: int | None
    ) -> None:
        """A value that is null, a nested resource or a complex type."""
        if value is None:
            if index is not None and el.primitive is not None and _extended_at(obj, el.name, index):
                return  # ["a", null] with "_given": [null, {...}]
            self.report("structure", path, f"{path}: null is not allowed; omit the element")
        elif el.is_resource:
            self.resource(value, path, el.type_name, el.name == "contained")
        elif type(value) is not dict:
            kind = f"{json_kind(value)} {show(value)}"
            text = f"{path}: expected a JSON object for {el.type_name}, got {kind}"
            self.report("structure", path, text)
        elif not value:
            self.report("structure", path, f"{path}: an object cannot be empty; omit the element")
        else:
            assert el.complex is not None
            if self.nodes is not None:
                self.nodes.append(Node(el.complex, value, path, self.owner, self.root))
            self.object(value, el.complex, path)

    # -- `_name` siblings and extensions ---------------------------------------------------

    def primitive_extension(self, obj: dict[str, Any], key: str, el: ElementDef, path: str) -> None:
        """`_name`: an object (or for a list, an aligned array) carrying id and extensions."""
        value = obj[key]
        where = f"{path}.{el.step}"
        values = obj.get(el.name)
        if not el.is_array:
            self.element_object(value, where, key, values is not None)
            return
        if type(value) is not list:
            text = f"{where}: '{key}' must be a JSON array, not {json_kind(value)}"
            self.report("structure", where, text)
            return
        if type(values) is not list:
            values = []
        elif len(values) != len(value):
            counts = f"'{key}' has {len(value)} items but '{el.name}' has {len(values)}"
            self.report("structure", where, f"{where}: {counts}; they must align")
        for index, item in enumerate(value):
            has_value = index < len(values) and values[index] is not None
            if item is not None:
                self.element_object(item, f"{where}[{index}]", key, has_value)
            elif index >= len(values):  # a null value beside it is reported by the array
                text = f"{where}[{index}]: neither a value nor an extension"
                self.report("structure", f"{where}[{index}]", text)

    def element_object(self, value: Any, path: str, key: str, has_value: bool) -> None:
        if type(value) is not dict:
            kind = json_kind(value)
            text = f"{path}: '{key}' must hold a JSON object (id, extension), not {kind}"
            self.report("structure", path, text)
        elif not value:
            self.report("structure", path, f"{path}: '{key}' cannot be an empty object")
        else:
            # What sits under a `_name` sibling is no node of the rule walk (`walk.nodes`
            # steps over those keys), so nothing in it is collected.
            collected, self.nodes = self.nodes, None
            try:
                self.object(value, self.element_type, path)
            finally:
                self.nodes = collected
            if not has_value and len(value) == 1 and "id" in value:
                self.report("invariant", path, f"ele-1: {path} has an id but no value or extension")

    def extension_rule(
        self, obj: dict[str, Any], typedef: TypeDef, chosen: dict[str, str] | None, path: str
    ) -> None:
        url = obj.get("url")
        if not typedef.is_sub_extension and type(url) is str and not _ABSOLUTE_URL.match(url):
            text = f"{path}.url: an extension url must be absolute, not '{url}'"
            self.report("value", f"{path}.url", text)
        has_value = chosen is not None and "value" in chosen
        if has_value == ("extension" in obj):
            which = "both" if has_value else "neither"
            text = (
                f"ext-1: {path} must have either extensions or value[x], not both; it has {which}"
            )
            self.report("invariant", path, text)


def _extended_at(obj: dict[str, Any], name: str, index: int) -> bool:
    extensions = obj.get(f"_{name}")
    return type(extensions) is list and index < len(extensions) and extensions[index] is not None


def _unknown_resource_type(resource_type: str, defs: Definitions) -> str:
    if resource_type in _ABSTRACT:
        return f"'{resource_type}' is abstract; use a concrete R4 resource type"
    if resource_type in defs.types:
        return f"'{resource_type}' is a data type, not a resource type"
    return f"Unknown resource type '{resource_type}' (not a FHIR R4 4.0.1 resource)"


def validate_structure(resource: dict[str, Any]) -> list[Issue]:
    """Every structural problem in `resource` against base R4 4.0.1; empty means valid."""
    walker = _Walker(load_definitions())
    _run(walker, resource)
    return walker.issues


def structure_and_nodes(resource: dict[str, Any]) -> tuple[list[Issue], list[Node] | None]:
    """`validate_structure`'s issues, and the nodes `walk.nodes(resource)` would yield,
    gathered on the same pass; None when the walk stopped early (too many issues, too deep),
    since the list is then incomplete."""
    walker = _Walker(load_definitions(), collect=True)
    finished = _run(walker, resource)
    return walker.issues, walker.nodes if finished else None


def _run(walker: _Walker, resource: dict[str, Any]) -> bool:
    """Walk ``resource``; False if the walk was cut short (its issue says why)."""
    try:
        walker.resource(resource, None)
    except _TooManyIssues:
        text = f"Validation stopped after {MAX_ISSUES} issues"
        walker.issues.append(Issue("information", "too-costly", text, ()))
    except RecursionError:
        text = "The resource is nested too deeply to validate"
        walker.issues.append(Issue("error", "structure", text, ()))
    else:
        return True
    return False
