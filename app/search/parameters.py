"""The SearchParameter registry, built from the official R4 definitions.

A parameter is *supported* only if we can index it: every R4 SearchParameter whose FHIRPath
expression compiles into our subset (``app.search.paths``) with values of a FHIR type its
search type can index (``app.search.values``). The rest are left out entirely (see
:func:`left_out` for what and why) and never appear in the CapabilityStatement, so a client
is never told we do something we silently ignore.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import orjson

from app.search.paths import (
    Branch,
    Unsupported,
    Walker,
    compile_expression,
    compile_relative,
    single_valued,
)
from app.search.values import Sink, terminal

_DEFINITIONS = Path(__file__).parent / "definitions" / "search-parameters.json"
_REGIONAL = Path(__file__).parent / "definitions" / "regional-search-parameters.json"

# Parameters every type gets, answered from the resource table itself.
RESOURCE_LEVEL = {"_id": "token", "_lastUpdated": "date"}
# Result parameters understood by the search request parser.
RESULT_PARAMETERS = {
    "_count",
    "_cursor",
    "_total",
    "_summary",
    "_format",
    "_pretty",
    "_type",
    "_sort",
    "_include",
    "_revinclude",
    "_elements",
}
# Resource-level definitions answered by the resource table (not extracted).
_FROM_RESOURCE_TABLE = frozenset(RESOURCE_LEVEL)
_ABSTRACT = ("Resource", "DomainResource")
_DECEASED = "Patient.deceased.exists() and Patient.deceased != false"


@dataclass(frozen=True, slots=True)
class Component:
    """One part of a composite parameter."""

    definition: str
    """The component's SearchParameter url (e.g. .../clinical-code)."""
    code: str
    type: str
    expression: str
    branches: tuple[Branch, ...] = ()


@dataclass(frozen=True, slots=True)
class SearchParameter:
    code: str
    type: str
    url: str
    targets: tuple[str, ...] = ()
    """Resource types a reference parameter may point at."""
    expression: str = ""
    components: tuple[Component, ...] = ()
    branches: tuple[Branch, ...] = ()
    """Compiled typed paths (empty for _id/_lastUpdated, answered from the resource table)."""
    walkers: tuple[Walker, ...] = field(default=(), repr=False, compare=False)
    """Push-style extractors: ``walker(resource, sink, None)`` appends this parameter's rows."""
    singular: bool = False
    """At most one value per resource (no repeating element on the way). A date value is one
    index row, so date clauses ANDed on a singular parameter must hold on the same row."""

    def extract(self, resource: dict[str, Any]) -> dict[str, list[tuple[Any, ...]]]:
        """This parameter's index rows for ``resource``, by table (for tests and tools)."""
        sink = Sink()
        for walker in self.walkers:
            walker(resource, sink, None)
        return sink.tables


@dataclass(frozen=True, slots=True)
class LeftOut:
    resource_type: str
    code: str
    url: str
    reason: str


@lru_cache(maxsize=1)
def _definitions() -> list[dict[str, Any]]:
    """The R4 SearchParameters, then ours (profiles/search-parameters, vendored)."""
    params: list[dict[str, Any]] = []
    for path in (_DEFINITIONS, _REGIONAL):
        params += orjson.loads(path.read_bytes())["searchParameters"]
    return params


@lru_cache(maxsize=1)
def _by_base() -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for sp in _definitions():
        for base in sp.get("base") or ():
            out[base].append(sp)
    return dict(out)


@lru_cache(maxsize=1)
def _by_url() -> dict[str, dict[str, Any]]:
    return {str(sp["url"]): sp for sp in _definitions()}


@lru_cache(maxsize=1)
def _resource_types() -> tuple[str, ...]:
    path = Path(__file__).parent.parent / "model" / "definitions" / "resource-types.json"
    names: list[str] = orjson.loads(path.read_bytes())["resourceTypes"]
    return tuple(names)


def _walkers(code: str, kind: str, branches: list[Branch]) -> list[Walker]:
    """One extractor per branch. A variant of an unfiltered choice element (Procedure.performed
    as a string under the date parameter) that the search type cannot index is not a value of
    the parameter and is skipped; any other unindexable branch leaves the parameter out."""
    walkers = []
    for branch in branches:
        write = terminal(kind, branch.type, code)
        if write is None:
            if branch.choice:
                continue
            raise Unsupported(f"a {kind} parameter cannot index {branch.type} values")
        walkers.append(branch.compile(write))
    if not walkers:
        raise Unsupported(f"a {kind} parameter cannot index any value of the expression")
    return walkers


def _deceased_walker(code: str) -> Walker:
    """Patient.deceased.exists() and Patient.deceased != false, as a boolean token."""

    def walk(resource: Any, sink: Sink, grp: int | None) -> None:
        dead = resource.get("deceasedBoolean") is True or "deceasedDateTime" in resource
        value = "true" if dead else "false"
        sink.tables.setdefault("search_token", []).append((code, grp, None, value, None))

    return walk


