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

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.errors import Issue
from app.ingest.mapping.values import AS_TYPES, convert
from app.ingest.records import ROOT, Scope, SourceRecord

EXPRESSION_KEYS = ("const", "from", "each", "translate", "local", "ref", "copy", "concat")
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
_DROP = object()
"""An expression's value when it found nothing."""


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


@dataclass
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


_SHAPES: dict[int, tuple[Any, bool, bool]] = {}
"""id(template) -> (template, is an expression, reads the source): spec templates live as
long as the process and are evaluated for every unit, so their shape is worked out once."""


def _shape(template: dict[str, Any]) -> tuple[bool, bool]:
    found = _SHAPES.get(id(template))
    if found is not None and found[0] is template:
        return found[1], found[2]
    expression = any(k in template for k in EXPRESSION_KEYS)
    asks = "const" not in template if expression else any(_asks(v) for v in template.values())
    _SHAPES[id(template)] = (template, expression, asks)
    return expression, asks


def is_expression(value: Any) -> bool:
    return isinstance(value, dict) and _shape(value)[0]


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


def _asks(template: Any) -> bool:
    """Whether a template reads the source (so coming out empty means: not sent)."""
    if isinstance(template, list):
        return any(_asks(t) for t in template)
    if isinstance(template, dict):
        return _shape(template)[1]
    return False


def _substitute(value: Any, variables: dict[str, str]) -> Any:
    if isinstance(value, str) and "$" in value:
        for name, replacement in variables.items():
            value = value.replace(name, replacement)
    return value


def evaluate(ev: Evaluation, template: Any, scope: Scope, target: str) -> Any:
    """The JSON value of ``template``, or ``_DROP`` when it produced nothing."""
    if isinstance(template, list):
        out: list[Any] = []
        for item in template:
            value = evaluate(ev, item, scope, target)
            if value is _DROP:
                continue
            if isinstance(value, list) and is_expression(item):
                out.extend(value)
            else:
                out.append(value)
        return out if out else _DROP
    if isinstance(template, dict):
        if is_expression(template):
            return _expression(ev, template, scope, target)
        obj: dict[str, Any] = {}
        found = asked = False
        for key, sub in template.items():
            value = evaluate(ev, sub, scope, f"{target}.{key}")
            if _asks(sub):
                asked = True
                found = found or value is not _DROP
            if value is not _DROP:
                obj[key] = value
        # {system: X, value: <nothing>} is nothing: literals alone do not make an element.
        return obj if obj and (found or not asked) else _DROP
    return _substitute(template, ev.variables)


def _read(ev: Evaluation, expr: dict[str, Any], scope: Scope, target: str) -> Any:
    path = expr["from"]
    found = ev.record.values(path, scope)
    if not found:
        if "default" in expr:
            return _substitute(expr["default"], ev.variables)
        if expr.get("required"):
            ev.problem(path, "is required but missing or empty", target, code="required")
        return _DROP
    results: list[Any] = []
    for text in found if expr.get("all") else found[:1]:
        value: Any = text
        mapping = expr.get("map")
        if mapping is not None:
            if text in mapping:
                value = mapping[text]
            elif "_default" in mapping:
                value = mapping["_default"]
            else:
                known = ", ".join(str(k) for k in mapping if k != "_default")
                ev.problem(path, f"{text!r} is not one of the mapped values ({known})", target)
                continue
        elif "as" in expr:
            try:
                value = convert(text, expr["as"], kind=ev.record.kind, **ev.convert_options)
            except ValueError as exc:
                ev.problem(path, str(exc), target)
                continue
        results.append(value)
    if not results:
        return _DROP
    return results if expr.get("all") else results[0]


def _matches(ev: Evaluation, where: dict[str, Any], scope: Scope) -> bool:
    for path, wanted in where.items():
        have = ev.record.values(path, scope)
        options = wanted if isinstance(wanted, list) else [wanted]
        if not any(str(o) in have for o in options):
            return False
    return True


