"""The ``ref`` expression compiled: a reference to another resource of the same unit (an
alias), to a vendor Bundle entry (``resolve``), or by business key (``type`` + ``key``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from app.ingest.mapping.compiled import DROP, Node, compile_all
from app.ingest.records import Scope

if TYPE_CHECKING:
    from app.ingest.mapping.expressions import Evaluation


def compile_reference(expr: dict[str, Any], target: str) -> Node:
    ref = expr["ref"]
    if isinstance(ref, str):

        def alias(ev: Evaluation, _scope: Scope) -> Any:
            found = ev.aliases.get(ref)
            return {"reference": found} if found else DROP

        return alias
    if not isinstance(ref, dict):

        def malformed(_ev: Evaluation, _scope: Scope) -> Any:
            raise TypeError(f"'ref' is an alias name or a mapping, not {ref!r}")

        return malformed
    required = ref.get("required", expr.get("required"))
    if "resolve" in ref:
        return _resolve(ref["resolve"], required, target)
    if "type" not in ref:

        def no_type(_ev: Evaluation, _scope: Scope) -> Any:
            return ref["type"]  # KeyError, as the interpreter raised

        return no_type
    return _by_key(ref, required, target)


def _resolve(path: Any, required: Any, target: str) -> Node:
    # A vendor Bundle's own reference (fullUrl or Type/id) to another entry of it.
    def resolve(ev: Evaluation, scope: Scope) -> Any:
        source = ev.record.values(path, scope)
        if not source:
            return DROP
        found = ev.aliases.get(f"@{source[0]}")
        if found is None:
            if required:
                ev.problem(path, f"{source[0]!r} is not an entry of this input", target)
            return DROP
        return {"reference": found}

    return resolve


def _by_key(ref: dict[str, Any], required: Any, target: str) -> Node:
    res_type = ref["type"]
    identity = ref.get("identity")
    raw = ref.get("key", [])
    nodes = compile_all(raw, target)
    if nodes is None:

        def not_iterable(_ev: Evaluation, _scope: Scope) -> Any:
            return iter(raw)  # TypeError, as the interpreter raised

        return not_iterable
    parts = [
        (node, part.get("from", "") if isinstance(part, dict) else "")
        for node, part in zip(nodes, raw, strict=True)
    ]
    missing = f"the {res_type} reference has no key value"

    def by_key(ev: Evaluation, scope: Scope) -> Any:
        values: list[str] = []
        for node, path in parts:
            value = node(ev, scope)
            if value is DROP:
                if required:
                    ev.problem(path, missing, target, "required")
                return DROP
            values.append(str(value))
        return {"reference": f"{res_type}/{ev.id_for(res_type, identity, values)}"}

    return by_key
