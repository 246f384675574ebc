"""CodeSystems indexed for answering: concepts by code, parents/children, is-a closure.

Everything derived (ancestors, display keys) is computed once at load so the operations are
dict lookups. Hierarchy comes from nested ``concept`` and from ``parent``/``child`` properties.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from app.terminology.problems import ContentProblem
from app.terminology.service import Coding, Designation, Property, PropertyType

INDEXED_CONTENT = frozenset({"complete", "fragment", "example"})
_VALUE_KEYS: dict[str, PropertyType] = {
    "valueCode": "code",
    "valueCoding": "Coding",
    "valueString": "string",
    "valueInteger": "integer",
    "valueBoolean": "boolean",
    "valueDateTime": "dateTime",
    "valueDecimal": "decimal",
}
_INACTIVE_STATUS = frozenset({"retired", "inactive"})


@dataclass(slots=True)
class Concept:
    code: str
    display: str | None
    definition: str | None = None
    designations: tuple[Designation, ...] = ()
    properties: tuple[Property, ...] = ()
    parents: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    ancestors: frozenset[str] = frozenset()
    abstract: bool = False
    inactive: bool = False
    display_keys: frozenset[str] = frozenset()
    """Lower-cased, whitespace-normalised display and designations: what a given display may be."""


def display_key(text: str) -> str:
    return " ".join(text.split()).casefold()


def version_key(version: str | None) -> tuple[tuple[int, int | str], ...]:
    """Orders versions numerically where they are numbers (``1.10`` after ``1.9``)."""
    parts = re.findall(r"\d+|[^\d.\-/|]+", version or "")
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


@dataclass(slots=True)
class CodeSystemIndex:
    url: str
    version: str | None
    name: str
    resource: dict[str, Any]
    concepts: dict[str, Concept]
    property_types: dict[str, str]

    def descendants(self, code: str) -> list[str]:
        """Codes below ``code`` (not itself), in definition order."""
        return [c.code for c in self.concepts.values() if code in c.ancestors]

    def subsumes(self, code_a: str, code_b: str) -> str:
        if code_a == code_b:
            return "equivalent"
        if code_a in self.concepts[code_b].ancestors:
            return "subsumes"
        if code_b in self.concepts[code_a].ancestors:
            return "subsumed-by"
        return "not-subsumed"

    @property
    def pinned_url(self) -> str:
        return f"{self.url}|{self.version}" if self.version else self.url


def _property(raw: dict[str, Any]) -> tuple[str, Property] | None:
    for key, kind in _VALUE_KEYS.items():
        if key in raw:
            value = raw[key]
            if kind == "Coding":
                value = Coding(value.get("system", ""), value.get("code", ""), value.get("display"))
            return key, Property(raw["code"], kind, value)
    return None


def _designations(raw: list[dict[str, Any]]) -> tuple[Designation, ...]:
    out = []
    for d in raw:
        use = d.get("use")
        coding = (
            Coding(use.get("system", ""), use.get("code", ""), use.get("display")) if use else None
        )
        out.append(Designation(d["value"], d.get("language"), coding))
    return tuple(out)


def build_code_system(
    resource: dict[str, Any], file: str, problems: list[ContentProblem]
) -> CodeSystemIndex:
    """Index a structurally checked CodeSystem; hierarchy problems go to ``problems``."""
    declared = {p["code"]: p.get("type", "") for p in resource.get("property", [])}
    concepts: dict[str, Concept] = {}
    paths: dict[str, str] = {}

    def walk(raw: list[dict[str, Any]], path: str, parent: str | None) -> None:
        for i, item in enumerate(raw):
            here = f"{path}[{i}]"
            code = item["code"]
            if code in concepts:
                problems.append(ContentProblem(file, f"{here}.code", f"duplicate code '{code}'"))
                continue
            concept = _concept(item, here, declared, file, problems)
            if parent is not None:
                concept.parents.append(parent)
            concepts[code] = concept
            paths[code] = here
            walk(item.get("concept", []), f"{here}.concept", code)

    walk(resource.get("concept", []), "CodeSystem.concept", None)
    _link(concepts, paths, file, problems)
    return CodeSystemIndex(
        url=resource["url"],
        version=resource.get("version"),
        name=resource.get("name") or resource.get("title") or resource["url"],
        resource=resource,
        concepts=concepts,
        property_types=declared,
    )


def _concept(
    item: dict[str, Any],
    here: str,
    declared: dict[str, str],
    file: str,
    problems: list[ContentProblem],
) -> Concept:
    concept = Concept(item["code"], item.get("display"), item.get("definition"))
    concept.designations = _designations(item.get("designation", []))
    props: list[Property] = []
    for j, raw in enumerate(item.get("property", [])):
        found = _property(raw)
        where = f"{here}.property[{j}]"
        if found is None:
            problems.append(ContentProblem(file, where, "property has no value[x]"))
            continue
        key, prop = found
        if prop.code not in declared:
            message = f"property '{prop.code}' is not declared in CodeSystem.property"
            problems.append(ContentProblem(file, f"{where}.code", message))
        elif declared[prop.code] and declared[prop.code] != prop.type:
            message = f"property '{prop.code}' is declared {declared[prop.code]}, not {prop.type}"
            problems.append(ContentProblem(file, f"{where}.{key}", message))
        props.append(prop)
        if prop.code == "parent" and isinstance(prop.value, str):
            concept.parents.append(prop.value)
        elif prop.code == "child" and isinstance(prop.value, str):
            concept.children.append(prop.value)
        elif prop.code == "notSelectable" and prop.value is True:
            concept.abstract = True
        elif (prop.code == "inactive" and prop.value is True) or (
            prop.code == "status" and prop.value in _INACTIVE_STATUS
        ):
            concept.inactive = True
    concept.properties = tuple(props)
    displays = [concept.display or ""] + [d.value for d in concept.designations]
    concept.display_keys = frozenset(display_key(t) for t in displays if t)
    return concept


def _symmetric(
    concepts: dict[str, Concept], paths: dict[str, str], file: str, problems: list[ContentProblem]
) -> None:
    """Make parent/child links two-way and drop (reporting) links to codes we lack."""
    for concept in concepts.values():
        for relation, inverse, name in (
            ("children", "parents", "child"),
            ("parents", "children", "parent"),
        ):
            links: list[str] = getattr(concept, relation)
            for other in list(links):
                if other not in concepts:
                    message = f"{name} '{other}' is not a code of this CodeSystem"
                    problems.append(
                        ContentProblem(file, f"{paths[concept.code]}.property", message)
                    )
                    links.remove(other)
                elif concept.code not in getattr(concepts[other], inverse):
                    getattr(concepts[other], inverse).append(concept.code)


def _link(
    concepts: dict[str, Concept], paths: dict[str, str], file: str, problems: list[ContentProblem]
) -> None:
    """Check the links, reject cycles, and compute every concept's ancestors once."""
    _symmetric(concepts, paths, file, problems)
    done: dict[str, frozenset[str]] = {}

    def closure(code: str, trail: tuple[str, ...]) -> frozenset[str]:
        if code in done:
            return done[code]
        if code in trail:
            message = f"is-a cycle: {' -> '.join((*trail, code))}"
            problems.append(ContentProblem(file, paths[code], message))
            return frozenset()
        found: set[str] = set()
        for parent in concepts[code].parents:
            found.add(parent)
            found |= closure(parent, (*trail, code))
        done[code] = frozenset(found)
        return done[code]

    for code, concept in concepts.items():
        concept.ancestors = closure(code, ())


