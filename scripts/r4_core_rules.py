"""The base-rule halves of the R4 vendoring: invariants, required bindings and the terminology
and definitions the base rules check against. Called by `vendor_structure_definitions.py`
(which loads the StructureDefinitions once and passes them in); see its docstring for the
files written.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FHIR_VERSION = "4.0.1"
SD_BASE = "http://hl7.org/fhir/StructureDefinition/"
GENERATOR = "scripts/vendor_structure_definitions.py"
SDs = list[dict[str, Any]]

# ele-1 and ext-1 are checked by the structural walk.
STRUCTURAL_KEYS = frozenset({"ele-1", "ext-1"})
# The DomainResource rules are kept once, under "DomainResource", not copied per resource.
DOMAIN_RESOURCE = "DomainResource"
CODED_TYPES = frozenset({"code", "Coding", "CodeableConcept"})
FHIR_CODE_SYSTEM_BASE = "http://hl7.org/fhir/"
# R4 invariants published wrong, corrected as a later official version publishes them (the
# HL7 Java validator patches the same ones in code, FHIRPathExpressionFixer). Applied only
# where the published expression is exactly this one: (owner, key, published) -> corrected.
CONSTRAINT_ERRATA = {
    (
        "Questionnaire.item",
        "que-12",
        "enableWhen.count() > 2 implies enableBehavior.exists()",
    ): (
        # "If there are more than one enableWhen": hl7.fhir.r4b.core#4.3.0 Questionnaire que-12
        "enableWhen.count() > 1 implies enableBehavior.exists()"
    ),
    (
        "Questionnaire.item.enableWhen",
        "que-7",
        "operator = 'exists' implies (answer is Boolean)",
    ): (
        # a FHIR boolean is no System.Boolean: hl7.fhir.r4b.core#4.3.0 Questionnaire que-7
        "operator = 'exists' implies (answer is boolean)"
    ),
    (
        "Condition",
        "con-3",
        "clinicalStatus.exists() or verificationStatus.coding.where(system='http://terminology."
        "hl7.org/CodeSystem/condition-ver-status' and code = 'entered-in-error').exists() or "
        "category.select($this='problem-list-item').empty()",
    ): (
        # a CodeableConcept never equals a string: hl7.fhir.r4b.core#4.3.0 Condition con-3
        "verificationStatus.empty().not() and verificationStatus.coding.where(system='http://"
        "terminology.hl7.org/CodeSystem/condition-ver-status' and code='entered-in-error')."
        "exists().not() and category.coding.where(system='http://terminology.hl7.org/CodeSystem/"
        "condition-category' and code='problem-list-item').exists() implies "
        "clinicalStatus.empty().not()"
    ),
}
# name.matches(...) is empty where a canonical resource has no name, which all allow
# (csd-0, vsd-0, que-0...): hl7.fhir.r4b.core#4.3.0 CodeSystem csd-0.
NAME_RULE = "name.matches('[A-Z]([A-Za-z0-9_]){0,254}')"
NAME_RULE_CORRECTED = "name.exists() implies " + NAME_RULE
TERMINOLOGY_FILES = ("valuesets.json", "v3-codesystems.json", "v2-tables.json")


def _owned_elements(
    sd: dict[str, Any], dropped: frozenset[str]
) -> list[tuple[str, dict[str, Any]]]:
    """(key, element) for the R4 elements of ``sd``; the key names the owner as the element
    table does (the SD id for the root, ``Observation.referenceRange``, ``Age.comparator``)."""
    elements = sd["snapshot"]["element"]
    root: str = elements[0]["path"]
    out = []
    for el in elements:
        path: str = el["path"]
        if any(path == drop or path.startswith(drop + ".") for drop in dropped):
            continue
        out.append((sd["id"] + path[len(root) :], el))
    return out


def compile_invariants(sds: SDs, dropped: frozenset[str], source_note: str) -> dict[str, Any]:
    """Every FHIRPath constraint of the R4 snapshots but the structural ones, by owner key:
    ``[key, severity, human, expression]``."""
    by_path: dict[str, list[list[str]]] = {}
    for sd in sorted(sds, key=lambda s: str(s["id"])):
        inherits_domain = sd["id"] != DOMAIN_RESOURCE
        for key, el in _owned_elements(sd, dropped):
            seen = {c[0] for c in by_path.get(key, [])}
            for con in el.get("constraint", []):
                if con["key"] in STRUCTURAL_KEYS or con["key"] in seen:
                    continue
                if not con.get("expression"):
                    continue
                if inherits_domain and con.get("source") == SD_BASE + DOMAIN_RESOURCE:
                    continue
                expression = CONSTRAINT_ERRATA.get(
                    (key, con["key"], con["expression"]), con["expression"]
                )
                if expression == NAME_RULE:
                    expression = NAME_RULE_CORRECTED
                row = [con["key"], con["severity"], con["human"], expression]
                by_path.setdefault(key, []).append(row)
                seen.add(con["key"])
    return {
        "about": {
            "source": source_note,
            "fhirVersion": FHIR_VERSION,
            "generator": GENERATOR,
            "format": "constraints[ownerPath] = [[key, severity, human, expression], ...]",
        },
        "constraints": dict(sorted(by_path.items())),
    }


class _Unexpandable(Exception):
    """A value set whose codes cannot be listed from the vendored HL7 bundles alone."""


class _Expander:
    """Expands R4 value sets from the HL7 bundles: whole complete code systems, concept
    lists, nested value sets and is-a / descendent-of / is-not-a filters; anything else
    (other filters, external systems like SNOMED CT or UCUM) is unexpandable."""

    def __init__(self, source: Path) -> None:
        self.value_sets: dict[str, dict[str, Any]] = {}
        self.code_systems: dict[str, dict[str, Any]] = {}
        for name in TERMINOLOGY_FILES:
            bundle = json.loads((source / name).read_text(encoding="utf-8"))
            for entry in bundle["entry"]:
                res = entry["resource"]
                if res["resourceType"] == "ValueSet":
                    self.value_sets.setdefault(res["url"], res)
                elif res["resourceType"] == "CodeSystem":
                    self.code_systems.setdefault(res["url"], res)
        self.cache: dict[str, dict[str, list[str]]] = {}

    def expand(self, url: str, depth: int = 0) -> dict[str, list[str]]:
        url = url.split("|", maxsplit=1)[0]
        if url in self.cache:
            return self.cache[url]
        vs = self.value_sets.get(url)
        if vs is None:
            raise _Unexpandable(f"value set {url} is not in the R4 bundles")
        if depth > 10 or "compose" not in vs:
            raise _Unexpandable(f"value set {url} has no compose")
        codes: dict[str, set[str]] = {}
        for include in vs["compose"].get("include", []):
            for system, found in self._include(include, depth).items():
                codes.setdefault(system, set()).update(found)
        for exclude in vs["compose"].get("exclude", []):
            for system, found in self._include(exclude, depth).items():
                codes.get(system, set()).difference_update(found)
        result = {system: sorted(found) for system, found in sorted(codes.items()) if found}
        if not result:
            raise _Unexpandable(f"value set {url} expands to nothing")
        self.cache[url] = result
        return result

    def _include(self, include: dict[str, Any], depth: int) -> dict[str, set[str]]:
        nested = [self.expand(u, depth + 1) for u in include.get("valueSet", [])]
        system = include.get("system")
        if system is None:
            out: dict[str, set[str]] = {}
            for expansion in nested:
                for sys_, found in expansion.items():
                    out.setdefault(sys_, set()).update(found)
            return out
        if nested:
            raise _Unexpandable(f"include of {system} intersected with value sets")
        if "concept" in include:
            return {system: {c["code"] for c in include["concept"]}}
        tree = self._tree(system)
        selected = set(tree)
        for filt in include.get("filter", []):
            selected &= self._filter(system, tree, filt)
        return {system: selected}

    def _tree(self, system: str) -> dict[str, set[str]]:
        """Every code of a complete code system, mapped to its direct children."""
        cs = self.code_systems.get(system)
        if cs is None or cs.get("content", "complete") != "complete" or "concept" not in cs:
            raise _Unexpandable(f"code system {system} is not enumerated in the R4 bundles")
        tree: dict[str, set[str]] = {}

        def add(concepts: list[dict[str, Any]], parent: str | None) -> None:
            for concept in concepts:
                tree.setdefault(concept["code"], set())
                if parent is not None:
                    tree[parent].add(concept["code"])
                for prop in concept.get("property", []):
                    if prop.get("code") in ("subsumedBy", "parent") and "valueCode" in prop:
                        tree.setdefault(prop["valueCode"], set()).add(concept["code"])
                add(concept.get("concept", []), concept["code"])

        add(cs["concept"], None)
        return tree

    @staticmethod
    def _filter(system: str, tree: dict[str, set[str]], filt: dict[str, Any]) -> set[str]:
        op, value = filt.get("op"), filt.get("value", "")
        if filt.get("property") != "concept" or op not in ("is-a", "descendent-of", "is-not-a"):
            raise _Unexpandable(f"filter {filt.get('property')} {op} on {system}")
        below: set[str] = set()
        todo = [value] if value in tree else []
        while todo:
            code = todo.pop()
            if code not in below:
                below.add(code)
                todo.extend(tree.get(code, ()))
        if op == "descendent-of":
            below.discard(value)
        return set(tree) - below if op == "is-not-a" else below


def compile_bindings(
    sds: SDs, dropped: frozenset[str], source: Path, source_note: str
) -> dict[str, Any]:
    """The required bindings of R4 code, Coding and CodeableConcept elements, by owner key
    (choices as ``value[x]``), with the codes of each value set that expands locally."""
    expander = _Expander(source)
    bindings: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for sd in sorted(sds, key=lambda s: str(s["id"])):
        for key, el in _owned_elements(sd, dropped):
            binding = el.get("binding", {})
            if binding.get("strength") != "required" or "valueSet" not in binding:
                continue
            if not CODED_TYPES & {t["code"] for t in el.get("type", [])}:
                continue
            url = binding["valueSet"].split("|")[0]
            try:
                expander.expand(url)
            except _Unexpandable as exc:
                skipped[key] = f"{url}: {exc}"
                continue
            bindings[key] = url
    used = sorted(set(bindings.values()))
    # The code systems the FHIR specification itself defines: frozen at 4.0.1, so a code
    # outside them is an error wherever a Coding names one (not only where bound).
    fhir_systems = {
        url: sorted(expander._tree(url))
        for url, cs in sorted(expander.code_systems.items())
        if url.startswith(FHIR_CODE_SYSTEM_BASE)
        and cs.get("content") == "complete"
        and cs.get("concept")
    }
    return {
        "about": {
            "source": source_note + "; valuesets.json, v3-codesystems.json, v2-tables.json",
            "fhirVersion": FHIR_VERSION,
            "generator": GENERATOR,
            "format": "bindings[ownerPath] = valueSetUrl; valueSets[url] = {system: [codes]}; "
            "codeSystems[url] = [codes] (FHIR-defined code systems); "
            "searchParameters[url] = [type, bases]; extensionContexts[url] = [element paths]",
        },
        "bindings": dict(sorted(bindings.items())),
        "skipped": dict(sorted(skipped.items())),
        "valueSets": {url: expander.cache[url] for url in used},
        "codeSystems": fhir_systems,
        "searchParameters": _search_parameters(source),
        "extensionContexts": _extension_contexts(source),
    }


def _extension_contexts(source: Path) -> dict[str, list[str]]:
    """url -> the element contexts of each R4 core extension definition."""
    bundle = json.loads((source / "extension-definitions.json").read_text(encoding="utf-8"))
    out: dict[str, list[str]] = {}
    for entry in bundle["entry"]:
        sd = entry["resource"]
        if sd.get("resourceType") != "StructureDefinition" or "url" not in sd:
            continue
        contexts = sd.get("context", [])
        if contexts and all(c.get("type") == "element" for c in contexts):
            out[sd["url"]] = sorted(c["expression"] for c in contexts)
    return dict(sorted(out.items()))


def _search_parameters(source: Path) -> dict[str, list[Any]]:
    """url -> [type, bases] of the R4 SearchParameters, which a CapabilityStatement's or a
    derived SearchParameter's declarations must agree with."""
    bundle = json.loads((source / "search-parameters.json").read_text(encoding="utf-8"))
    out: dict[str, list[Any]] = {}
    for entry in bundle["entry"]:
        sp = entry["resource"]
        if sp.get("resourceType") == "SearchParameter" and "url" in sp:
            out[sp["url"]] = [sp["type"], sorted(sp.get("base", []))]
    return dict(sorted(out.items()))


def render_rules(data: dict[str, Any]) -> str:
    """Sections of one entry per line, like the element table."""

    def dump(value: Any) -> str:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    sections = []
    for name, value in data.items():
        if name == "about":
            sections.append(f'"about":{dump(value)}')
            continue
        rows = ",\n".join(f"{dump(k)}:{dump(v)}" for k, v in value.items())
        sections.append(f'"{name}":{{\n{rows}\n}}')
    return "{\n" + ",\n".join(sections) + "\n}\n"
