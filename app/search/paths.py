"""A compiled subset of FHIRPath: the constructs the R4 SearchParameter expressions use.

Evaluating FHIRPath at write time costs ~130 µs per expression with fhirpathpy; index
extraction runs on every write, so instead each expression is compiled once into *typed
branches*: a sequence of steps over the resource's JSON plus the static FHIR type of the
values it ends on (resolved from the vendored element table, so a choice element such as
``Observation.value`` becomes one branch per variant: ``valueQuantity`` as Quantity, ...).

Supported: dotted paths, ``|`` unions, parentheses, ``X.ofType(T)`` / ``X.as(T)`` /
``X as T``, ``where(resolve() is T)`` (references to T only), ``where(f='literal')``
equality filters on a primitive child, ``extension('url')``. Anything else raises
:class:`Unsupported` with a readable reason, and the parameter is left out.

A branch is run push-style: ``walk(node, sink, grp)`` calls the terminal function for each
value reached, so no intermediate lists are built. A key step is fused with the step after it
(one Python call per value instead of two: calls are most of the cost), and each compiled
walker records the top-level key it starts at (``entry_key``), so extraction can skip the
walkers a resource has no value for.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import orjson

_ELEMENTS = Path(__file__).parent.parent / "validation" / "definitions" / "r4-elements.json"

Terminal = Callable[[Any, Any, "int | None"], None]
"""(value, sink, grp) -> None: turns one reached value into index rows."""
Walker = Callable[[Any, Any, "int | None"], None]


class Unsupported(ValueError):
    """The expression uses something the compiled subset does not cover."""


@cache
def _types() -> dict[str, dict[str, list[Any]]]:
    types: dict[str, dict[str, list[Any]]] = orjson.loads(_ELEMENTS.read_bytes())["types"]
    return types


@cache
def _resource_types() -> frozenset[str]:
    data = orjson.loads(_ELEMENTS.read_bytes())
    return frozenset(data["resources"])


def is_resource_type(name: str) -> bool:
    return name in _resource_types()


@dataclass(frozen=True, slots=True)
class Step:
    kind: str  # "key" | "eq" | "ref"
    arg: str
    value: str = ""


@dataclass(frozen=True, slots=True)
class Branch:
    """One typed route through the JSON: steps, then values of FHIR type ``type``."""

    steps: tuple[Step, ...]
    type: str
    choice: bool = False
    """Reached through a choice element with no ofType(): one of several variants."""
    many: bool = False
    """Passes through an element that may repeat: a resource can have several values."""

    def compile(self, terminal: Terminal) -> Walker:
        fn: Walker = terminal
        steps = list(self.steps)
        while steps:
            step = steps.pop()
            if steps and steps[-1].kind == "key":  # one call per value instead of two
                fn = _compile_pair(steps.pop().arg, step, fn)
            else:
                fn = _compile_step(step, fn)
        if self.steps and self.steps[0].kind == "key":
            _ENTRY_KEYS[fn] = _entry(self.steps, terminal)
        return fn


Entry = tuple[str, str | None, Terminal | None]
"""(first key, second key, terminal): see ``entry_key``."""

_ENTRY_KEYS: weakref.WeakKeyDictionary[Walker, Entry] = weakref.WeakKeyDictionary()


def _entry(steps: tuple[Step, ...], terminal: Terminal) -> Entry:
    if len(steps) == 1:
        return steps[0].arg, None, terminal
    if len(steps) == 2 and steps[1].kind == "key":
        return steps[0].arg, steps[1].arg, terminal
    return steps[0].arg, None, None


def entry_key(walker: Walker) -> Entry | None:
    """The JSON key a compiled walker reads first; when the path is that key, or that key
    and one more, also the second key (or None) and the terminal. None if the walker is
    unknown (e.g. hand-written).

    Given a dict without the first key, the walker reaches no value, so extraction can skip
    it; with the terminal, the caller can walk the one or two keys itself (no calls).
    """
    return _ENTRY_KEYS.get(walker)


def _compile_step(step: Step, nxt: Walker) -> Walker:
    if step.kind == "key":
        key = step.arg

        def key_step(node: Any, sink: Any, grp: int | None) -> None:
            if type(node) is not dict:
                return
            value = node.get(key)
            if value is None:
                return
            if type(value) is list:
                for item in value:
                    nxt(item, sink, grp)
            else:
                nxt(value, sink, grp)

        return key_step
    if step.kind == "eq":
        field, literal = step.arg, step.value

        def eq_step(node: Any, sink: Any, grp: int | None) -> None:
            if type(node) is dict and node.get(field) == literal:
                nxt(node, sink, grp)

        return eq_step
    target = step.arg

    def ref_step(node: Any, sink: Any, grp: int | None) -> None:
        if type(node) is dict and reference_type(node.get("reference")) == target:
            nxt(node, sink, grp)

    return ref_step


def _compile_pair(key: str, step: Step, nxt: Walker) -> Walker:
    """A key step and the step after it, fused: what ``_compile_step`` twice would do."""
    if step.kind == "key":
        return _key_key(key, step.arg, nxt)
    if step.kind == "eq":
        return _key_eq(key, step.arg, step.value, nxt)
    return _key_ref(key, step.arg, nxt)


def _key_key(key: str, inner: str, nxt: Walker) -> Walker:
    def key_key_step(node: Any, sink: Any, grp: int | None) -> None:
        if type(node) is not dict:
            return
        value = node.get(key)
        if value is None:
            return
        for item in value if type(value) is list else (value,):
            if type(item) is dict:
                found = item.get(inner)
                if found is None:
                    continue
                if type(found) is list:
                    for leaf in found:
                        nxt(leaf, sink, grp)
                else:
                    nxt(found, sink, grp)

    return key_key_step


def _key_eq(key: str, field: str, literal: str, nxt: Walker) -> Walker:
    def key_eq_step(node: Any, sink: Any, grp: int | None) -> None:
        if type(node) is not dict:
            return
        value = node.get(key)
        if value is None:
            return
        for item in value if type(value) is list else (value,):
            if type(item) is dict and item.get(field) == literal:
                nxt(item, sink, grp)

    return key_eq_step


def _key_ref(key: str, target: str, nxt: Walker) -> Walker:
    def key_ref_step(node: Any, sink: Any, grp: int | None) -> None:
        if type(node) is not dict:
            return
        value = node.get(key)
        if value is None:
            return
        for item in value if type(value) is list else (value,):
            if type(item) is not dict:
                continue
            ref = item.get("reference")  # reference_type(ref), inline
            if type(ref) is str and _text_reference_type(ref) == target:
                nxt(item, sink, grp)

    return key_ref_step


_REF_TAIL = re.compile(r"(?:^|/)([A-Z][A-Za-z]+)/([A-Za-z0-9\-.]{1,64})(?:/_history/[^/]+)?$")


def reference_type(reference: Any) -> str | None:
    """The resource type a literal reference points at (what ``resolve() is T`` tests)."""
    if type(reference) is not str:
        return None
    return _text_reference_type(reference)


@lru_cache(maxsize=8192)
def _text_reference_type(reference: str) -> str | None:
    """Cached: several parameters test the same reference (subject, patient, ...)."""
    match = _REF_TAIL.search(reference)
    if match and is_resource_type(match.group(1)):
        return match.group(1)
    return None


# ---------------------------------------------------------------------------------------
# Parsing


def _split_top(text: str, sep: str) -> list[str]:
    """Split on ``sep`` outside parentheses and quotes."""
    parts, depth, quote, start = [], 0, False, 0
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "'":
            quote = not quote
        elif not quote:
            if ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            elif depth == 0 and text.startswith(sep, i):
                parts.append(text[start:i])
                start = i + len(sep)
                i += len(sep)
                continue
        i += 1
    parts.append(text[start:])
    return [p.strip() for p in parts]


def _unwrap(part: str) -> str:
    """``(A.b.ofType(T)).c`` -> ``A.b.ofType(T).c``; ``A.b as T`` -> ``A.b.ofType(T)``."""
    part = part.strip()
    if part.startswith("("):
        depth = 0
        for i, ch in enumerate(part):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0:
                part = _unwrap(part[1:i]) + part[i + 1 :]
                break
    match = re.fullmatch(r"(.+?)\s+as\s+([A-Za-z]+)", part)
    if match:
        part = f"{match.group(1)}.ofType({match.group(2)})"
    return part


_CALL = re.compile(r"^([a-zA-Z]+)\((.*)\)$", re.S)
_NAME = re.compile(r"^[a-zA-Z][A-Za-z0-9]*$")
_EQ = re.compile(r"^([a-z][A-Za-z0-9]*)\s*=\s*'([^']*)'$")
_IS = re.compile(r"^resolve\(\)\s+is\s+([A-Z][A-Za-z]+)$")


@dataclass(slots=True)
class _Partial:
    steps: tuple[Step, ...]
    type: str
    choice: bool = False
    many: bool = False


# FHIRPath System types as they sometimes appear in ofType() (e.g. ofType(DateTime)).
_SYSTEM_TYPES = {
    "DateTime": "dateTime",
    "String": "string",
    "Boolean": "boolean",
    "Decimal": "decimal",
    "Integer": "integer",
    "Date": "date",
    "Time": "time",
}


def _children(type_name: str, name: str) -> list[tuple[str, str]]:
    """(json key, FHIR type) for element ``name`` of ``type_name`` (several for a choice)."""
    elements = _types().get(type_name)
    if elements is None:
        raise Unsupported(f"unknown type {type_name}")
    spec = elements.get(name)
    if spec is not None and (len(spec) < 4 or spec[3] is None):
        return [(name, spec[2])]
    found = [(key, s[2]) for key, s in elements.items() if len(s) > 3 and s[3] == name]
    if not found:
        raise Unsupported(f"{type_name} has no element '{name}'")
    return found


def _is_primitive(type_name: str) -> bool:
    return type_name[:1].islower()


def _apply_name(branches: list[_Partial], token: str) -> list[_Partial]:
    if not _NAME.match(token):
        raise Unsupported(f"cannot compile step '{token}'")
    out = []
    for b in branches:
        if _is_primitive(b.type):
            raise Unsupported(f"step '{token}' below primitive {b.type}")
        children = _children(b.type, token)
        choice = len(children) > 1
        for key, kind in children:
            many = b.many or _types()[b.type][key][1] != 1
            out.append(_Partial((*b.steps, Step("key", key)), kind, choice, many))
    return out


def _apply_where(branches: list[_Partial], arg: str) -> list[_Partial]:
    is_match = _IS.match(arg)
    if is_match:
        target = is_match.group(1)
        if any(b.type != "Reference" for b in branches):
            raise Unsupported("resolve() on a non-Reference")
        return [
            _Partial((*b.steps, Step("ref", target)), b.type, b.choice, b.many) for b in branches
        ]
    eq = _EQ.match(arg)
    if not eq:
        raise Unsupported(f"cannot compile where({arg})")
    field, literal = eq.groups()
    for b in branches:
        kinds = _children(b.type, field)
        if len(kinds) != 1 or not _is_primitive(kinds[0][1]):
            raise Unsupported(f"where({field}=...) on a non-primitive element")
    return [
        _Partial((*b.steps, Step("eq", field, literal)), b.type, b.choice, b.many) for b in branches
    ]


def _apply_extension(branches: list[_Partial], arg: str) -> list[_Partial]:
    lit = re.fullmatch(r"'([^']*)'", arg)
    if not lit:
        raise Unsupported("extension() needs a literal url")
    out = []
    for b in branches:
        for key, kind in _children(b.type, "extension"):
            steps = (*b.steps, Step("key", key), Step("eq", "url", lit.group(1)))
            out.append(_Partial(steps, kind, many=True))
    return out


def _apply(branches: list[_Partial], token: str) -> list[_Partial]:
    call = _CALL.match(token)
    if call is None:
        return _apply_name(branches, token)
    func, arg = call.group(1), call.group(2).strip()
    if func in ("ofType", "as"):
        arg = _SYSTEM_TYPES.get(arg, arg)
        kept = [_Partial(b.steps, b.type, many=b.many) for b in branches if b.type == arg]
        if not kept:
            raise Unsupported(f"ofType({arg}) matches no element")
        return kept
    if func == "where":
        return _apply_where(branches, arg)
    if func == "extension":
        return _apply_extension(branches, arg)
    raise Unsupported(f"function {func}() is not supported")


def compile_expression(expression: str, resource_type: str) -> list[Branch]:
    """The typed branches of ``expression`` that apply to ``resource_type``.

    Union members for other types are skipped; an empty result means the expression does
    not apply to this type. Raises :class:`Unsupported` if a member for this type cannot
    be compiled.
    """
    branches: list[Branch] = []
    for part in _split_top(expression, "|"):
        if not part:
            continue
        tokens = _split_top(_unwrap(part), ".")
        head = tokens[0]
        if "[" in part:
            raise Unsupported("indexers are not supported")
        if head in (resource_type, "Resource", "DomainResource"):
            tokens = tokens[1:]
        elif head[:1].isupper():
            if _NAME.match(head):
                continue  # a member for another resource type
            raise Unsupported(f"cannot compile '{part}'")
        current = [_Partial((), resource_type)]
        for token in tokens:
            current = _apply(current, token)
        branches.extend(Branch(p.steps, p.type, p.choice, p.many) for p in current)
    return branches


def single_valued(branches: Sequence[Branch]) -> bool:
    """At most one value per resource: one route (or the variants of one choice element),
    through no element that may repeat."""
    routes = {b.steps[:-1] if b.choice else b.steps for b in branches}
    return len(routes) == 1 and not any(b.many for b in branches)


def compile_relative(expression: str, context_type: str) -> list[Branch]:
    """Branches of a sub-expression evaluated on elements of ``context_type`` (composites)."""
    branches: list[Branch] = []
    for part in _split_top(expression, "|"):
        current = [_Partial((), context_type)]
        for token in _split_top(_unwrap(part), "."):
            current = _apply(current, token)
        branches.extend(Branch(p.steps, p.type, p.choice, p.many) for p in current)
    return branches
