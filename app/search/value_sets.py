"""``:in`` / ``:not-in``: replace each ValueSet url by the codes it holds, before SQL is built.

The search package does not know terminology (it sits below it in the flow); the caller hands
in ``codes_of``, which asks the terminology service for a ValueSet's expansion. The clause then
becomes a plain token clause over those codes (``:in``) or its ``:not`` (``:not-in``), so the
query builder, the index and the paging need nothing new. A ValueSet the service does not know
is a 400 naming the parameter: a search for codes in an unknown set cannot be answered, and
answering "nothing" would hide the mistake.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection
from dataclasses import replace

from app.errors import FhirError, InvalidRequest
from app.search.criteria import TokenValue, ValueSetRef
from app.search.request import Clause, SearchRequest

CodesOf = Callable[[str], Awaitable[Collection[tuple[str, str]]]]
"""A ValueSet url -> its (system, code) pairs; raises ResourceNotFound if unknown."""

MAX_CODES = 5_000
"""Most codes one ``:in`` clause may stand for: each is a bound parameter of the query."""


def needs_value_sets(request: SearchRequest) -> bool:
    return any(c.modifier in ("in", "not-in") for c in request.clauses)


async def resolve_value_sets(request: SearchRequest, codes_of: CodesOf | None) -> None:
    """Rewrite every ``:in`` / ``:not-in`` clause of ``request`` in place."""
    for i, clause in enumerate(request.clauses):
        if clause.modifier in ("in", "not-in"):
            request.clauses[i] = await _resolved(clause, codes_of)


async def _resolved(clause: Clause, codes_of: CodesOf | None) -> Clause:
    name = f"{clause.param}:{clause.modifier}"
    if codes_of is None:
        raise InvalidRequest(
            f"'{name}' needs a terminology service, and none is configured",
            expression=(name,),
            issue_code="not-supported",
        )
    codes: set[tuple[str, str]] = set()
    for value in clause.values:
        assert isinstance(value, ValueSetRef)
        try:
            codes.update(await codes_of(value.url))
        except FhirError as exc:
            raise InvalidRequest(
                f"'{name}': cannot expand ValueSet '{value.url}': {exc.diagnostics}",
                expression=(name,),
                issue_code=exc.issue_code,
            ) from exc
        if len(codes) > MAX_CODES:
            raise InvalidRequest(
                f"'{name}': the value set holds more than {MAX_CODES} codes; search on a "
                "smaller one",
                expression=(name,),
                issue_code="too-costly",
            )
    values = tuple(TokenValue(system, code, False) for system, code in sorted(codes))
    return replace(clause, modifier="not" if clause.modifier == "not-in" else None, values=values)
