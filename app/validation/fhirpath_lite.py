"""Hand-compiles the simplest FHIRPath invariants into Python predicates.

Most R4 invariants are boolean combinations of ``path.exists()`` / ``path.empty()`` /
``path.hasValue()`` (``att-1: data.empty() or contentType.exists()``). fhirpathpy costs about
0.1 ms per compiled call, which a resource with twenty Reference, Quantity and Period values
cannot afford, while these expressions are a dict lookup each. The grammar accepted here is
exactly that fragment, resolved against the R4 element table at compile time (so a choice
``value`` finds ``valueQuantity``); those functions always return a boolean, so two-valued
Python logic is exact. Anything else is refused (None) and evaluated by fhirpathpy.

For an expression that is an ``or`` chain or an ``implies`` with such simple parts,
`compile_prefilter` gives a cheap test that proves the invariant holds (a true simple term, a
false antecedent), so fhirpathpy only runs when the answer really depends on the rest.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

from app.validation.definitions import TypeDef

__all__ = ["Predicate", "compile_prefilter", "compile_simple", "tokens"]

Predicate = Callable[[dict[str, Any]], bool]
_Path = tuple[tuple[tuple[str, ...], tuple[str, ...]], ...]  # per step: (value keys, _keys)

_TOKEN: Final = re.compile(
    r"\s+|(?P<str>'(?:[^'\\]|\\.)*')|(?P<id>`[^`]*`|[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op><=|>=|!=|!~|[().,|&=<>+*/~\[\]{}-])|(?P<other>\S)"
)
_FUNCTIONS: Final = frozenset({"exists", "empty", "hasValue"})
_BOOLEAN_OPS: Final = frozenset({"and", "or", "xor", "implies"})


class _NotSimple(Exception):
    """The expression leaves the fragment this module compiles."""


def tokens(expression: str) -> list[str]:
    """FHIRPath tokens; strings and unknown characters are marked so they never match a name."""
    out = []
    for match in _TOKEN.finditer(expression):
        if match.lastgroup is None:
            continue  # whitespace
        if match.lastgroup in ("str", "other"):
            out.append("\0" + match.group(0))  # never a keyword or name we accept
        else:
            out.append(match.group(0))
    return out


class _Parser:
    def __init__(self, tokens: list[str], typedef: TypeDef) -> None:
        self.tokens = tokens
        self.pos = 0
        self.typedef = typedef

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise _NotSimple(f"expected {expected!r} at {token!r}")
        self.pos += 1
        return token

    def parse(self) -> Predicate:
        predicate = self.implies()
        if self.peek() is not None:
            raise _NotSimple(f"unexpected {self.peek()!r}")
        return predicate

    def implies(self) -> Predicate:
        left = self.or_()
        while self.peek() == "implies":
            self.take()
            right = self.or_()
            left = _implies(left, right)
        return left

    def or_(self) -> Predicate:
        left = self.and_()
        while self.peek() in ("or", "xor"):
            op = self.take()
            right = self.and_()
            left = _or(left, right) if op == "or" else _xor(left, right)
        return left

    def and_(self) -> Predicate:
        left = self.unary()
        while self.peek() == "and":
            self.take()
            left = _and(left, self.unary())
        return left

    def unary(self) -> Predicate:
        if self.peek() == "(":
            self.take()
            predicate = self.implies()
            self.take(")")
        else:
            predicate = self.call()
        while self.peek() == ".":
            self.take()
            self.take("not")
            self.take("(")
            self.take(")")
            predicate = _not(predicate)
        return predicate

    def call(self) -> Predicate:
        names = [self.name()]
        while True:
            self.take(".")
            name = self.name()
            if self.peek() == "(":
                break
            names.append(name)
        self.take("(")
        self.take(")")
        if name not in _FUNCTIONS:
            raise _NotSimple(f"function {name}")
        path, primitive = _resolve(self.typedef, names)
        if name == "hasValue":
            return _has_value(path) if primitive else _false
        return _exists(path) if name == "exists" else _not(_exists(path))

    def name(self) -> str:
        token = self.take()
        if token in _BOOLEAN_OPS or not (token[:1].isalpha() or token[:1] in "`_"):
            raise _NotSimple(f"not a name: {token!r}")
        return token.strip("`")


def _resolve(typedef: TypeDef, names: list[str]) -> tuple[_Path, bool]:
    """The JSON keys of each step; a choice (``value``) only as the last step."""
    steps = []
    current: TypeDef | None = typedef
    primitive = False
    for index, name in enumerate(names):
        if current is None:
            raise _NotSimple(f"cannot step into {name}")
        el = current.elements.get(name)
        keys: tuple[str, ...]
        if el is not None and el.choice is None:
            keys = (name,)
            primitive = el.primitive is not None
            current = None if el.is_resource else el.complex
        else:
            variants = [e for e in current.elements.values() if e.choice == name]
            if not variants or index != len(names) - 1:
                raise _NotSimple(f"{current.name} has no element {name}")
            keys = tuple(e.name for e in variants)
            # hasValue() is true only for a primitive variant's value (see _has_value)
            primitive = any(e.primitive is not None for e in variants)
            current = None
            extension_keys = tuple(f"_{e.name}" for e in variants if e.primitive is not None)
            steps.append((keys, extension_keys))
            continue
        extension_keys = tuple(f"_{k}" for k in keys) if primitive else ()
        steps.append((keys, extension_keys))
    return tuple(steps), primitive


def _values(obj: dict[str, Any], path: _Path) -> list[Any]:
    """Values at the end of ``path`` (no `_name` siblings)."""
    current: list[Any] = [obj]
    for keys, _ in path:
        found: list[Any] = []
        for item in current:
            if type(item) is not dict:
                continue
            for key in keys:
                value = item.get(key)
                if type(value) is list:
                    found.extend(v for v in value if v is not None)
                elif value is not None:
                    found.append(value)
        current = found
    return current


def _exists(path: _Path) -> Predicate:
    *head, (keys, extension_keys) = path
    last_keys = keys + extension_keys  # a primitive with only an extension still exists
    if not head and len(last_keys) <= 2:

        def single(obj: dict[str, Any]) -> bool:
            return any(obj.get(k) is not None for k in last_keys)

        return single
    prefix = tuple(head)

    def nested(obj: dict[str, Any]) -> bool:
        for parent in _values(obj, prefix) if prefix else [obj]:
            if type(parent) is dict and any(parent.get(k) is not None for k in last_keys):
                return True
        return False

    return nested


def _has_value(path: _Path) -> Predicate:
    def has_value(obj: dict[str, Any]) -> bool:
        return any(type(v) is not dict for v in _values(obj, path))

    return has_value


def _false(_obj: dict[str, Any]) -> bool:
    return False


def _not(inner: Predicate) -> Predicate:
    return lambda obj: not inner(obj)


def _and(left: Predicate, right: Predicate) -> Predicate:
    return lambda obj: left(obj) and right(obj)


def _or(left: Predicate, right: Predicate) -> Predicate:
    return lambda obj: left(obj) or right(obj)


def _xor(left: Predicate, right: Predicate) -> Predicate:
    return lambda obj: left(obj) != right(obj)


def _implies(left: Predicate, right: Predicate) -> Predicate:
    return lambda obj: not left(obj) or right(obj)


def compile_simple(expression: str, typedef: TypeDef) -> Predicate | None:
    """A predicate exactly equivalent to ``expression`` on objects of ``typedef``, or None
    when the expression is outside the exists/empty/hasValue fragment."""
    try:
        return _Parser(tokens(expression), typedef).parse()
    except _NotSimple:
        return None


def _split(found: list[str], keyword: str) -> list[list[str]]:
    """``found`` split at the top-level (unparenthesised) ``keyword``."""
    parts: list[list[str]] = [[]]
    depth = 0
    for token in found:
        depth += token in ("(", "[", "{")
        depth -= token in (")", "]", "}")
        if depth == 0 and token == keyword:
            parts.append([])
        else:
            parts[-1].append(token)
    return parts


def compile_prefilter(expression: str, typedef: TypeDef) -> Predicate | None:
    """A cheap test that is True only where ``expression`` certainly holds (False means
    "evaluate it"), for ``A implies B`` and ``A or B or ...`` with some simple parts."""
    found = tokens(expression)
    implications = _split(found, "implies")
    if len(implications) == 2:
        try:
            antecedent = _Parser(implications[0], typedef).parse()
        except _NotSimple:
            return None
        return _not(antecedent)
    if len(implications) > 2:
        return None
    parts = _split(found, "or")
    if len(parts) < 2 or any(len(_split(part, "xor")) > 1 for part in parts):
        return None  # or and xor share a precedence level: leave mixtures to fhirpathpy
    terms = []
    for part in parts:
        try:
            terms.append(_Parser(part, typedef).parse())
        except _NotSimple:
            continue
    if not terms:
        return None
    return lambda obj: any(term(obj) for term in terms)
