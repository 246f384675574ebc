"""Structural checks of the elements the engine reads, so indexing can trust their shape.

We cannot use the R4B models here (layering keeps ``app.validation`` out of terminology), and
we only need the handful of elements we evaluate: types, required keys, allowed codes.
"""

from __future__ import annotations

from typing import Any

from app.terminology.problems import ContentProblem
from app.terminology.service import EQUIVALENCES

STATUSES = frozenset({"draft", "active", "retired", "unknown"})
CS_CONTENT = frozenset({"not-present", "example", "fragment", "complete", "supplement"})
HIERARCHY = frozenset({"grouped-by", "is-a", "part-of", "classified-with"})
FILTER_OPS = frozenset(
    {"=", "is-a", "descendent-of", "is-not-a", "regex", "in", "not-in", "generalizes", "exists"}
)
KINDS = ("CodeSystem", "ValueSet", "ConceptMap")


class _Checker:
    def __init__(self, file: str, problems: list[ContentProblem]) -> None:
        self.file = file
        self.problems = problems

    def fail(self, path: str, message: str) -> None:
        self.problems.append(ContentProblem(self.file, path, message))

    def string(self, obj: dict[str, Any], key: str, path: str, *, required: bool) -> bool:
        value = obj.get(key)
        if value is None:
            if required:
                self.fail(f"{path}.{key}", f"'{key}' is required")
            return False
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{path}.{key}", f"'{key}' must be a non-empty string")
            return False
        return True

    def code(self, obj: dict[str, Any], key: str, path: str, allowed: frozenset[str]) -> None:
        value = obj.get(key)
        if value is not None and value not in allowed:
            self.fail(f"{path}.{key}", f"'{value}' is not one of {', '.join(sorted(allowed))}")

    def objects(self, obj: dict[str, Any], key: str, path: str) -> list[tuple[str, dict[str, Any]]]:
        """The well-formed items of an array of objects; bad ones are reported and skipped."""
        value = obj.get(key, [])
        if not isinstance(value, list):
            self.fail(f"{path}.{key}", f"'{key}' must be an array")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                out.append((f"{path}.{key}[{i}]", item))
            else:
                self.fail(f"{path}.{key}[{i}]", f"'{key}' items must be objects")
        return out


def check_resource(resource: Any, file: str, problems: list[ContentProblem]) -> bool:
    """Report every structural problem; True when the resource is safe to index."""
    before = len(problems)
    c = _Checker(file, problems)
    if not isinstance(resource, dict) or resource.get("resourceType") not in KINDS:
        kind = resource.get("resourceType") if isinstance(resource, dict) else type(resource)
        c.fail("resourceType", f"expected one of {', '.join(KINDS)}, found {kind!r}")
        return False
    kind = resource["resourceType"]
    for key in ("url", "version", "status"):
        c.string(resource, key, kind, required=True)
    c.code(resource, "status", kind, STATUSES)
    if kind == "CodeSystem":
        _code_system(c, resource)
    elif kind == "ValueSet":
        _value_set(c, resource)
    else:
        _concept_map(c, resource)
    return len(problems) == before


def _code_system(c: _Checker, cs: dict[str, Any]) -> None:
    if c.string(cs, "content", "CodeSystem", required=True):
        c.code(cs, "content", "CodeSystem", CS_CONTENT)
    c.code(cs, "hierarchyMeaning", "CodeSystem", HIERARCHY)
    for path, prop in c.objects(cs, "property", "CodeSystem"):
        c.string(prop, "code", path, required=True)
    _concepts(c, cs, "CodeSystem")


def _concepts(c: _Checker, parent: dict[str, Any], path: str) -> None:
    for here, concept in c.objects(parent, "concept", path):
        c.string(concept, "code", here, required=True)
        for key in ("display", "definition"):
            c.string(concept, key, here, required=False)
        for dpath, designation in c.objects(concept, "designation", here):
            c.string(designation, "value", dpath, required=True)
        for ppath, prop in c.objects(concept, "property", here):
            c.string(prop, "code", ppath, required=True)
        _concepts(c, concept, here)


def _value_set(c: _Checker, vs: dict[str, Any]) -> None:
    compose = vs.get("compose")
    if not isinstance(compose, dict):
        c.fail("ValueSet.compose", "a compose is required (we expand from it)")
        return
    includes = c.objects(compose, "include", "ValueSet.compose")
    if not includes:
        c.fail("ValueSet.compose.include", "at least one include is required")
    for path, part in includes + c.objects(compose, "exclude", "ValueSet.compose"):
        has_system = c.string(part, "system", path, required=False)
        imports = part.get("valueSet", [])
        if not isinstance(imports, list) or not all(isinstance(u, str) for u in imports):
            c.fail(f"{path}.valueSet", "'valueSet' must be an array of canonical urls")
        if not has_system and not imports:
            c.fail(path, "needs a system or a valueSet")
        if ("concept" in part or "filter" in part) and not has_system:
            c.fail(path, "concept and filter need a system")
        if "concept" in part and "filter" in part:
            c.fail(path, "cannot have both concept and filter (vsd-3)")
        for cpath, concept in c.objects(part, "concept", path):
            c.string(concept, "code", cpath, required=True)
            c.string(concept, "display", cpath, required=False)
        for fpath, flt in c.objects(part, "filter", path):
            for key in ("property", "op", "value"):
                c.string(flt, key, fpath, required=True)
            c.code(flt, "op", fpath, FILTER_OPS)


def _concept_map(c: _Checker, cm: dict[str, Any]) -> None:
    for gpath, group in c.objects(cm, "group", "ConceptMap"):
        c.string(group, "source", gpath, required=True)
        c.string(group, "target", gpath, required=True)
        if "unmapped" in group:
            c.fail(f"{gpath}.unmapped", "group.unmapped is not supported: map every code")
        for epath, element in c.objects(group, "element", gpath):
            c.string(element, "code", epath, required=True)
            targets = c.objects(element, "target", epath)
            if not targets:
                c.fail(f"{epath}.target", "an element needs at least one target")
            for tpath, target in targets:
                if c.string(target, "equivalence", tpath, required=True):
                    c.code(target, "equivalence", tpath, EQUIVALENCES)
                needs_code = target.get("equivalence") not in ("unmatched", "disjoint")
                c.string(target, "code", tpath, required=needs_code)