class CodeSystemRegistry:
    """Every version of every CodeSystem we hold; the latest version answers an unpinned ask."""

    def __init__(self, indexes: Iterable[CodeSystemIndex] = ()) -> None:
        self._versions: dict[str, dict[str | None, CodeSystemIndex]] = {}
        self._latest: dict[str, CodeSystemIndex] = {}
        self._systems_of_code: dict[str, list[str]] = {}
        for index in indexes:
            self.add(index)

    def add(self, index: CodeSystemIndex) -> None:
        self._versions.setdefault(index.url, {})[index.version] = index
        current = self._latest.get(index.url)
        if current is None or version_key(index.version) > version_key(current.version):
            self._latest[index.url] = index
        for code in index.concepts:
            systems = self._systems_of_code.setdefault(code, [])
            if index.url not in systems:
                systems.append(index.url)

    def get(self, url: str, version: str | None = None) -> CodeSystemIndex | None:
        """``url`` may carry ``|version``. SNOMED versions match by module: a module-only
        version picks the latest release held, a release matches a module held without one."""
        if version is None and "|" in url:
            url, version = url.split("|", 1)
        if version is None:
            return self._latest.get(url)
        versions = self._versions.get(url, {})
        if version in versions:
            return versions[version]
        prefixed = [v for k, v in versions.items() if k and k.startswith(version + "/")]
        if prefixed:
            return max(prefixed, key=lambda v: version_key(v.version))
        # A release of a module we hold only as the module (SNOMED ``.../version/2025...``).
        return next((v for k, v in versions.items() if k and version.startswith(k + "/")), None)

    def holds(self, url: str) -> bool:
        return url.split("|", 1)[0] in self._latest

    def systems_with_code(self, code: str) -> list[str]:
        return self._systems_of_code.get(code, [])

    def all(self) -> list[CodeSystemIndex]:
        return [i for versions in self._versions.values() for i in versions.values()]
