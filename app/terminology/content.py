"""Loading a terminology content directory: read, check, index, pre-expand, or fail loudly.

A content mistake (a map target that does not exist, a ValueSet naming an unknown code) must
stop the service at start-up with the file and element named, never surface later as a
wrong answer. All problems of one load are reported together.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.terminology.codesystems import INDEXED_CONTENT, CodeSystemRegistry, build_code_system
from app.terminology.consistency import check_concept_map, check_value_set
from app.terminology.expansion import ComposeError, Expander, ValueSetRegistry
from app.terminology.problems import ContentProblem, TerminologyContentError
from app.terminology.structure import check_resource
from app.terminology.translate import ConceptMapIndex

__all__ = ["Content", "ContentProblem", "TerminologyContentError", "load_directory"]


@dataclass
class Content:
    codesystems: CodeSystemRegistry = field(default_factory=CodeSystemRegistry)
    valuesets: ValueSetRegistry = field(default_factory=ValueSetRegistry)
    conceptmaps: ConceptMapIndex | None = None
    resources: list[dict[str, Any]] = field(default_factory=list)
    expander: Expander | None = None


def _read(directory: Path, problems: list[ContentProblem]) -> list[tuple[str, Any]]:
    found = []
    for path in sorted(directory.rglob("*.json")):
        name = path.relative_to(directory.parent).as_posix()
        try:
            found.append((name, json.loads(path.read_text(encoding="utf-8"))))
        except (ValueError, UnicodeDecodeError) as exc:
            problems.append(ContentProblem(name, "(file)", f"not valid JSON: {exc}"))
    return found


def load_directory(directory: Path) -> Content:
    """Everything under ``directory``; raises ``TerminologyContentError`` listing every problem."""
    problems: list[ContentProblem] = []
    if not directory.is_dir():
        raise TerminologyContentError(
            [ContentProblem(str(directory), "(directory)", "is not a directory")]
        )
    content = Content()
    seen: dict[tuple[str, str, str], str] = {}
    checked: list[tuple[str, dict[str, Any]]] = []
    for name, resource in _read(directory, problems):
        if not check_resource(resource, name, problems):
            continue
        kind = resource["resourceType"]
        key = (kind, resource["url"], resource["version"])
        if key in seen:
            message = f"{resource['url']}|{resource['version']} is also defined in {seen[key]}"
            problems.append(ContentProblem(name, f"{kind}.url", message))
            continue
        seen[key] = name
        resource.setdefault("id", Path(name).stem)
        checked.append((name, resource))
        content.resources.append(resource)
    _index(content, checked, problems)
    if problems:
        raise TerminologyContentError(problems)
    return content


def _index(
    content: Content, checked: list[tuple[str, dict[str, Any]]], problems: list[ContentProblem]
) -> None:
    for name, resource in checked:
        if resource["resourceType"] == "CodeSystem" and resource["content"] in INDEXED_CONTENT:
            content.codesystems.add(build_code_system(resource, name, problems))
        elif resource["resourceType"] == "ValueSet":
            content.valuesets.add(resource)
    content.conceptmaps = ConceptMapIndex(content.codesystems)
    for name, resource in checked:
        if resource["resourceType"] == "ConceptMap":
            check_concept_map(resource, name, content.codesystems, content.valuesets, problems)
            content.conceptmaps.add(resource)
    expander = Expander(content.codesystems, content.valuesets)
    content.expander = expander
    for name, resource in checked:
        if resource["resourceType"] != "ValueSet":
            continue
        before = len(problems)
        check_value_set(resource, name, content.codesystems, content.valuesets, problems)
        if len(problems) > before:
            continue
        try:
            expander.expansion_of(resource["url"], resource["version"])
        except ComposeError as exc:
            problems.append(ContentProblem(name, exc.element, exc.message))


def published(content: Content) -> list[dict[str, Any]]:
    """Copies, so a caller storing or rendering them cannot change what we answer from."""
    return copy.deepcopy(content.resources)
