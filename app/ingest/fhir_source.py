"""Vendor FHIR input as source records: one ``FhirRecord`` per resource of a Bundle (or the
one resource posted or polled), addressed by FHIRPath relative to that resource.

Speed: the vendor feeds must map at >= 1,000 resources/s on one core, and a compiled
fhirpathpy call costs ~0.1 ms, so expressions made only of element names, ``ofType(T)`` and
``where`` filters joining text tests with ``and`` (``subject.reference``,
``ServiceRequest.status``, ``deceased.ofType(dateTime)``, ``type.coding.where(system = 'x'
and code = 'y')``, ``basedOn.where(identifier.system != 'x')``,
``basedOn.where(display.startsWith('x'))``) walk the JSON directly, resolving choice
elements (``occurrence`` -> ``occurrenceDateTime``) through fhirpathpy's R4 model as
fhirpathpy itself does; where that walk could disagree with fhirpathpy (a step into a
primitive's extensions, a filter on a repeating or non-text value, ``ofType`` naming a
supertype, which fhirpathpy matches or not depending on what it evaluated before) it hands
over. Everything else (other functions and operators, ``%resource``) is compiled once by
fhirpathpy and cached module-wide.

An evaluation error (``single()`` on two items) raises ``SourceError`` so the unit is
quarantined, but fhirpathpy reports one only when it is the expression's result:
``identifier.single().value`` quietly gives nothing. Items are the resource's own JSON
objects, not copies.

Numbers are parsed by orjson, as everywhere in the service: a decimal comes out as Python
writes the float (``1.50`` -> ``"1.5"``), an integer as written.

"Read" is tracked per top-level element only: any expression that starts at
``identifier`` marks the whole ``identifier`` element read, even if its ``where`` picked one
repetition of three. ``unread()`` therefore catches forgotten elements (a vendor's
``note`` no rule maps), not forgotten repetitions or sub-elements of a mapped element.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any, Final, NamedTuple

import fhirpathpy
import orjson
from fhirpathpy.engine.nodes import FP_Type, ResourceNode
from fhirpathpy.models import models

from app.ingest.records import ROOT, Scope, SourceError
from app.validation.invariants import UnsupportedConstraint, check_syntax

__all__ = ["BUNDLE_TYPES", "FhirRecord", "compile_path", "read_bundle"]

BUNDLE_TYPES: Final = frozenset({"transaction", "batch", "collection", "searchset"})
_NOT_REPORTED: Final = frozenset({"id", "meta", "resourceType", "text"})
_BOM: Final = b"\xef\xbb\xbf"
_EMPTY: Final[tuple[Any, ...]] = (None, "", [], {})
"""Values ``unread`` does not report (compared by equality: never changed)."""

_R4: Final[dict[str, Any]] = models["r4"]
_PATH2TYPE: Final[dict[str, str]] = _R4["path2Type"]
_CHOICES: Final[dict[str, list[str]]] = _R4["choiceTypePaths"]
_ELSEWHERE: Final[dict[str, str]] = _R4["pathsDefinedElsewhere"]
_PARENT: Final[dict[str, str]] = _R4["type2Parent"]
_TYPE_NAMES: Final = frozenset(_PATH2TYPE.values())
_PARENTS_OF_PATHS: Final = frozenset(p.rsplit(".", 1)[0] for p in (*_PATH2TYPE, *_CHOICES))
_OPTIONS: Final = {"returnRawData": True}

_KEYWORDS: Final = frozenset(
    {"and", "or", "xor", "implies", "in", "contains", "is", "as", "div", "mod", "true", "false"}
)
_NAME: Final = re.compile(r"[a-z][A-Za-z0-9_]*")
_TYPE_NAME: Final = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_COMPARISONS: Final = frozenset({"=", "!="})
_ANY_RESOURCE: Final = frozenset({"Resource", "DomainResource", None})
_TEXT_TYPES: Final = frozenset(
    {"string", "code", "uri", "url", "canonical", "id", "oid", "uuid", "markdown", "System.String"}
)
_TOKEN: Final = re.compile(
    r"\s+|'(?:[^'\\]|\\.)*'|`[^`]*`|[%$]?[A-Za-z_][A-Za-z0-9_]*|@[0-9T:.+\-Z]*"
    r"|\d+(?:\.\d+)?|[!<>]=|!~|.",
    re.S,
)

_UNWALKED: Final[list[Any]] = []
"""A marker: the expression was not walked from the resource yet."""

Typed = tuple[Any, str | None]
"""A JSON value and its FHIR type path (``Identifier``, ``Observation.component``), if known."""


@dataclass(frozen=True, slots=True)
class _Test:
    """``sub.path = 'x'``, ``sub.path != 'x'`` or ``sub.path.startsWith('x')`` on one text
    value."""

    sub: tuple[str, ...]
    op: str
    literal: str


@dataclass(frozen=True, slots=True)
class _Where:
    """``where(test and test ...)``: keep the items passing every test."""

    tests: tuple[_Test, ...]


@dataclass(frozen=True, slots=True)
class _OfType:
    """``ofType(T)`` with an unqualified type name."""

    type_name: str


Step = str | _Where | _OfType

Walk = Callable[[list[Typed]], list[Typed] | None]
"""A compiled ``_simple_steps`` path: the items it reaches from a focus, or None when the
walk cannot be sure to agree with fhirpathpy (see ``_compile_walk``)."""


@dataclass(frozen=True, slots=True)
class _Compiled:
    steps: tuple[Step, ...] | None
    """A path of element names, ``where`` filters and ``ofType`` (no type prefix), or None."""
    walk: Walk | None
    """``steps`` compiled, or None."""
    type_prefix: str | None
    roots: frozenset[str]
    """Top-level elements the expression starts at, relative to its focus."""
    resource_roots: frozenset[str]
    """Top-level elements reached through ``%resource``."""
    evaluate: Callable[..., list[Any]] | None
    """fhirpathpy's compiled function; None for a dotted path until first needed."""