def _composite(
    sp: dict[str, Any], resource_type: str
) -> tuple[list[Branch], list[Walker], tuple[Component, ...]]:
    code = str(sp["code"])
    bases = compile_expression(str(sp.get("expression") or ""), resource_type)
    if not bases:
        raise Unsupported("the composite expression yields nothing for this type")
    parts = sp.get("component") or []
    if len(parts) < 2:
        raise Unsupported("a composite needs at least two components")
    components: list[Component] = []
    walkers: list[Walker] = []
    for base in bases:
        sub_walkers: list[Walker] = []
        for index, part in enumerate(parts):
            definition = _by_url().get(str(part["definition"]))
            if definition is None:
                raise Unsupported(f"unknown component {part['definition']}")
            kind = str(definition["type"])
            if kind in ("composite", "special"):
                raise Unsupported(f"component of type {kind}")
            sub = compile_relative(str(part["expression"]), base.type)
            if not sub:
                raise Unsupported(f"component '{part['expression']}' yields nothing")
            # Each component's rows carry its own param name ("code-value-concept$1"), so two
            # components stored in the same table (token + token) cannot stand in for each other.
            sub_walkers.extend(_walkers(component_param(code, index), kind, sub))
            if base is bases[0]:
                components.append(
                    Component(
                        str(definition["url"]),
                        str(definition["code"]),
                        kind,
                        str(part["expression"]),
                        tuple(sub),
                    )
                )
        walkers.append(base.compile(_group(tuple(sub_walkers))))
    return bases, walkers, tuple(components)


def component_param(code: str, index: int) -> str:
    """The index-row param name of a composite parameter's ``index``-th component."""
    return f"{code}${index}"


def _group(parts: tuple[Walker, ...]) -> Walker:
    """Each base element gets a fresh group ordinal shared by all its component rows."""

    def write(node: Any, sink: Sink, _grp: int | None) -> None:
        sink.grp += 1
        for part in parts:
            part(node, sink, sink.grp)

    return write


def _build(resource_type: str, sp: dict[str, Any]) -> SearchParameter:
    code, kind, url = str(sp["code"]), str(sp["type"]), str(sp["url"])
    expression = str(sp.get("expression") or "")
    targets = tuple(str(t) for t in sp.get("target") or ())
    if not expression:
        raise Unsupported("no FHIRPath expression")
    if kind == "special":
        raise Unsupported("special parameters have no defined index")
    if expression == _DECEASED:
        return SearchParameter(
            code,
            kind,
            url,
            walkers=(_deceased_walker(code),),
            targets=targets,
            expression=expression,
        )
    if kind == "composite":
        branches, walkers, components = _composite(sp, resource_type)
        return SearchParameter(
            code,
            kind,
            url,
            components=components,
            branches=tuple(branches),
            walkers=tuple(walkers),
            targets=targets,
            expression=expression,
        )
    branches = compile_expression(expression, resource_type)
    if not branches:
        raise Unsupported(f"the expression yields nothing for {resource_type}")
    walkers = _walkers(code, kind, branches)
    return SearchParameter(
        code,
        kind,
        url,
        branches=tuple(branches),
        walkers=tuple(walkers),
        targets=targets,
        expression=expression,
        singular=single_valued(branches),
    )


@cache
def _registry(resource_type: str) -> tuple[dict[str, SearchParameter], tuple[LeftOut, ...]]:
    out = {
        code: SearchParameter(
            code, kind, f"http://hl7.org/fhir/SearchParameter/Resource-{code[1:]}"
        )
        for code, kind in RESOURCE_LEVEL.items()
    }
    left: list[LeftOut] = []
    # The abstract "Resource" (system-level search) compiles its parameters against a
    # concrete type: meta and language are the same on every resource.
    concrete = "Patient" if resource_type in _ABSTRACT else resource_type
    candidates = [(sp, True) for sp in _by_base().get("Resource", ())]
    if resource_type != "Resource":
        candidates += [(sp, True) for sp in _by_base().get("DomainResource", ())]
        if resource_type not in _ABSTRACT:
            candidates += [(sp, False) for sp in _by_base().get(resource_type, ())]
    for sp, shared in candidates:
        code = str(sp["code"])
        if code in _FROM_RESOURCE_TABLE:
            continue
        try:
            out[code] = _build(concrete, sp)
        except Unsupported as exc:
            # Resource/DomainResource parameters are reported once, under those names.
            if not shared or resource_type in _ABSTRACT:
                left.append(LeftOut(resource_type, code, str(sp["url"]), str(exc)))
    return out, tuple(left)


def parameters_for(resource_type: str) -> dict[str, SearchParameter]:
    """The supported search parameters of one resource type, by code."""
    return _registry(resource_type)[0]


def left_out(resource_type: str | None = None) -> list[LeftOut]:
    """R4 SearchParameters we do not support (per type, or for every R4 type) and why."""
    types = [resource_type] if resource_type else [*_ABSTRACT, *_resource_types()]
    return [item for t in types for item in _registry(t)[1]]


@cache
def walkers_for(resource_type: str) -> tuple[Walker, ...]:
    """Every extractor of a type, flattened once: what ``extract_index`` runs per write."""
    return tuple(w for p in parameters_for(resource_type).values() for w in p.walkers)
