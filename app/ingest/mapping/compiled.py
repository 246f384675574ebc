"""Mapping templates compiled once into closures, so mapping a record does no shape analysis.

``compile_template(template, target)`` turns a template (see ``expressions``) into a
``Node``: a function of the unit's ``Evaluation`` and a ``Scope`` giving the template's JSON
value, or ``DROP`` when it produced nothing. Everything that depends only on the template is
worked out here: which dicts are expressions, which parts read the source, the target path
each problem is reported at, an expression's modifiers. A node does at run time exactly what
interpreting the template did (same output, same issues in the same order); a template the
interpreter would fail on at run time (a ``translate`` with no ``target``, a ``concat`` that
is not a list) fails the same way when its node runs, never at compile time.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from app.ingest.mapping.values import convert, text_converter
from app.ingest.records import Scope

if TYPE_CHECKING:
    from app.ingest.mapping.expressions import Coded, Evaluation

EXPRESSION_KEYS = ("const", "from", "each", "translate", "local", "ref", "copy", "concat")
DROP = object()
"""An expression's value when it found nothing."""

Node = Callable[["Evaluation", Scope], Any]


def is_expression(value: Any) -> bool:
    return isinstance(value, dict) and any(k in value for k in EXPRESSION_KEYS)


def asks(template: Any) -> bool:
    """Whether a template reads the source (so coming out empty means: not sent)."""
    if isinstance(template, list):
        return any(asks(t) for t in template)
    if isinstance(template, dict):
        if is_expression(template):
            return "const" not in template
        return any(asks(v) for v in template.values())
    return False


def compile_template(template: Any, target: str) -> Node:
    """``template`` as a node; ``target`` is the resource path its problems are reported at."""
    if isinstance(template, list):
        return _list(template, target)
    if isinstance(template, dict):
        if is_expression(template):
            return _expression(template, target)
        return _object(template, target)
    return _literal(template)


def _literal(value: Any) -> Node:
    if isinstance(value, str) and "$" in value:
        text: str = value
        # The result per variables dict (one per mapper, never changed), kept with it.
        done: dict[int, tuple[dict[str, str], str]] = {}

        def substitute(ev: Evaluation, _scope: Scope) -> Any:
            variables = ev.variables
            known = done.get(id(variables))
            if known is not None and known[0] is variables:
                return known[1]
            out = text
            for name, replacement in variables.items():
                out = out.replace(name, replacement)
            if len(done) < 64:
                done[id(variables)] = (variables, out)
            return out

        return substitute

    def literal(_ev: Evaluation, _scope: Scope) -> Any:
        return value

    return literal


_VARIES = object()
"""A template's value when it is not a constant known at compile time."""


def _constant(template: Any) -> Any:
    """The value of a plain scalar literal (immutable, so one object serves every record),
    or ``_VARIES``."""
    if isinstance(template, list | dict) or (isinstance(template, str) and "$" in template):
        return _VARIES
    return template


def _list(template: list[Any], target: str) -> Node:
    items = [
        (compile_template(item, target), is_expression(item), _constant(item)) for item in template
    ]

    def list_node(ev: Evaluation, scope: Scope) -> Any:
        out: list[Any] = []
        for node, expression, constant in items:
            if constant is not _VARIES:
                out.append(constant)
                continue
            value = node(ev, scope)
            if value is DROP:
                continue
            if expression and isinstance(value, list):
                out.extend(value)
            else:
                out.append(value)
        return out if out else DROP

    return list_node


def _object(template: dict[Any, Any], target: str) -> Node:
    fields = [
        (key, compile_template(sub, f"{target}.{key}"), asks(sub), _constant(sub))
        for key, sub in template.items()
    ]
    if not any(asked for _, _, asked, _ in fields):

        def literal_object(ev: Evaluation, scope: Scope) -> Any:
            obj: dict[Any, Any] = {}
            for key, node, _, constant in fields:
                if constant is not _VARIES:
                    obj[key] = constant
                    continue
                value = node(ev, scope)
                if value is not DROP:
                    obj[key] = value
            return obj if obj else DROP

        return literal_object

    def object_node(ev: Evaluation, scope: Scope) -> Any:
        # {system: X, value: <nothing>} is nothing: literals alone do not make an element.
        obj: dict[Any, Any] = {}
        found = False
        for key, node, asked, constant in fields:
            if constant is not _VARIES:
                obj[key] = constant  # a literal: never asked, never dropped
                continue
            value = node(ev, scope)
            if value is not DROP:
                obj[key] = value
                if asked:
                    found = True
        return obj if found else DROP

    return object_node


