"""Cross-resource checks: every code a ValueSet or ConceptMap names must exist where we can tell.

We can only check codes of CodeSystems we hold; for those, even a ``fragment`` is our whole
universe, so a code outside it is an error, not an unknown.
"""

from __future__ import annotations

from typing import Any

from app.terminology.codesystems import CodeSystemRegistry
from app.terminology.expansion import ValueSetRegistry
from app.terminology.filters import FilterError, select
from app.terminology.problems import ContentProblem


def check_value_set(
    vs: dict[str, Any],
    file: str,
    codesystems: CodeSystemRegistry,
    valuesets: ValueSetRegistry,
    problems: list[ContentProblem],
) -> None:
    compose = vs["compose"]
    parts = [("include", p) for p in compose.get("include", [])]
    parts += [("exclude", p) for p in compose.get("exclude", [])]
    counters = {"include": 0, "exclude": 0}
    for kind, part in parts:
        path = f"ValueSet.compose.{kind}[{counters[kind]}]"
        counters[kind] += 1
        for j, url in enumerate(part.get("valueSet", [])):
            if valuesets.get(url) is None:
                message = f"imports unknown ValueSet '{url}'"
                problems.append(ContentProblem(file, f"{path}.valueSet[{j}]", message))
        if part.get("system"):
            _check_system_part(part, path, file, codesystems, problems)


def _check_system_part(
    part: dict[str, Any],
    path: str,
    file: str,
    codesystems: CodeSystemRegistry,
    problems: list[ContentProblem],
) -> None:
    system, version = part["system"], part.get("version")
    cs = codesystems.get(system, version)
    if cs is None:
        if version and codesystems.holds(system):
            message = f"version {version} of {system} is not held"
            problems.append(ContentProblem(file, f"{path}.version", message))
        elif not part.get("concept"):
            message = f"{system} is not held, so only listed concepts can be included"
            problems.append(ContentProblem(file, f"{path}.system", message))
        return
    for k, concept in enumerate(part.get("concept", [])):
        if concept["code"] not in cs.concepts:
            message = f"'{concept['code']}' is not in {cs.url}"
            problems.append(ContentProblem(file, f"{path}.concept[{k}].code", message))
    for k, flt in enumerate(part.get("filter", [])):
        try:
            select(cs, flt, f"{path}.filter[{k}]")
        except FilterError as exc:
            problems.append(ContentProblem(file, exc.element, exc.message))


def check_concept_map(
    cm: dict[str, Any],
    file: str,
    codesystems: CodeSystemRegistry,
    valuesets: ValueSetRegistry,
    problems: list[ContentProblem],
) -> None:
    for side in ("source", "target"):
        url = cm.get(f"{side}Canonical")
        if url and valuesets.get(url) is None:
            message = f"'{url}' is not a ValueSet we hold"
            problems.append(ContentProblem(file, f"ConceptMap.{side}Canonical", message))
    for i, group in enumerate(cm.get("group", [])):
        gpath = f"ConceptMap.group[{i}]"
        source = codesystems.get(group["source"], group.get("sourceVersion"))
        target = codesystems.get(group["target"], group.get("targetVersion"))
        for j, element in enumerate(group.get("element", [])):
            epath = f"{gpath}.element[{j}]"
            if source is not None and element["code"] not in source.concepts:
                message = f"'{element['code']}' is not in {source.url}"
                problems.append(ContentProblem(file, f"{epath}.code", message))
            for k, item in enumerate(element.get("target", [])):
                code = item.get("code")
                if target is not None and code and code not in target.concepts:
                    message = f"'{code}' is not in {target.url}"
                    problems.append(ContentProblem(file, f"{epath}.target[{k}].code", message))
