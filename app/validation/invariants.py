"""FHIRPath invariants (``ElementDefinition.constraint``), compiled once and run per element.

Three ways to run one, cheapest first, chosen at compile time:

* hand-written Python for the hot ones (dom-2..dom-6 on every resource, ref-1, per-1,
  obs-7: `invariant_rules.HAND_COMPILED`), each tested against its FHIRPath;
* the exists/empty/hasValue fragment, compiled to predicates by `fhirpath_lite`;
* fhirpathpy (``fhirpathpy.compile(expr, model=r4)``, parsed once), behind a cheap prefilter
  where part of the expression decides alone.

A constraint fhirpathpy cannot run (a function it lacks: ``htmlChecks``, ``resolve``,
``conformsTo``...) is refused by `compile_constraint` with `UnsupportedConstraint`; callers
skip it and list it. An evaluation that raises at run time counts as "holds": an engine
limitation must never reject a resource or fail a request. Otherwise only ``true`` passes:
an empty result fails, as in the HL7 Java validator (the R4 invariants that are empty where
they should not apply are vendored as R4B corrects them, see the vendor script's errata).

`evaluate` walks the resource once (`walk.nodes`) and runs the constraints of each path
where the element occurs: a key is an owner type (``Quantity``, ``Observation.referenceRange``,
``ServiceRequest``, or ``DomainResource`` for every DomainResource) or an element of one
(``ElementDefinition.max``, ``RiskAssessment.prediction.probability[x]``).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import fhirpathpy
from antlr4 import CommonTokenStream, InputStream, Token  # type: ignore[import-untyped]
from antlr4.error.ErrorListener import ErrorListener  # type: ignore[import-untyped]
from fhirpathpy.engine.invocations import invocation_registry
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models
from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

from app.errors import Issue
from app.validation import fhirpath_lite
from app.validation.definitions import TypeDef, load_definitions
from app.validation.invariant_rules import HAND_COMPILED, Check
from app.validation.walk import DOMAIN_RESOURCE, NOT_DOMAIN, Node, nodes

__all__ = [
    "CompiledConstraint",
    "Constraint",
    "ConstraintSet",
    "UnsupportedConstraint",
    "check_syntax",
    "compile_all",
    "compile_constraint",
    "evaluate",
]

log = logging.getLogger(__name__)

_R4_MODEL: Final = models["r4"]


def _has_value(inputs: list[Any]) -> bool:
    """FHIRPath ``hasValue()`` (missing from fhirpathpy 2.2.4): one primitive with a value."""
    return len(inputs) == 1 and inputs[0] is not None and not isinstance(inputs[0], dict)


def _no_trace(label: str, values: Any) -> None:
    """``trace()`` in the R4 expressions (ref-1, dom-3, que-1) must not print."""


_OPTIONS: Final = {
    "userInvocationTable": {"hasValue": {"fn": _has_value, "arity": {0: []}}},
    "traceFn": _no_trace,
}
_FUNCTIONS: Final = frozenset(invocation_registry) | {"hasValue"}


class UnsupportedConstraint(Exception):
    """The constraint cannot be evaluated here (unparsable, or uses a missing function)."""


@dataclass(frozen=True, slots=True)
class Constraint:
    """One ``ElementDefinition.constraint``; ``path`` is the owner key it applies at."""

    key: str
    severity: str  # error | warning
    human: str
    expression: str
    path: str


@dataclass(frozen=True, slots=True)
class CompiledConstraint:
    """A constraint with its check: ``check(value, node)`` is False only when violated."""

    constraint: Constraint
    check: Check
    engine: str  # "hand" | "simple" | "fhirpath"


def _owner_typedef(path: str) -> TypeDef | None:
    types = load_definitions().types
    if path == DOMAIN_RESOURCE:
        return None
    return types.get(path)


def _model_path(path: str) -> str:
    """What fhirpathpy's model calls the element (its choice and type tables)."""
    return path.replace("[x]", "")


# Infix keywords a parenthesis can follow: ``x in ('a' | 'b')`` is no call of ``in``.
_KEYWORDS: Final = frozenset({"and", "or", "xor", "implies", "in", "contains", "is", "as"})
_KEYWORDS_MATH: Final = frozenset({"div", "mod"})