_CACHE: dict[str, _Compiled] = {}


def compile_path(expression: str) -> None:
    """Check a mapping's FHIRPath once, when its spec is loaded (fhirpathpy's own parser
    recovers from syntax errors silently); raises ``ValueError``."""
    try:
        _compiled(expression)
    except UnsupportedConstraint as exc:
        raise ValueError(f"not FHIRPath: {expression!r}: {exc}") from exc


def _compiled(expression: str) -> _Compiled:
    found = _CACHE.get(expression)
    if found is not None:
        return found
    check_syntax(expression)
    roots, resource_roots = _roots(expression)
    prefix, steps = _simple_steps(expression)
    evaluate: Callable[..., list[Any]] | None = None
    if steps is None:
        evaluate = fhirpathpy.compile(expression, _R4, _OPTIONS)
    walk = None if steps is None else _compile_walk(steps)
    found = _Compiled(steps, walk, prefix, roots, resource_roots, evaluate)
    _CACHE[expression] = found
    return found


def _simple_steps(expression: str) -> tuple[str | None, tuple[Step, ...] | None]:
    """(type prefix, steps) when the expression is element names, ``where`` filters of
    ``_Test`` joined by ``and``, and ``ofType(T)``, which the direct walk evaluates; else
    (None, None)."""
    prefix, dot, rest = expression.partition(".")
    if not (dot and prefix[:1].isupper() and prefix.isalnum()):
        prefix, rest = "", expression
    tokens = [t for t in _TOKEN.findall(rest) if not t.isspace()]
    steps: list[Step] = []
    at = 0
    while True:
        parsed = _step(tokens, at, bool(steps))
        if parsed is None:
            return None, None
        step, at = parsed
        steps.append(step)
        if at == len(tokens):
            return prefix or None, tuple(steps)
        if tokens[at] != ".":
            return None, None
        at += 1


