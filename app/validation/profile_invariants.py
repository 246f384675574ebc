"""A profile's own invariants (`constraint.expression`, e.g. `mv-nhs-1`), compiled once.

Compilation is our hand-compiled rule when `profile_rules.py` has one for the exact
expression, else `invariants.compile_constraint`'s (hand-compiled, the exists/empty
fragment, or fhirpathpy with its `hasValue` shim), so a profile invariant means exactly
what a base one does: an empty result or an engine failure at run time holds. What differs
is where it runs: on the very items the profile walk has in hand (a slice's matched
identifiers, not every identifier), which `invariants.evaluate` cannot know about. An
invariant the engine cannot run at all is a load error of the profile, not a silently
skipped rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.validation.definitions import TypeDef, load_definitions
from app.validation.invariants import CompiledConstraint, Constraint, compile_constraint
from app.validation.profile_rules import PROFILE_RULES
from app.validation.walk import Node as WalkNode

__all__ = ["CompiledInvariant", "compile_invariant", "holds"]


@dataclass(frozen=True, slots=True)
class CompiledInvariant:
    compiled: CompiledConstraint
    typedef: TypeDef

    @property
    def key(self) -> str:
        return self.compiled.constraint.key

    @property
    def severity(self) -> str:
        return self.compiled.constraint.severity

    @property
    def human(self) -> str:
        return self.compiled.constraint.human


def compile_invariant(constraint: dict[str, Any], owner: str) -> CompiledInvariant:
    """`owner`: the element's type (`Identifier`, `ServiceRequest`) or its base path
    (`Procedure.performer`). Raises `UnsupportedConstraint` if it cannot be evaluated."""
    severity = constraint.get("severity")
    c = Constraint(
        key=constraint["key"],
        severity=severity if severity in ("error", "warning") else "error",
        human=str(constraint.get("human") or constraint["expression"]),
        expression=constraint["expression"],
        path=owner,
    )
    types = load_definitions().types
    hand = PROFILE_RULES.get((c.key, " ".join(c.expression.split())))
    compiled = CompiledConstraint(c, hand, "hand") if hand else compile_constraint(c)
    return CompiledInvariant(compiled, types.get(owner) or types["Element"])


def holds(invariant: CompiledInvariant, value: Any, path: str, resource: dict[str, Any]) -> bool:
    """Whether the invariant holds on one item (`%resource` is the resource validated)."""
    obj = value if type(value) is dict else {}
    node = WalkNode(invariant.typedef, obj, path, resource, resource)
    return invariant.compiled.check(value, node)
