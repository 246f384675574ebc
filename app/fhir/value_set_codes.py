"""The codes of a ValueSet, for the search modifiers ``:in`` and ``:not-in``.

Resolved the way ``ValueSet/$expand?url=`` resolves a url (local content, then ValueSets
stored through the API, then a remote terminology server if one is configured), so a search
and an expansion of the same url always agree.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from app.fhir.context import FhirContext
from app.fhir.operations.value_set import by_url
from app.search.value_sets import CodesOf
from app.terminology.service import ExpandRequest


def codes_of(ctx: FhirContext, parameter: str = "url") -> CodesOf:
    async def codes(url: str) -> frozenset[tuple[str, str]]:
        target = await by_url(ctx, url, None, parameter=parameter)
        expansion = await ctx.terminology.expand(
            ExpandRequest(url=target.url, value_set=target.resource, version=target.version)
        )
        return frozenset(_pairs(expansion.get("expansion", {}).get("contains", [])))

    return codes


def _pairs(contains: list[dict[str, Any]]) -> Iterator[tuple[str, str]]:
    for item in contains:
        system, code = item.get("system"), item.get("code")
        if isinstance(system, str) and isinstance(code, str) and not item.get("abstract"):
            yield system, code
        yield from _pairs(item.get("contains", []))