def _token(tokens: list[str], at: int) -> str:
    return tokens[at] if at < len(tokens) else ""


def _is_element(token: str) -> bool:
    return _NAME.fullmatch(token) is not None and token not in _KEYWORDS


def _literal(token: str) -> str | None:
    if len(token) >= 2 and token[0] == token[-1] == "'" and "\\" not in token:
        return token[1:-1]
    return None


def _step(tokens: list[str], at: int, after_step: bool) -> tuple[Step, int] | None:
    """One step starting at ``tokens[at]`` and the index after it, or None."""
    name = _token(tokens, at)
    if not _is_element(name):
        return None
    if _token(tokens, at + 1) != "(":
        return name, at + 1
    if not after_step:
        return None
    if name == "ofType":
        type_name = _token(tokens, at + 2)
        if _TYPE_NAME.fullmatch(type_name) is None or type_name in _KEYWORDS:
            return None
        if _token(tokens, at + 3) != ")":
            return None
        return _OfType(type_name), at + 4
    if name != "where":
        return None
    tests: list[_Test] = []
    at += 2
    while True:
        parsed = _test(tokens, at)
        if parsed is None:
            return None
        test, at = parsed
        tests.append(test)
        if _token(tokens, at) == ")":
            return _Where(tuple(tests)), at + 1
        if _token(tokens, at) != "and":
            return None
        at += 1


def _test(tokens: list[str], at: int) -> tuple[_Test, int] | None:
    """``a.b = 'x'``, ``a.b != 'x'`` or ``a.b.startsWith('x')`` and the index after it."""
    sub: list[str] = []
    while _is_element(_token(tokens, at)) and _token(tokens, at + 1) != "(":
        sub.append(tokens[at])
        if _token(tokens, at + 1) != ".":
            break
        at += 2
    else:
        if not sub or _token(tokens, at) != "startsWith" or _token(tokens, at + 1) != "(":
            return None
        literal = _literal(_token(tokens, at + 2))
        if literal is None or _token(tokens, at + 3) != ")":
            return None
        return _Test(tuple(sub), "startsWith", literal), at + 4
    op = _token(tokens, at + 1)
    literal = _literal(_token(tokens, at + 2))
    if op not in _COMPARISONS or literal is None:
        return None
    return _Test(tuple(sub), op, literal), at + 3


def _is_name(token: str) -> bool:
    return token[:1].isalpha() or token[:1] in "_`"


def _roots(expression: str) -> tuple[frozenset[str], frozenset[str]]:
    """The element names an expression starts from: the first step of each path term that is
    not inside a function's arguments (``where(system = 'x')`` is relative to the item)."""
    tokens = [t for t in _TOKEN.findall(expression) if not t.isspace()]
    relative: set[str] = set()
    absolute: set[str] = set()
    calls: list[bool] = []  # per open parenthesis: does it hold a function's arguments?
    for i, token in enumerate(tokens):
        before = tokens[i - 1] if i else ""
        after = tokens[i + 1] if i + 1 < len(tokens) else ""
        if token == "(":
            calls.append(_is_name(before) and before not in _KEYWORDS)
            continue
        if token == ")":
            if calls:
                calls.pop()
            continue
        name = token.strip("`")
        if any(calls) or not _is_name(token) or token in _KEYWORDS or name[:1].isupper():
            continue
        if before in ("is", "as") or before[:1].isdigit():
            continue  # a type name or a quantity's unit
        target = relative
        if before == ".":
            start = tokens[i - 2] if i >= 2 else ""
            if i >= 3 and tokens[i - 3] == ".":
                continue
            if start == "%resource":
                target = absolute
            elif not start[:1].isupper():
                continue
        if after == "(" and name != "extension":
            continue  # a function applied to the focus
        target.add(name)
    return frozenset(relative), frozenset(absolute)


def _lineage(type_path: str) -> list[str]:
    found = [type_path]
    parent = _PARENT.get(type_path)
    while parent is not None:
        found.append(parent)
        parent = _PARENT.get(parent)
    if "." in type_path:
        found += ["BackboneElement", "Element"]
    return found


