"""Evaluating a mapping template against one source record.

A template is YAML: a mapping is either an *expression* (it has one of ``EXPRESSION_KEYS``)
or a nested object; a list is a list whose empty items are dropped; anything else is a
literal, where ``$id.<name>``, ``$ods.organization``, ``$ods.site`` and ``$centre`` are
substituted. Empty results prune their parents, so a template can list every element a
centre might send and only what is there is written.

Problems are collected, not raised one by one, so a quarantined message lists everything
wrong with it at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.errors import Issue
from app.ingest.mapping.compiled import (
    DROP,
    EXPRESSION_KEYS,
    Node,
    compile_template,
    is_expression,
)
from app.ingest.mapping.values import AS_TYPES
from app.ingest.records import ROOT, Scope, SourceRecord

_MODIFIERS = {
    "const": set(),
    "from": {"as", "map", "default", "required", "all", "where"},
    "each": {"where", "from", "template", "as", "map", "default", "required"},
    "translate": {"target", "optional", "keep_local"},
    "local": {"optional"},
    "ref": {"type", "identity", "key", "required", "from", "as"},
    "copy": {"required"},
    "concat": {"sep"},
}


@dataclass(frozen=True, slots=True)
class Coded:
    system: str
    code: str
    display: str | None


Translate = Callable[[str, str], list[Coded] | str]
"""(local code, target system) -> codings, or a message saying why there is none."""
LocalCode = Callable[[str], Coded | str]
"""local code -> its Coding in the centre's local system, or a message."""
IdFor = Callable[[str, str | None, list[str]], str]
"""(resource type, identity, key parts) -> the deterministic id."""


@dataclass(slots=True)
class Evaluation:
    """What one unit's templates share: the record, the centre's settings, the aliases
    mapped so far, and the problems found."""

    record: SourceRecord
    variables: dict[str, str]
    translate: Translate
    local: LocalCode
    id_for: IdFor
    convert_options: dict[str, Any]
    aliases: dict[str, str] = field(default_factory=dict)
    issues: list[Issue] = field(default_factory=list)

    def problem(self, source: str, message: str, target: str, code: str = "value") -> None:
        where = f"{source} ({self.record.position})" if source else self.record.position
        self.issues.append(Issue("error", code, f"{where}: {message}", (target,) if target else ()))


def check_template(template: Any, aliases: set[str]) -> None:
    """Raise ``ValueError`` for a template the engine could not evaluate (at load time)."""
    if isinstance(template, list):
        for item in template:
            check_template(item, aliases)
    elif is_expression(template):
        _check_expression(template, aliases)
    elif isinstance(template, dict):
        for value in template.values():
            check_template(value, aliases)


def _check_expression(template: dict[str, Any], aliases: set[str]) -> None:
    kinds = [k for k in EXPRESSION_KEYS if k in template]
    if len(kinds) > 1 and kinds not in (["from", "each"], ["from", "ref"]):
        raise ValueError(f"an expression has one of {EXPRESSION_KEYS}, not {kinds}")
    kind = "each" if "each" in kinds else ("ref" if "ref" in kinds else kinds[0])
    unknown = set(template) - {kind} - _MODIFIERS[kind] - ({"from"} if kind != "from" else set())
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)} in a '{kind}' expression")
    if "as" in template and template["as"] not in AS_TYPES:
        raise ValueError(f"'as: {template['as']}' is not one of {AS_TYPES}")
    if kind == "translate" and "target" not in template:
        raise ValueError("'translate' needs a 'target' code system")
    if kind == "ref" and isinstance(template["ref"], str) and template["ref"] not in aliases:
        raise ValueError(f"'ref: {template['ref']}' names no alias in this rule")
    if "template" in template:
        check_template(template["template"], aliases)
    if kind == "concat":
        check_template(template["concat"], aliases)


_COMPILED: dict[tuple[int, str], tuple[Any, Node]] = {}
"""(id(template), target) -> (template, its node), for callers holding plain templates; the
engine compiles its spec's templates once (``compile_template``) and calls the nodes."""


def evaluate(ev: Evaluation, template: Any, scope: Scope, target: str) -> Any:
    """The JSON value of ``template``, or a dropped value when it produced nothing."""
    key = (id(template), target)
    found = _COMPILED.get(key)
    if found is None or found[0] is not template:
        found = (template, compile_template(template, target))
        _COMPILED[key] = found
    return found[1](ev, scope)


def dropped(value: Any) -> bool:
    return value is DROP


__all__ = [
    "EXPRESSION_KEYS",
    "ROOT",
    "Coded",
    "Evaluation",
    "Node",
    "check_template",
    "compile_template",
    "dropped",
    "evaluate",
    "is_expression",
]