def _expression(expr: dict[str, Any], target: str) -> Node:
    if "const" in expr:
        return _literal(expr["const"])
    if "each" in expr:
        return _each(expr, target)
    if "ref" in expr:
        from app.ingest.mapping.references import compile_reference

        return compile_reference(expr, target)
    if "from" in expr:
        return _reader(expr, target, expr.get("required"))
    if "translate" in expr or "local" in expr:
        return _codings(expr, target)
    if "copy" in expr:
        return _copy(expr, target)
    return _concat(expr, target)


def compile_all(items: Any, target: str) -> list[Node] | None:
    """Each of ``items`` compiled, or None when it cannot be iterated (the node then fails as
    the interpreter did: with ``iter(items)``)."""
    try:
        iterable: Iterable[Any] = iter(items)
    except TypeError:
        return None
    return [compile_template(item, target) for item in iterable]


def _reader(expr: dict[str, Any], target: str, required: Any) -> Node:
    path = expr["from"]
    missing = _missing(expr, path, target, required)
    mapping = expr.get("map")
    if not expr.get("all") and isinstance(mapping, dict):
        return _mapped_reader(path, mapping, target, missing)
    if not expr.get("all") and mapping is None and "as" in expr:
        as_type = expr["as"]
        return _typed_reader(path, as_type, text_converter(as_type), target, missing)
    if expr.get("all") or mapping is not None or "as" in expr:
        return _converting_reader(expr, path, target, missing)

    def read_first(ev: Evaluation, scope: Scope) -> Any:
        found = ev.record.values(path, scope)
        return found[0] if found else missing(ev, scope)

    return read_first


def _missing(expr: dict[str, Any], path: Any, target: str, required: Any) -> Node:
    """What a read gives when the source has no value: the default, or nothing."""
    if "default" in expr:
        return _literal(expr["default"])

    def missing(ev: Evaluation, _scope: Scope) -> Any:
        if required:
            ev.problem(path, "is required but missing or empty", target, code="required")
        return DROP

    return missing


def _converting_reader(expr: dict[str, Any], path: Any, target: str, missing: Node) -> Node:
    """A read with ``all``, ``map`` or ``as``."""
    read_all = expr.get("all")
    mapping = expr.get("map")
    has_as = "as" in expr
    as_type: Any = expr.get("as")
    from_text = text_converter(as_type) if has_as else None

    def read(ev: Evaluation, scope: Scope) -> Any:
        found = ev.record.values(path, scope)
        if not found:
            return missing(ev, scope)
        results: list[Any] = []
        for text in found if read_all else found[:1]:
            value: Any = text
            if mapping is not None:
                if text in mapping:
                    value = mapping[text]
                elif "_default" in mapping:
                    value = mapping["_default"]
                else:
                    known = ", ".join(str(k) for k in mapping if k != "_default")
                    ev.problem(path, f"{text!r} is not one of the mapped values ({known})", target)
                    continue
            elif has_as:
                try:
                    if from_text is not None:
                        value = from_text(text)
                    else:
                        value = convert(text, as_type, kind=ev.record.kind, **ev.convert_options)
                except ValueError as exc:
                    ev.problem(path, str(exc), target)
                    continue
            results.append(value)
        if not results:
            return DROP
        return results if read_all else results[0]

    return read


def _mapped_reader(path: Any, mapping: dict[Any, Any], target: str, missing: Node) -> Node:
    """``_converting_reader`` for the first value through a ``map``."""

    def read_mapped(ev: Evaluation, scope: Scope) -> Any:
        found = ev.record.values(path, scope)
        if not found:
            return missing(ev, scope)
        text = found[0]
        if text in mapping:
            return mapping[text]
        if "_default" in mapping:
            return mapping["_default"]
        known = ", ".join(str(k) for k in mapping if k != "_default")
        ev.problem(path, f"{text!r} is not one of the mapped values ({known})", target)
        return DROP

    return read_mapped