@cache
def _member(type_path: str | None, name: str) -> tuple[tuple[str, str | None], ...]:
    """The JSON keys holding element ``name`` of a value of type ``type_path``, each with the
    type path of what it holds: one key, or one per variant of a choice element."""
    if type_path is None:
        return ((name, None),)
    for owner in _lineage(type_path):
        path = f"{owner}.{name}"
        choices = _CHOICES.get(path)
        if choices is not None:
            return tuple((name + c[0].upper() + c[1:], _choice_type(c)) for c in choices)
        if path in _PATH2TYPE:
            return ((name, _PATH2TYPE[path]),)
        if path in _ELSEWHERE:
            return ((name, _ELSEWHERE[path]),)
        if path in _PARENTS_OF_PATHS:
            return ((name, path),)
    return ((name, None),)


def _choice_type(type_name: str) -> str:
    """A choice variant's type as the model names it: primitives start lower case."""
    primitive = type_name[0].lower() + type_name[1:]
    return primitive if primitive in _TYPE_NAMES else type_name


@cache
def _element_of_key(resource_type: str) -> dict[str, str]:
    """Choice variant keys of a resource type -> their element (``occurrenceDateTime`` ->
    ``occurrence``)."""
    found: dict[str, str] = {}
    for path, choices in _CHOICES.items():
        owner, _, name = path.rpartition(".")
        if owner == resource_type:
            for c in choices:
                found[name + c[0].upper() + c[1:]] = name
    return found


def _compile_walk(steps: tuple[Step, ...]) -> Walk:
    """Follow element names through the JSON, flattening repetitions. The walk gives None
    when it cannot be sure to agree with fhirpathpy: a step into a primitive (its extensions
    live under ``_name``), or a filter comparing anything but one text value. Compiled once
    per expression so a read does no dispatch on the kind of step."""
    walks = [_compile_step(step) for step in steps]
    if len(walks) == 1:
        return walks[0]

    def walk(focus: list[Typed]) -> list[Typed] | None:
        for one in walks:
            found = one(focus)
            if found is None:
                return None
            focus = found
        return focus

    return walk


def _compile_step(step: Step) -> Walk:
    if isinstance(step, _Where):
        return _filter(step)
    if isinstance(step, _OfType):
        return _of_type(step.type_name)
    return _element(step)


_Members = tuple[tuple[str, str | None, bool], ...]


