"""The base R4 rules beyond structure that apply to every resource, profiled or not.

`base_issues` = the invariants of the R4 snapshots (`definitions/r4-invariants.json`,
evaluated by `invariants.evaluate`) + the required bindings of the R4 core elements
(`core_bindings`) + the rules the specification states in prose (`core_rules`: Bundle
fullUrls and links, Coding.system, codes of FHIR-defined code systems...) + the R4 vital
signs profiles, which bind every Observation of a vital sign (`vital_signs`) + the references
of a document's Composition, which resolve in its Bundle (`bundle_references`). All walk nested
resources (contained, Bundle entries, Parameters resources) and report locations in the
structural walker's style. Run it after `validate_structure`: on a malformed resource it
reports only what it can still read, and it never raises.

The base constraints are compiled once, on first use (`load_base_constraints()` at start-up
keeps that off the first request); the few fhirpathpy cannot run are listed in
`BaseConstraints.skipped` and logged. The R4 invariants published wrong are vendored as R4B
corrects them (`scripts/r4_core_rules.py`, ``CONSTRAINT_ERRATA``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Final

import orjson

from app.errors import Issue
from app.validation.bundle_references import document_reference_issues
from app.validation.core_bindings import load_core_bindings, node_binding_issues
from app.validation.core_rules import node_rule_issues
from app.validation.definitions import TypeDef
from app.validation.invariants import CompiledConstraint, Constraint, ConstraintSet, compile_all
from app.validation.structural import MAX_ISSUES
from app.validation.vital_signs import vital_sign_issues
from app.validation.walk import Node, nodes

__all__ = [
    "INVARIANTS_FILE",
    "BaseConstraints",
    "base_issues",
    "load_base_constraints",
    "warm_up",
]

INVARIANTS_FILE: Final = Path(__file__).parent / "definitions" / "r4-invariants.json"


@dataclass(frozen=True, slots=True)
class BaseConstraints:
    by_path: dict[str, list[CompiledConstraint]]
    # "path:key" -> why it is not evaluated (a function fhirpathpy lacks: txt-1, txt-2,
    # ctm-1; the structural XHTML check covers the first two)
    skipped: dict[str, str]
    # The same constraints with their per-type plans, cached across resources.
    constraint_set: ConstraintSet
    # Per type name: which rule families apply to an object of it (`_families`).
    families: dict[str, tuple[bool, bool, bool]] = field(default_factory=dict)


@cache
def load_base_constraints() -> BaseConstraints:
    raw = orjson.loads(INVARIANTS_FILE.read_bytes())
    constraints = [
        Constraint(key, severity, human, expression, path)
        for path, rows in raw["constraints"].items()
        for key, severity, human, expression in rows
    ]
    by_path, skipped = compile_all(constraints)
    return BaseConstraints(by_path, skipped, ConstraintSet(by_path))


def base_issues(resource: dict[str, Any], walked: Iterable[Node] | None = None) -> list[Issue]:
    """The invariant, required-binding and prose-rule issues of ``resource`` against base
    R4 4.0.1, capped at MAX_ISSUES like the structural walk. ``walked``: the resource's
    nodes when the structural walk has gathered them (`structure_and_nodes`), which saves
    walking it again."""
    base = load_base_constraints()
    load_core_bindings()
    issues: list[Issue] = []
    try:
        for node in nodes(resource) if walked is None else walked:  # one walk for them all
            if node.is_resource:
                base.constraint_set.node_issues(node, issues)
                node_binding_issues(node, issues)
                node_rule_issues(node, issues)
                if node.typedef.name == "Observation":
                    issues.extend(vital_sign_issues(node))
                elif node.typedef.name == "Bundle":
                    issues.extend(document_reference_issues(node))
            else:
                # Only the families with a rule for the type: most objects (a Coding, a
                # CodeableConcept, an Identifier) concern one family or none.
                invariants, bindings, rules = _families(node.typedef, base)
                if invariants:
                    base.constraint_set.node_issues(node, issues)
                if bindings:
                    node_binding_issues(node, issues)
                if rules or "extension" in node.obj or "modifierExtension" in node.obj:
                    node_rule_issues(node, issues)
            if len(issues) >= MAX_ISSUES:
                del issues[MAX_ISSUES:]
                text = f"Base rule checks stopped after {MAX_ISSUES} issues"
                issues.append(Issue("information", "too-costly", text, ()))
                break
    except RecursionError:
        issues.append(Issue("error", "structure", "The resource is nested too deeply", ()))
    return issues


def _families(typedef: TypeDef, base: BaseConstraints) -> tuple[bool, bool, bool]:
    """Which rule families look at an object of this type that is not a resource: its
    invariants, its required bindings, the prose rules (`core_rules` has one for Coding; the
    extension-context rule applies to any object with extensions, checked per object)."""
    families = base.families.get(typedef.name)
    if families is None:
        families = base.families[typedef.name] = (
            base.constraint_set.applies_within(typedef),
            typedef.name in load_core_bindings().by_type,
            typedef.name == "Coding",
        )
    return families


def warm_up() -> None:
    """Load and compile everything now (about 0.6 s at start-up), not on the first write."""
    load_base_constraints()
    load_core_bindings()
