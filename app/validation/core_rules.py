"""R4 rules stated in the specification's text rather than as FHIRPath, checked as the HL7 Java
validator checks them for every resource.

* Bundle: a ``fullUrl`` is an absolute URL (Bundle.entry.fullUrl: "SHALL be an absolute
  URL"); a RESTful ``fullUrl`` (``.../Patient/123``) ends with the entry's type and id; a
  link relation appears once (bundle.html "links"); search results carry an id.
* Coding: ``system`` is an absolute URI naming a code system ("Coding.system": a URI, never a
  local reference; a ValueSet canonical is not a code system).
* ValueSet: see `valueset_rules` (absolute include systems, SNOMED CT codes, parameters).
* SearchParameter: a composite parameter has at least two components; one ``derivedFrom``
  an R4 parameter keeps its type and bases; a CapabilityStatement's searchParam with an R4
  ``definition`` declares that parameter's type.
* Extension: an R4 core extension is used only where its definition's contexts allow
  (`extension_context`).
* StructureDefinition: each differential element path names an element of the base type.
* CodeSystem: a supplement (``supplements``) has ``content = supplement``; property codes
  are unique (concepts refer to properties by code).
* A SNOMED CT code in a Coding is an SCTID (`sctid`) or an expression.
* A Coding in a code system the FHIR specification itself defines (``http://hl7.org/fhir/...``,
  frozen at 4.0.1 and vendored in `definitions/r4-bindings.json`) uses a code of that system.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any, Final

from app.errors import Issue
from app.validation.core_bindings import load_core_bindings
from app.validation.definitions import TypeDef, load_definitions
from app.validation.extension_context import context_issues
from app.validation.sctid import sctid_problem
from app.validation.valueset_rules import value_set_issues
from app.validation.walk import Node, nodes

__all__ = ["node_rule_issues", "rule_issues"]

_ABSOLUTE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S")
_VALUE_SET_BASE: Final = "http://hl7.org/fhir/ValueSet/"
SNOMED: Final = "http://snomed.info/sct"

Rule = Callable[[Node], Iterator[Issue]]


def _error(code: str, where: str, text: str) -> Issue:
    return Issue("error", code, f"{where}: {text}", (where,))


def _items(value: Any) -> list[tuple[int, dict[str, Any]]]:
    if type(value) is not list:
        return []
    return [(i, item) for i, item in enumerate(value) if type(item) is dict]


def _bundle(node: Node) -> Iterator[Issue]:
    bundle = node.obj
    for index, link in _items(bundle.get("link")):
        relation = link.get("relation")
        earlier = [item.get("relation") for _, item in _items(bundle.get("link"))[:index]]
        if type(relation) is str and relation in earlier:
            text = f"the link relation '{relation}' can only occur once"
            yield _error("invalid", f"{node.path}.link[{index}]", text)
    searchset = bundle.get("type") == "searchset"
    resources = load_definitions().resources
    for index, entry in _items(bundle.get("entry")):
        where = f"{node.path}.entry[{index}]"
        resource = entry.get("resource")
        full_url = entry.get("fullUrl")
        if type(full_url) is str and not _ABSOLUTE.match(full_url):
            text = f"the fullUrl must be an absolute URL (not '{full_url}')"
            yield _error("invalid", f"{where}.fullUrl", text)
        if type(resource) is not dict:
            continue
        rtype, rid = resource.get("resourceType"), resource.get("id")
        if type(full_url) is str and full_url.startswith(("http://", "https://")):
            parts = full_url.split("?")[0].rstrip("/").split("/")
            restful = len(parts) >= 2 and parts[-2] in resources and type(rid) is str
            if restful and (parts[-2], parts[-1]) != (rtype, rid):
                text = (
                    f"the fullUrl '{full_url}' looks like a RESTful server URL, so it must "
                    f"end with the entry's type and id (/{rtype}/{rid})"
                )
                yield _error("invalid", where, text)
        search = entry.get("search")
        mode = search.get("mode") if type(search) is dict else None
        if searchset and mode == "match" and rid is None:
            yield _error("invalid", f"{where}.resource", "search results must have ids")


def _coding(node: Node) -> Iterator[Issue]:
    system = node.obj.get("system")
    if type(system) is not str:
        return
    code = node.obj.get("code")
    for issue_code, step, text in _coding_problems(system, code if type(code) is str else None):
        yield _error(issue_code, f"{node.path}.{step}", text)


@lru_cache(maxsize=4096)
def _coding_problems(system: str, code: str | None) -> tuple[tuple[str, str, str], ...]:
    """(issue code, step, text) of what is wrong with a Coding's system and code; remembered,
    since it depends on the pair alone and a feed repeats the same codings."""
    if not _ABSOLUTE.match(system):
        return (("invalid", "system", f"Coding.system must be an absolute URI, not '{system}'"),)
    if system.startswith(_VALUE_SET_BASE):
        text = f"the Coding names a value set, not a code system ('{system}')"
        return (("invalid", "system", text),)
    if code is None:
        return ()
    codes = load_core_bindings().code_systems.get(system)
    if codes is not None and code not in codes:
        text = f"unknown code '{code}' in the FHIR code system {system} (4.0.1)"
        return (("code-invalid", "code", text),)
    problem = sctid_problem(code) if system == SNOMED else None
    return () if problem is None else (("code-invalid", "code", problem),)


def _search_parameter(node: Node) -> Iterator[Issue]:
    sp = node.obj
    components = sp.get("component")
    count = len(components) if type(components) is list else 0
    if sp.get("type") == "composite" and count < 2:
        text = "a composite SearchParameter must define two or more components"
        yield _error("business-rule", node.path, text)
    known = load_core_bindings().search_parameters
    parent_url = sp.get("derivedFrom")
    parent = known.get(parent_url.split("|")[0]) if type(parent_url) is str else None
    if parent is None:
        return
    if type(sp.get("type")) is str and sp["type"] != parent[0]:
        text = f"the type {sp['type']} differs from the type {parent[0]} of {parent_url}"
        yield _error("business-rule", node.path, text)
    declared = sp.get("base")
    bases = declared if type(declared) is list else []
    for base in bases:
        if type(base) is str and base not in parent[1]:
            text = f"the base {base} is not a base of the SearchParameter {parent_url}"
            yield _error("business-rule", node.path, text)


def _capability_statement(node: Node) -> Iterator[Issue]:
    known = load_core_bindings().search_parameters
    for r, rest in _items(node.obj.get("rest")):
        for t, resource in _items(rest.get("resource")):
            for p, param in _items(resource.get("searchParam")):
                url, declared = param.get("definition"), param.get("type")
                found = known.get(url.split("|")[0]) if type(url) is str else None
                if found is not None and type(declared) is str and declared != found[0]:
                    where = f"{node.path}.rest[{r}].resource[{t}].searchParam[{p}]"
                    text = f"type {declared} differs from the type {found[0]} of {url}"
                    yield _error("invalid", where, text)


def _code_system(node: Node) -> Iterator[Issue]:
    cs = node.obj
    if cs.get("supplements") is not None and cs.get("content") != "supplement":
        text = "a CodeSystem supplement must have content = 'supplement'"
        yield _error("business-rule", f"{node.path}.content", text)
    seen: set[str] = set()
    for index, prop in _items(cs.get("property")):
        code = prop.get("code")
        if type(code) is str and code in seen:
            text = f"a property is already defined with the code '{code}'"
            yield _error("business-rule", f"{node.path}.property[{index}]", text)
        if type(code) is str:
            seen.add(code)


def _structure_definition(node: Node) -> Iterator[Issue]:
    """Each differential path names an element of the base type: ``Observation.valueBla``
    is neither ``Observation.value[x]`` nor a type-named choice (``valueQuantity``)."""
    sd = node.obj
    sd_type = sd.get("type")
    root = load_definitions().types.get(sd_type) if type(sd_type) is str else None
    differential = sd.get("differential")
    if root is None or sd.get("kind") == "logical" or type(differential) is not dict:
        return
    for index, element in _items(differential.get("element")):
        path = element.get("path")
        bad = _unknown_step(root, path) if type(path) is str else None
        if bad is not None:
            where = f"{node.path}.differential.element[{index}].path"
            text = f"'{path}': {root.name} has no element '{bad}' at this point"
            yield _error("structure", where, text)


def _unknown_step(root: TypeDef, path: str) -> str | None:
    """The first step of ``path`` that is no element of ``root`` (None if all resolve, or
    the path leaves what the element table can follow)."""
    steps = path.split(".")
    if steps[0] != root.name:
        return None  # sdf-8a reports a path outside the type
    current: TypeDef | None = root
    for step in steps[1:]:
        if current is None:
            return None
        name = step.split(":")[0]
        if name.endswith("[x]"):
            base = name[:-3]
            if not any(el.choice == base for el in current.elements.values()):
                return name
            current = None
            continue
        el = current.elements.get(name) or current.prohibited.get(name)
        if el is None:
            return name
        if el.primitive is not None:
            current = load_definitions().types["Element"]
        else:
            current = None if el.is_resource else el.complex
    return None


_RESOURCE_RULES: Final[dict[str, Rule]] = {
    "Bundle": _bundle,
    "ValueSet": value_set_issues,
    "SearchParameter": _search_parameter,
    "CodeSystem": _code_system,
    "CapabilityStatement": _capability_statement,
    "StructureDefinition": _structure_definition,
}


def node_rule_issues(node: Node, issues: list[Issue]) -> None:
    """Append the violations of the rules above at one walked node."""
    name = node.typedef.name
    if "extension" in node.obj or "modifierExtension" in node.obj:
        issues.extend(context_issues(node))
    if name == "Coding":
        issues.extend(_coding(node))
    elif node.is_resource:
        rule = _RESOURCE_RULES.get(name)
        if rule is not None:
            issues.extend(rule(node))


def rule_issues(resource: dict[str, Any]) -> list[Issue]:
    """Every violation of the rules above in ``resource``, nested resources included."""
    issues: list[Issue] = []
    for node in nodes(resource):
        node_rule_issues(node, issues)
    return issues