class _MembersByType(dict[str | None, _Members]):
    """Per type path of a focus: element ``name``'s (JSON key, its type path, holds a
    resource?) per variant, worked out on first use (a plain lookup after that)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def __missing__(self, type_path: str | None) -> _Members:
        found = self[type_path] = _members(type_path, self.name)
        return found


def _element(name: str) -> Walk:
    by_type = _MembersByType(name)

    def element(focus: list[Typed]) -> list[Typed] | None:
        reached: list[Typed] = []
        for value, type_path in focus:
            if value.__class__ is not dict:
                return None
            for key, child_type, resource in by_type[type_path]:
                child = value.get(key)
                if child is None:
                    continue
                if resource:
                    reached += _typed_resources(child, child_type)
                elif child.__class__ is list:
                    reached += [(item, child_type) for item in child if item is not None]
                else:
                    reached.append((child, child_type))
        return reached

    return element


def _members(type_path: str | None, name: str) -> _Members:
    """``_member`` with, for each key, whether it holds resources (typed by their own
    ``resourceType``)."""
    return tuple(
        (key, child_type, child_type in _ANY_RESOURCE)
        for key, child_type in _member(type_path, name)
    )


def _typed_resources(child: Any, child_type: str | None) -> list[Typed]:
    """A resource held in another (``contained``) is typed by its own ``resourceType``."""
    found: list[Typed] = []
    for item in child if isinstance(child, list) else (child,):
        if isinstance(item, dict) and isinstance(item.get("resourceType"), str):
            found.append((item, item["resourceType"]))
        elif item is not None:
            found.append((item, child_type))
    return found


_Check = Callable[[Typed], bool | None]


def _filter(where: _Where) -> Walk:
    """``and`` keeps an item only when every test is true (false or empty drop it); every
    test is still checked, as fhirpathpy evaluates both sides and may raise on either."""
    checks = [_check(test) for test in where.tests]
    if len(checks) == 1:
        check = checks[0]

        def kept_by_test(focus: list[Typed]) -> list[Typed] | None:
            kept: list[Typed] = []
            for item in focus:
                passed = check(item)
                if passed is None:
                    return None
                if passed:
                    kept.append(item)
            return kept

        return kept_by_test

    def kept_by_filter(focus: list[Typed]) -> list[Typed] | None:
        kept: list[Typed] = []
        for item in focus:
            passed = [check(item) for check in checks]
            if None in passed:
                return None
            if all(passed):
                kept.append(item)
        return kept

    return kept_by_filter


def _comparison(op: str, literal: str) -> Callable[[Any, str | None], bool | None]:
    def compare(value: Any, type_path: str | None) -> bool | None:
        if not isinstance(value, str) or type_path not in _TEXT_TYPES:
            return None
        if op == "=":
            return value == literal
        if op == "!=":
            return value != literal
        return bool(value) and value.startswith(literal)  # fhirpathpy: '' starts with nothing

    return compare


def _check(test: _Test) -> _Check:
    sub = _compile_walk(test.sub)
    compare = _comparison(test.op, test.literal)

    def passes(item: Typed) -> bool | None:
        found = sub([item])
        if found is None or len(found) > 1:
            return None
        if not found:
            return False  # an empty operand gives empty, which where() drops
        return compare(*found[0])

    return passes if len(test.sub) != 1 else _check_element(test.sub[0], compare, passes)


def _check_element(
    name: str, compare: Callable[[Any, str | None], bool | None], passes: _Check
) -> _Check:
    """``passes`` for ``name = 'x'`` without building the walk's lists, when ``name`` is one
    key holding no resource (a choice element or a resource falls back to ``passes``)."""
    by_type = _MembersByType(name)

    def passes_element(item: Typed) -> bool | None:
        value, type_path = item
        if value.__class__ is not dict:
            return None
        members = by_type[type_path]
        if len(members) != 1 or members[0][2]:
            return passes(item)
        key, child_type, _ = members[0]
        child = value.get(key)
        if child is None:
            return False
        if child.__class__ is list:
            present = [c for c in child if c is not None]
            if len(present) != 1:
                return None if present else False
            child = present[0]
        return compare(child, child_type)

    return passes_element


def _of_type(type_name: str) -> Walk:
    """Keep the items whose FHIR type is the one named. fhirpathpy also matches a supertype
    (``Quantity`` for an ``Age``) only once some ``is``/``as`` has set its global model, so a
    supertype hands over; so do items of unknown or backbone type."""

    def of_type(focus: list[Typed]) -> list[Typed] | None:
        kept: list[Typed] = []
        for item in focus:
            type_path = item[1]
            if type_path is None or "." in type_path:
                return None
            if type_path == type_name:
                kept.append(item)
            elif type_name in _supertypes(type_path):
                return None
        return kept

    return of_type


@cache
def _supertypes(type_name: str) -> frozenset[str]:
    """What fhirpathpy's ``TypeInfo.is_type`` climbs through from ``type_name``."""
    found: set[str] = set()
    parent = _PARENT.get(type_name) or _PATH2TYPE.get(type_name)
    while parent and parent not in found:
        found.add(parent)
        parent = _PARENT.get(parent) or _PATH2TYPE.get(parent)
    return frozenset(found)


class _Focus(NamedTuple):
    """What a scope binds: one item of a collection, and the top-level elements it is in.
    (A NamedTuple: each() makes one per item, and it is cheaper to make than a dataclass.)"""

    value: Any
    type_path: str | None
    roots: frozenset[str]