def _functions(expression: str) -> set[str]:
    """The names called in ``expression`` (an identifier right before a parenthesis)."""
    tokens = fhirpath_lite.tokens(expression)
    return {
        token
        for token, following in itertools.pairwise(tokens)
        if following == "("
        and (token[:1].isalpha() or token[:1] == "_")
        and token not in _KEYWORDS | _KEYWORDS_MATH
    }


class _RaisingListener(ErrorListener):  # type: ignore[misc]
    """fhirpathpy's parser recovers from syntax errors silently; we want to know."""

    def syntaxError(self, *args: Any) -> None:  # noqa: N802 (ANTLR's name)
        # ANTLR passes (recognizer, offendingSymbol, line, column, msg, e)
        raise UnsupportedConstraint(f"syntax error at {args[3]}: {args[4]}")


def check_syntax(expression: str) -> None:
    """Raise `UnsupportedConstraint` if ``expression`` is not FHIRPath (fhirpathpy's own parser
    recovers silently)."""
    listener = _RaisingListener()
    lexer = FHIRPathLexer(InputStream(expression))
    lexer.removeErrorListeners()
    lexer.addErrorListener(listener)
    parser = FHIRPathParser(CommonTokenStream(lexer))
    parser.removeErrorListeners()
    parser.addErrorListener(listener)
    parser.expression()
    if parser.getCurrentToken().type != Token.EOF:
        raise UnsupportedConstraint(f"unexpected {parser.getCurrentToken().text!r}")


def _fhirpath_check(c: Constraint, typedef: TypeDef | None) -> Check:
    missing = _functions(c.expression) - _FUNCTIONS
    if missing:
        raise UnsupportedConstraint(f"{c.key}: fhirpathpy lacks {', '.join(sorted(missing))}")
    try:
        check_syntax(c.expression)
    except UnsupportedConstraint as exc:
        raise UnsupportedConstraint(f"{c.key}: {exc}") from exc
    try:
        compiled = fhirpathpy.compile(c.expression, model=_R4_MODEL, options=_OPTIONS)
    except Exception as exc:  # the ANTLR parser raises plain Exceptions
        raise UnsupportedConstraint(f"{c.key}: {exc}") from exc
    model_path = _model_path(c.path)
    prefilter = fhirpath_lite.compile_prefilter(c.expression, typedef) if typedef else None

    def check(value: Any, node: Node) -> bool:
        if prefilter is not None and type(value) is dict and prefilter(value):
            return True
        context = {"resource": node.resource, "rootResource": node.root}
        try:
            node_value = ResourceNode.create_node(value, model_path)  # type: ignore[no-untyped-call]
            result = compiled(node_value, context)
        except Exception:  # an engine gap on this input: never fail the request
            log.debug("invariant %s could not be evaluated at %s", c.key, node.path)
            return True
        return bool(result == [True])

    return check


def compile_constraint(c: Constraint) -> CompiledConstraint:
    """Compile ``c`` once; raises `UnsupportedConstraint` if it cannot be evaluated."""
    hand = HAND_COMPILED.get((c.key, " ".join(c.expression.split())))
    if hand is not None:
        return CompiledConstraint(c, hand, "hand")
    typedef = _owner_typedef(c.path)
    if typedef is not None:
        predicate = fhirpath_lite.compile_simple(c.expression, typedef)
        if predicate is not None:
            return CompiledConstraint(c, _on_objects(predicate), "simple")
    return CompiledConstraint(c, _fhirpath_check(c, typedef), "fhirpath")


def _on_objects(predicate: fhirpath_lite.Predicate) -> Check:
    def check(value: Any, _node: Node) -> bool:
        return type(value) is not dict or predicate(value)

    return check


def _issue(compiled: CompiledConstraint, where: str) -> Issue:
    c = compiled.constraint
    return Issue(c.severity, "invariant", f"{c.key}: {c.human}", (where,))


@dataclass(frozen=True, slots=True)
class _Plan:
    """The constraints of one owner type, split into object-level and per-property ones
    (property name, its FHIRPath step, its constraints)."""

    on_object: tuple[CompiledConstraint, ...]
    on_property: tuple[tuple[str, str, tuple[CompiledConstraint, ...]], ...]
    # A DomainResource: the DomainResource constraints run on it too (when it is a resource).
    domain: bool


