"""ValueSet.compose.include.filter over one CodeSystem: which codes each filter selects.

Properties a filter may name: ``concept``/``code`` (hierarchy ops), ``display``, ``parent``,
``child``, ``inactive``, ``notSelectable``, or any property the CodeSystem declares.
"""

from __future__ import annotations

import re
from typing import Any

from app.terminology.codesystems import CodeSystemIndex, Concept

HIERARCHY_OPS = frozenset({"is-a", "descendent-of", "is-not-a", "generalizes"})
BUILT_IN = frozenset({"concept", "code", "display", "parent", "child", "inactive", "notSelectable"})


class FilterError(Exception):
    def __init__(self, element: str, message: str) -> None:
        super().__init__(message)
        self.element = element
        self.message = message


def _values(concept: Concept, prop: str) -> list[str]:
    """A concept's values for ``prop`` as text, the form filter values are written in."""
    if prop in ("code", "concept"):
        return [concept.code]
    if prop == "display":
        return [concept.display] if concept.display else []
    if prop == "parent":
        return list(concept.parents)
    if prop == "child":
        return list(concept.children)
    out = []
    for p in concept.properties:
        if p.code == prop:
            value = p.value
            if isinstance(value, bool):
                out.append("true" if value else "false")
            elif isinstance(value, str | int | float):
                out.append(str(value))
            else:
                out.append(value.code)
    if not out and prop == "inactive":
        out.append("true" if concept.inactive else "false")
    if not out and prop == "notSelectable":
        out.append("true" if concept.abstract else "false")
    return out


def _hierarchy(cs: CodeSystemIndex, prop: str, op: str, value: str, path: str) -> set[str]:
    if prop not in ("concept", "code"):
        raise FilterError(f"{path}.property", f"'{op}' filters need property 'concept'")
    if value not in cs.concepts:
        raise FilterError(f"{path}.value", f"'{value}' is not in {cs.url}")
    below = {c.code for c in cs.concepts.values() if value in c.ancestors}
    if op == "is-a":
        return below | {value}
    if op == "descendent-of":
        return below
    if op == "generalizes":
        return set(cs.concepts[value].ancestors) | {value}
    return set(cs.concepts) - below - {value}


def _regex(cs: CodeSystemIndex, prop: str, value: str, path: str) -> set[str]:
    try:
        pattern = re.compile(value)
    except re.error as exc:
        raise FilterError(f"{path}.value", f"invalid regex: {exc}") from exc
    return {
        c.code for c in cs.concepts.values() if any(pattern.fullmatch(v) for v in _values(c, prop))
    }


def select(cs: CodeSystemIndex, flt: dict[str, Any], path: str) -> set[str]:
    """The codes of ``cs`` the filter selects; unknown properties or codes are errors."""
    prop, op, value = flt["property"], flt["op"], flt["value"]
    if prop not in BUILT_IN and prop not in cs.property_types:
        message = f"filter property '{prop}' is not a property of {cs.url}"
        raise FilterError(f"{path}.property", message)
    if op in HIERARCHY_OPS:
        return _hierarchy(cs, prop, op, value, path)
    if op == "exists":
        wanted = value == "true"
        return {c.code for c in cs.concepts.values() if bool(_values(c, prop)) == wanted}
    if op == "regex":
        return _regex(cs, prop, value, path)
    accepted = {v.strip() for v in value.split(",")} if op in ("in", "not-in") else {value}
    if prop in ("concept", "code") and op in ("in", "not-in"):
        for code in accepted - set(cs.concepts):
            raise FilterError(f"{path}.value", f"'{code}' is not in {cs.url}")
    hits = {c.code for c in cs.concepts.values() if accepted.intersection(_values(c, prop))}
    return set(cs.concepts) - hits if op == "not-in" else hits