def _typed_reader(
    path: Any, as_type: Any, from_text: Callable[[str], Any] | None, target: str, missing: Node
) -> Node:
    """``_converting_reader`` for the first value ``as`` a type."""

    def read_as(ev: Evaluation, scope: Scope) -> Any:
        found = ev.record.values(path, scope)
        if not found:
            return missing(ev, scope)
        try:
            if from_text is not None:
                return from_text(found[0])
            return convert(found[0], as_type, kind=ev.record.kind, **ev.convert_options)
        except ValueError as exc:
            ev.problem(path, str(exc), target)
            return DROP

    return read_as


Matcher = Callable[["Evaluation", Scope], bool]


def _matcher(where: Any) -> Matcher:
    if not isinstance(where, dict):

        def malformed(ev: Evaluation, scope: Scope) -> bool:
            for path, wanted in where.items():  # fails as the interpreter did
                have = ev.record.values(path, scope)
                options = wanted if isinstance(wanted, list) else [wanted]
                if not any(str(o) in have for o in options):
                    return False
            return True

        return malformed
    tests = [
        (path, [str(o) for o in (wanted if isinstance(wanted, list) else [wanted])])
        for path, wanted in where.items()
    ]

    def matches(ev: Evaluation, scope: Scope) -> bool:
        for path, options in tests:
            have = ev.record.values(path, scope)
            for option in options:
                if option in have:
                    break
            else:
                return False
        return True

    return matches


def _each(expr: dict[str, Any], target: str) -> Node:
    each_path = expr["each"]
    where = _matcher(expr["where"]) if "where" in expr else None
    inner_node: Node
    if "template" in expr:
        inner_node = compile_template(expr["template"], target)
    elif "from" in expr:
        inner_node = _reader(expr, target, False)
    else:

        def no_from(_ev: Evaluation, _scope: Scope) -> Any:
            return expr["from"]  # KeyError, as the interpreter raised

        inner_node = no_from
    required = expr.get("required")
    required_path = expr.get("from", each_path)
    first = "from" in expr and "template" not in expr and not expr.get("all")

    def each(ev: Evaluation, scope: Scope) -> Any:
        out: list[Any] = []
        for inner in ev.record.each(each_path, scope):
            if where is not None and not where(ev, inner):
                continue
            value = inner_node(ev, inner)
            if value is not DROP:
                out.append(value)
        if not out:
            if required:
                ev.problem(required_path, "is required but missing", target, "required")
            return DROP
        return out[0] if first else out

    return each


def coding(c: Coded) -> dict[str, Any]:
    out = {"system": c.system, "code": c.code}
    if c.display:
        out["display"] = c.display
    return out


def _codings(expr: dict[str, Any], target: str) -> Node:
    translate = "translate" in expr
    path = expr["translate"] if translate else expr["local"]
    optional = expr.get("optional")
    keep_local = "local" in expr or expr.get("keep_local")
    has_system = "target" in expr
    system: Any = expr.get("target")

    def codings(ev: Evaluation, scope: Scope) -> Any:
        found = ev.record.values(path, scope)
        if not found:
            return DROP
        out: list[dict[str, Any]] = []
        for code in found:
            local = ev.local(code)
            if isinstance(local, str):
                if not optional:
                    ev.problem(path, local, target, code="code-invalid")
                continue
            if keep_local:
                out.append(coding(local))
            if translate:
                mapped = ev.translate(code, system if has_system else expr["target"])
                if isinstance(mapped, str):
                    if not optional:
                        ev.problem(path, mapped, target, code="code-invalid")
                    continue
                out.extend(coding(c) for c in mapped)
        return out if out else DROP

    return codings


def _copy(expr: dict[str, Any], target: str) -> Node:
    path = expr["copy"]
    required = expr.get("required")

    def copy_node(ev: Evaluation, scope: Scope) -> Any:
        items = copy.deepcopy(ev.record.items(path, scope))
        if not items and required:
            ev.problem(path, "is required but missing", target, code="required")
        return items if items else DROP

    return copy_node


def _concat(expr: dict[str, Any], target: str) -> Node:
    raw = expr["concat"]
    parts = compile_all(raw, target)
    sep = expr.get("sep", " ")

    def concat(ev: Evaluation, scope: Scope) -> Any:
        pieces = [part(ev, scope) for part in (parts if parts is not None else iter(raw))]
        text = sep.join(str(p) for p in pieces if p is not DROP)
        return text if text else DROP

    return concat