def _each(ev: Evaluation, expr: dict[str, Any], scope: Scope, target: str) -> Any:
    out: list[Any] = []
    for inner in ev.record.each(expr["each"], scope):
        if "where" in expr and not _matches(ev, expr["where"], inner):
            continue
        if "template" in expr:
            value = evaluate(ev, expr["template"], inner, target)
        else:
            value = _read(ev, {**expr, "required": False}, inner, target)
        if value is not _DROP:
            out.append(value)
    if not out:
        if expr.get("required"):
            path = expr.get("from", expr["each"])
            ev.problem(path, "is required but missing", target, "required")
        return _DROP
    if "from" in expr and "template" not in expr and not expr.get("all"):
        return out[0]
    return out


def _codings(ev: Evaluation, expr: dict[str, Any], scope: Scope, target: str) -> Any:
    path = expr["translate"] if "translate" in expr else expr["local"]
    found = ev.record.values(path, scope)
    if not found:
        return _DROP
    out: list[dict[str, Any]] = []
    for code in found:
        local = ev.local(code)
        if isinstance(local, str):
            if not expr.get("optional"):
                ev.problem(path, local, target, code="code-invalid")
            continue
        if "local" in expr or expr.get("keep_local"):
            out.append(_coding(local))
        if "translate" in expr:
            mapped = ev.translate(code, expr["target"])
            if isinstance(mapped, str):
                if not expr.get("optional"):
                    ev.problem(path, mapped, target, code="code-invalid")
                continue
            out.extend(_coding(c) for c in mapped)
    return out if out else _DROP


def _coding(c: Coded) -> dict[str, Any]:
    out = {"system": c.system, "code": c.code}
    if c.display:
        out["display"] = c.display
    return out


def _reference(ev: Evaluation, expr: dict[str, Any], scope: Scope, target: str) -> Any:
    ref = expr["ref"]
    if isinstance(ref, str):
        found = ev.aliases.get(ref)
        return {"reference": found} if found else _DROP
    if "resolve" in ref:
        # A vendor Bundle's own reference (fullUrl or Type/id) to another entry of it.
        source = ev.record.values(ref["resolve"], scope)
        if not source:
            return _DROP
        found = ev.aliases.get(f"@{source[0]}")
        if found is None:
            if ref.get("required", expr.get("required")):
                ev.problem(ref["resolve"], f"{source[0]!r} is not an entry of this input", target)
            return _DROP
        return {"reference": found}
    res_type = ref["type"]
    parts: list[str] = []
    for part in ref.get("key", []):
        value = evaluate(ev, part, scope, target)
        if value is _DROP:
            if ref.get("required", expr.get("required")):
                path = part.get("from", "") if isinstance(part, dict) else ""
                ev.problem(path, f"the {res_type} reference has no key value", target, "required")
            return _DROP
        parts.append(str(value))
    return {"reference": f"{res_type}/{ev.id_for(res_type, ref.get('identity'), parts)}"}


def _expression(ev: Evaluation, expr: dict[str, Any], scope: Scope, target: str) -> Any:
    if "const" in expr:
        return _substitute(expr["const"], ev.variables)
    if "each" in expr:
        return _each(ev, expr, scope, target)
    if "ref" in expr:
        return _reference(ev, expr, scope, target)
    if "from" in expr:
        return _read(ev, expr, scope, target)
    if "translate" in expr or "local" in expr:
        return _codings(ev, expr, scope, target)
    if "copy" in expr:
        items = copy.deepcopy(ev.record.items(expr["copy"], scope))
        if not items and expr.get("required"):
            ev.problem(expr["copy"], "is required but missing", target, code="required")
        return items if items else _DROP
    if "concat" in expr:
        pieces = [evaluate(ev, p, scope, target) for p in expr["concat"]]
        text = expr.get("sep", " ").join(str(p) for p in pieces if p is not _DROP)
        return text if text else _DROP
    raise AssertionError(expr)


def dropped(value: Any) -> bool:
    return value is _DROP


__all__ = ["ROOT", "Coded", "Evaluation", "check_template", "dropped", "evaluate"]
