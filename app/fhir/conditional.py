"""Criteria for conditional create, update and delete.

Conditional criteria are strict: an unknown parameter would widen the match silently, so it is
a 400, never ignored; empty criteria are a 400 too.
"""

from __future__ import annotations

from urllib.parse import urlencode

from app.errors import InvalidRequest
from app.search.request import SearchRequest, parse_search


def criteria_request(
    res_type: str, params: list[tuple[str, str]], types: frozenset[str]
) -> tuple[SearchRequest, str]:
    """A SearchRequest for the criteria, and a canonical key naming them (for locking)."""
    usable = [(k, v) for k, v in params if k not in ("_format", "_pretty")]
    request = parse_search(res_type, usable, default_count=2, max_count=2, known_types=types)
    if request.unknown:
        raise InvalidRequest(
            "Conditional criteria use unknown or unsupported parameters: "
            + ", ".join(request.unknown),
            expression=tuple(request.unknown),
        )
    if not request.clauses:
        raise InvalidRequest("Conditional criteria are empty; give at least one search parameter")
    key = f"{res_type}?{urlencode(sorted(usable))}"
    return request, key