def _plan(
    typedef: TypeDef, constraints_by_path: Mapping[str, Sequence[CompiledConstraint]]
) -> _Plan:
    on_property = []
    for key, el in typedef.elements.items():
        if el.complex is not None and el.complex.name == f"{typedef.name}.{el.name}":
            continue  # a backbone element: its constraints run on the object itself
        step = f"{el.choice}[x]" if el.choice else key
        found = constraints_by_path.get(f"{typedef.name}.{step}")
        if found:
            on_property.append((key, el.step, tuple(found)))
    return _Plan(
        tuple(constraints_by_path.get(typedef.name, ())),
        tuple(on_property),
        typedef.name not in NOT_DOMAIN,
    )


class ConstraintSet:
    """Constraints by path with their per-type plans cached: build one per constraint set
    (the base set, a profile) and reuse it, so each type is planned once, not per resource."""

    def __init__(self, constraints_by_path: Mapping[str, Sequence[CompiledConstraint]]) -> None:
        self.by_path = constraints_by_path
        self.domain = tuple(constraints_by_path.get(DOMAIN_RESOURCE, ()))
        self.plans: dict[str, _Plan] = {}

    def _plan(self, typedef: TypeDef) -> _Plan:
        plan = self.plans[typedef.name] = _plan(typedef, self.by_path)
        return plan

    def applies_within(self, typedef: TypeDef) -> bool:
        """Whether any constraint applies to an object of this type that is not a resource."""
        plan = self.plans.get(typedef.name) or self._plan(typedef)
        return bool(plan.on_object or plan.on_property)

    def node_issues(self, node: Node, issues: list[Issue]) -> None:
        """Append the violations at one walked node (its object and its properties).
        Locations are only built for a violation: nearly every check passes."""
        plan = self.plans.get(node.typedef.name) or self._plan(node.typedef)
        obj = node.obj
        if node.is_resource and plan.domain:
            _run(self.domain, obj, node, node.path, issues)
        if plan.on_object:
            _run(plan.on_object, obj, node, node.path, issues)
        for key, step, constraints in plan.on_property:
            value = obj.get(key)
            if value is None:
                continue
            if type(value) is not list:
                for compiled in constraints:
                    if not compiled.check(value, node):
                        issues.append(_issue(compiled, f"{node.path}.{step}"))
                continue
            for index, item in enumerate(value):
                if item is None:
                    continue
                for compiled in constraints:
                    if not compiled.check(item, node):
                        issues.append(_issue(compiled, f"{node.path}.{step}[{index}]"))


def evaluate(
    resource: dict[str, Any], constraints_by_path: Mapping[str, Sequence[CompiledConstraint]]
) -> list[Issue]:
    """Every violated constraint in ``resource`` (contained and entry resources included).
    A caller that validates many resources against one set keeps a `ConstraintSet`."""
    constraint_set = ConstraintSet(constraints_by_path)
    issues: list[Issue] = []
    for node in nodes(resource):
        constraint_set.node_issues(node, issues)
    return issues


def _run(
    constraints: Sequence[CompiledConstraint],
    value: Any,
    node: Node,
    where: str,
    issues: list[Issue],
) -> None:
    for compiled in constraints:
        if not compiled.check(value, node):
            issues.append(_issue(compiled, where))


CompileReport = tuple[dict[str, list[CompiledConstraint]], dict[str, str]]


def compile_all(constraints: Sequence[Constraint]) -> CompileReport:
    """Compile many (a profile's, the base set): by path, plus the skipped key -> reason."""
    by_path: dict[str, list[CompiledConstraint]] = {}
    skipped: dict[str, str] = {}
    for c in constraints:
        try:
            compiled = compile_constraint(c)
        except UnsupportedConstraint as exc:
            skipped[f"{c.path}:{c.key}"] = str(exc)
            continue
        by_path.setdefault(c.path, []).append(compiled)
    if skipped:
        log.info("skipped invariants fhirpathpy cannot run: %s", ", ".join(sorted(skipped)))
    return by_path, skipped