class FhirRecord:
    """One vendor resource as the mapping engine sees it (``SourceRecord``)."""

    kind = "fhir"

    def __init__(
        self,
        resource: dict[str, Any],
        position: str,
        full_url: str | None = None,
        request: dict[str, Any] | None = None,
    ) -> None:
        self.resource = resource
        self.rule_key: str = resource["resourceType"]
        self.position = position
        self.full_url = full_url
        self.request = request
        """The Bundle entry's ``request`` (method, url) in a transaction or batch."""
        rid = resource.get("id")
        self.local_ref: str | None = f"{self.rule_key}/{rid}" if isinstance(rid, str) else None
        self._read: set[str] = set()
        # The direct walk is pure, so its result from the resource is kept per expression: a
        # rule reads the same path for its ``when``, its key and its template. fhirpathpy's
        # results are not kept (they may depend on its global state).
        self._walked: dict[str, list[Typed] | None] = {}
        self._texts: dict[str, list[str]] = {}
        """``values`` of a walked expression read from the resource itself."""

    def values(self, path: str, scope: Scope = ROOT) -> list[str]:
        unscoped = not scope.bindings
        if unscoped:
            known = self._texts.get(path)
            if known is not None:
                return known  # what it reads is marked read already
        texts: list[str] = []
        for value, _ in self._evaluate(path, scope):
            if value.__class__ is str:  # the common case, first
                if value:
                    texts.append(value)
            elif isinstance(value, bool):
                texts.append("true" if value else "false")
            elif isinstance(value, str):
                if value:
                    texts.append(value)
            elif isinstance(value, int | float | Decimal | FP_Type):
                texts.append(str(value))
            else:
                raise SourceError(
                    f"{path!r} gives a {type(value).__name__}, not a primitive value "
                    f"({self.rule_key} at {self.position})",
                    self.position,
                    "processing",
                )
        if unscoped and self._walked.get(path) is not None:
            self._texts[path] = texts
        return texts

    def items(self, path: str, scope: Scope = ROOT) -> list[Any]:
        return [str(v) if isinstance(v, FP_Type) else v for v, _ in self._evaluate(path, scope)]

    def each(self, path: str, scope: Scope = ROOT) -> Sequence[Scope]:
        bound = _bound(scope)
        roots = bound.roots if bound is not None else _compiled(path).roots
        bind = scope.bind
        return [
            bind(path, _Focus(value, type_path, roots))
            for value, type_path in self._evaluate(path, scope)
        ]

    def unread(self, ignored: Callable[[str], bool] | None = None) -> list[str]:  # noqa: ARG002
        choices = _element_of_key(self.rule_key)
        missing: list[str] = []
        read = self._read
        for key, value in self.resource.items():
            name = key[1:] if key[:1] == "_" else key
            element = choices.get(name, name)
            if element in read or name in read or element in _NOT_REPORTED:
                continue
            if not value and value in _EMPTY:
                continue
            reported = f"{self.rule_key}.{element}"
            if reported not in missing:
                missing.append(reported)
        return missing

    def _evaluate(self, path: str, scope: Scope) -> list[Typed]:
        compiled = _CACHE.get(path)
        if compiled is None:
            try:
                compiled = _compiled(path)
            except UnsupportedConstraint as exc:
                raise ValueError(f"not FHIRPath: {path!r}: {exc}") from exc
        bindings = scope.bindings
        bound = bindings[-1][1] if bindings else None  # as _bound(scope), inline
        if bound is not None and not isinstance(bound, _Focus):
            bound = None
        read = self._read
        if compiled.resource_roots:
            read |= compiled.resource_roots
        read |= bound.roots if bound is not None else compiled.roots
        walk = compiled.walk
        if walk is not None:
            found: list[Typed] | None
            if bound is None:
                prefix = compiled.type_prefix
                if prefix is not None and prefix != self.rule_key:
                    return []
                found = self._walked.get(path, _UNWALKED)
                if found is _UNWALKED:
                    found = self._walked[path] = walk([(self.resource, self.rule_key)])
            elif compiled.type_prefix is None:
                found = walk([(bound.value, bound.type_path)])  # an item is read once: not kept
            else:
                found = None
            if found is not None:
                return found
        return self._fhirpath(path, compiled, bound)

    def _fhirpath(self, path: str, compiled: _Compiled, bound: _Focus | None) -> list[Typed]:
        evaluate = compiled.evaluate
        if evaluate is None:
            evaluate = fhirpathpy.compile(path, _R4, _OPTIONS)
            _CACHE[path] = _Compiled(
                compiled.steps,
                compiled.walk,
                compiled.type_prefix,
                compiled.roots,
                compiled.resource_roots,
                evaluate,
            )
        focus: Any = self.resource
        if bound is not None:
            focus = bound.value
            if bound.type_path is not None and not isinstance(focus, ResourceNode):
                focus = ResourceNode.create_node(focus, bound.type_path)  # type: ignore[no-untyped-call]
        try:
            raw = evaluate(focus, {"resource": self.resource})
        except Exception as exc:  # fhirpathpy raises plain Exceptions
            raise self._failed(path, str(exc)) from exc
        found: list[Typed] = []
        for item in raw:
            if isinstance(item, ResourceNode):
                if item.data is not None:
                    found.append((item.data, item.path))
            elif isinstance(item, dict) and item.get("$status") == "error":
                raise self._failed(path, str(item.get("$error")))
            elif item is not None:
                found.append((item, None))
        return found

    def _failed(self, path: str, why: str) -> SourceError:
        return SourceError(
            f"FHIRPath {path!r} failed on {self.rule_key} at {self.position}: {why}",
            self.position,
            "processing",
        )


