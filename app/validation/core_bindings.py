"""The required bindings of the R4 core elements, checked locally.

``Observation.status`` must be one of the codes of ``observation-status``, a
``Condition.clinicalStatus`` must carry a coding from ``condition-clinical``: those value
sets are part of the specification, so they are vendored (`definitions/r4-bindings.json`,
built by `scripts/vendor_structure_definitions.py`: every required binding of a code, Coding
or CodeableConcept element whose value set expands from the HL7 bundles) and checked
without a terminology service. Bindings whose value sets cannot be expanded locally are
listed in that file under ``skipped`` and not checked here.

Rules, as the HL7 Java validator applies them to a required binding:

* a ``code`` must be one of the value set's codes;
* a ``Coding`` with a system and code must be one of the value set's (system, code) pairs;
* a ``CodeableConcept`` with codings must have at least one such coding; one with only text
  is not reported (the reference validator's verdict on that differs by version).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final

import orjson

from app.errors import Issue
from app.validation.definitions import TypeDef, load_definitions
from app.validation.walk import Node, nodes

__all__ = [
    "BINDINGS_FILE",
    "CoreBindings",
    "binding_issues",
    "load_core_bindings",
    "node_binding_issues",
]

BINDINGS_FILE: Final = Path(__file__).parent / "definitions" / "r4-bindings.json"
_SHOWN: Final = 12  # allowed codes named in a message before "..."


@dataclass(frozen=True, slots=True)
class ValueSetCodes:
    url: str
    by_system: dict[str, frozenset[str]]
    codes: frozenset[str]  # any system: what a bare `code` element may hold

    def allowed(self) -> str:
        shown = sorted(self.codes)
        text = ", ".join(shown[:_SHOWN])
        return text + (f", ... ({len(shown)} codes)" if len(shown) > _SHOWN else "")

    def has(self, system: Any, code: Any) -> bool:
        found = self.by_system.get(system) if type(system) is str else None
        return found is not None and code in found


@dataclass(frozen=True, slots=True)
class CoreBindings:
    """Per owner type, its bound JSON properties: (property, element type, value set,
    FHIRPath step)."""

    by_type: dict[str, tuple[tuple[str, str, ValueSetCodes, str], ...]]
    skipped: dict[str, str]
    # The code systems the FHIR specification defines (http://hl7.org/fhir/...): url -> codes
    code_systems: dict[str, frozenset[str]]
    # The R4 SearchParameters: url -> (type, bases)
    search_parameters: dict[str, tuple[str, frozenset[str]]]
    # The R4 core extensions: url -> the element paths or types they may be used on
    extension_contexts: dict[str, frozenset[str]]


def _bound_properties(
    typedef: TypeDef, bindings: dict[str, str], value_sets: dict[str, ValueSetCodes]
) -> tuple[tuple[str, str, ValueSetCodes, str], ...]:
    out = []
    for key, el in typedef.elements.items():
        step = f"{el.choice}[x]" if el.choice else key
        url = bindings.get(f"{typedef.name}.{step}")
        if url is not None and el.type_name in ("code", "Coding", "CodeableConcept"):
            out.append((key, el.type_name, value_sets[url], el.step))
    return tuple(out)


@cache
def load_core_bindings() -> CoreBindings:
    """The vendored bindings, linked to the element table; loaded once, on first use."""
    raw = orjson.loads(BINDINGS_FILE.read_bytes())
    value_sets = {
        url: ValueSetCodes(
            url,
            {system: frozenset(codes) for system, codes in systems.items()},
            frozenset(code for codes in systems.values() for code in codes),
        )
        for url, systems in raw["valueSets"].items()
    }
    bindings: dict[str, str] = raw["bindings"]
    by_type = {}
    for name, typedef in load_definitions().types.items():
        bound = _bound_properties(typedef, bindings, value_sets)
        if bound:
            by_type[name] = bound
    code_systems = {url: frozenset(codes) for url, codes in raw["codeSystems"].items()}
    search_parameters = {
        url: (sp_type, frozenset(bases))
        for url, (sp_type, bases) in raw["searchParameters"].items()
    }
    contexts = {url: frozenset(paths) for url, paths in raw["extensionContexts"].items()}
    return CoreBindings(by_type, dict(raw["skipped"]), code_systems, search_parameters, contexts)


def _coding_problem(coding: Any, vs: ValueSetCodes) -> str | None:
    if type(coding) is not dict:
        return None
    system, code = coding.get("system"), coding.get("code")
    if type(system) is not str or type(code) is not str or vs.has(system, code):
        return None
    return (
        f"the code '{system}#{code}' is not in the value set {vs.url} "
        f"(required binding); allowed: {vs.allowed()}"
    )


def _problem(kind: str, value: Any, vs: ValueSetCodes) -> str | None:
    """What is wrong with one bound value, or None; the caller prefixes the location, so a
    value that passes costs no path string."""
    if kind == "code":
        if type(value) is not str or value in vs.codes:
            return None
        return (
            f"the value '{value}' is not in the value set {vs.url} "
            f"(required binding); allowed: {vs.allowed()}"
        )
    if kind == "Coding":
        return _coding_problem(value, vs)
    codings = value.get("coding") if type(value) is dict else None
    if type(codings) is not list:
        return None
    usable = [
        c for c in codings if type(c) is dict and type(c.get("system")) is str and "code" in c
    ]
    if not usable or any(vs.has(c["system"], c.get("code")) for c in usable):
        return None
    shown = ", ".join(f"'{c['system']}#{c.get('code')}'" for c in usable[:3])
    return (
        f"none of the codings ({shown}) is in the value set {vs.url} "
        f"(required binding); allowed: {vs.allowed()}"
    )


def _invalid_code(where: str, problem: str) -> Issue:
    return Issue("error", "code-invalid", f"{where}: {problem}", (where,))


_DATA_ABSENT: Final = "http://hl7.org/fhir/StructureDefinition/data-absent-reason"


def _only_absent(element: Any) -> bool:
    """A `_code` element that says only why the code is missing. Another extension may carry
    the value (a cross-version extension holding an R5 code), so that is not reported."""
    extensions = element.get("extension") if type(element) is dict else None
    return (
        type(extensions) is list
        and bool(extensions)
        and all(type(e) is dict and e.get("url") == _DATA_ABSENT for e in extensions)
    )


def _no_value(
    obj: dict[str, Any], key: str, step: str, path: str, vs: ValueSetCodes
) -> Iterator[Issue]:
    """A bound code replaced by a data-absent-reason (``_status`` with no ``status``): the
    Java validator's "No code provided, and a code is required from the value set"."""
    values, extensions = obj.get(key), obj[f"_{key}"]
    missing: list[int | None]
    if type(extensions) is dict:
        missing = [None] if values is None and _only_absent(extensions) else []
    elif type(extensions) is list:
        present = values if type(values) is list else []
        missing = [
            i
            for i, ext in enumerate(extensions)
            if _only_absent(ext) and (i >= len(present) or present[i] is None)
        ]
    else:
        return
    for index in missing:
        where = f"{path}.{step}" if index is None else f"{path}.{step}[{index}]"
        text = f"{where}: no code provided, and a code is required from the value set {vs.url}"
        yield Issue("error", "code-invalid", text, (where,))


def node_binding_issues(node: Node, issues: list[Issue]) -> None:
    """Append the violated required bindings of one walked node's properties."""
    bound = load_core_bindings().by_type.get(node.typedef.name)
    if bound is None:
        return
    obj = node.obj
    for key, kind, vs, step in bound:
        value = obj.get(key)
        if kind == "code" and f"_{key}" in obj:
            issues.extend(_no_value(obj, key, step, node.path, vs))
        if value is None:
            continue
        if type(value) is not list:
            problem = _problem(kind, value, vs)
            if problem is not None:
                issues.append(_invalid_code(f"{node.path}.{step}", problem))
            continue
        for index, item in enumerate(value):
            if item is not None:
                problem = _problem(kind, item, vs)
                if problem is not None:
                    issues.append(_invalid_code(f"{node.path}.{step}[{index}]", problem))


def binding_issues(resource: dict[str, Any]) -> list[Issue]:
    """Every violated required core binding in ``resource``, nested resources included."""
    issues: list[Issue] = []
    for node in nodes(resource):
        node_binding_issues(node, issues)
    return issues
