"""SQL for reference hops: chaining (``subject:Patient.name``) and reverse chaining (``_has``).

Each hop wraps the set of (res_type, res_id) pairs found one level further in a
non-correlated ``IN (SELECT ...)`` over search_reference: SQLite evaluates that once through
the (res_type, param, target_id, target_type) index, where a correlated EXISTS would run once
per candidate row.
"""

from __future__ import annotations

from app.search import parameters
from app.search.param_meta import component_types
from app.search.query_leaf import Binder
from app.search.request import Clause, Link


def hop(b: Binder, link: Link, inner: str) -> str:
    """The pairs one reference away from ``inner``: forward (who points into ``inner``)
    or reverse (what ``inner``'s resources point at)."""
    scope, param = b.scope("h", link.types), b.arg(link.param)
    if link.forward:
        return (
            f"SELECT h.res_type, h.res_id FROM search_reference h WHERE {scope} "
            f"AND h.param = {param} AND (h.target_type, h.target_id) IN ({inner})"
        )
    return (
        f"SELECT h.target_type, h.target_id FROM search_reference h WHERE {scope} "
        f"AND h.param = {param} AND h.target_id IS NOT NULL "
        f"AND (h.res_type, h.res_id) IN ({inner})"
    )


def composite_kinds(clause: Clause) -> tuple[str, ...]:
    """The component types of a composite clause (empty for every other type)."""
    if clause.type != "composite":
        return ()
    for res_type in clause.types or ("Resource",):
        param = parameters.parameters_for(res_type).get(clause.param)
        if param is not None:
            return component_types(param)
    return ()