def _bound(scope: Scope) -> _Focus | None:
    if not scope.bindings:
        return None
    value = scope.bindings[-1][1]
    return value if isinstance(value, _Focus) else None


def read_bundle(data: bytes) -> list[FhirRecord]:
    """Every resource of a vendor Bundle (transaction, batch, collection, searchset) as a
    record, or the one resource when ``data`` is not a Bundle."""
    try:
        document = orjson.loads(data.removeprefix(_BOM))
    except orjson.JSONDecodeError as exc:
        raise SourceError(f"not JSON: {exc}", "", "structure") from exc
    if not isinstance(document, dict) or not _resource_type(document):
        raise SourceError("not a FHIR resource: no resourceType", "", "structure")
    if document["resourceType"] != "Bundle":
        return [FhirRecord(document, "resource")]
    kind = document.get("type")
    if kind not in BUNDLE_TYPES:
        raise SourceError(
            f"Bundle.type {kind!r} is not one of {', '.join(sorted(BUNDLE_TYPES))}",
            "Bundle.type",
            "value",
        )
    entries = document.get("entry") or []
    if not isinstance(entries, list):
        raise SourceError("Bundle.entry is not a list", "Bundle.entry", "structure")
    records: list[FhirRecord] = []
    for n, entry in enumerate(entries):
        where = f"Bundle.entry[{n}]"
        if not isinstance(entry, dict) or entry.get("resource") is None:
            raise SourceError(f"{where} has no resource", where, "required")
        resource = entry["resource"]
        if not isinstance(resource, dict) or not _resource_type(resource):
            raise SourceError(
                f"{where}.resource has no resourceType", f"{where}.resource", "structure"
            )
        full_url = entry.get("fullUrl")
        request = entry.get("request")
        records.append(
            FhirRecord(
                resource,
                where,
                full_url if isinstance(full_url, str) else None,
                request if isinstance(request, dict) else None,
            )
        )
    return records


def _resource_type(resource: dict[str, Any]) -> bool:
    kind = resource.get("resourceType")
    return isinstance(kind, str) and bool(kind)
