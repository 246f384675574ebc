"""The SearchParameter registry, built from the official R4 definitions.

A parameter is *supported* only if we can both index it and query it; only supported
parameters appear in the CapabilityStatement, so a client is never told we do something we
silently ignore.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import orjson

_DEFINITIONS = Path(__file__).parent / "definitions" / "search-parameters.json"
_SIMPLE_PATH = re.compile(r"^[A-Z][A-Za-z]+(\.[a-z][A-Za-z]*)+$")

# Parameters every type gets, answered from the resource table itself.
RESOURCE_LEVEL = {"_id": "token", "_lastUpdated": "date"}
# Parameters handled by index extraction in this release (the rest arrive with the search engine).
INDEXED = {"identifier"}
# Result parameters understood by the search request parser.
RESULT_PARAMETERS = {"_count", "_cursor", "_total", "_summary", "_format", "_pretty", "_type"}


@dataclass(frozen=True, slots=True)
class SearchParameter:
    code: str
    type: str
    url: str
    paths: tuple[tuple[str, ...], ...]
    """Element paths below the resource (e.g. ('identifier',)) the values come from."""


def _paths_for(expression: str, resource_type: str) -> tuple[tuple[str, ...], ...] | None:
    """Simple dotted paths for one type out of a (possibly multi-type) expression."""
    paths = []
    for part in (p.strip() for p in expression.split("|")):
        if not part.startswith(f"{resource_type}."):
            continue
        if not _SIMPLE_PATH.match(part):
            return None
        paths.append(tuple(part.split(".")[1:]))
    return tuple(paths) if paths else None


@lru_cache(maxsize=1)
def _definitions() -> list[dict[str, object]]:
    data = orjson.loads(_DEFINITIONS.read_bytes())
    params: list[dict[str, object]] = data["searchParameters"]
    return params


@cache
def parameters_for(resource_type: str) -> dict[str, SearchParameter]:
    """The supported search parameters of one resource type, by code."""
    out = {
        code: SearchParameter(
            code, kind, f"http://hl7.org/fhir/SearchParameter/Resource-{code[1:]}", ()
        )
        for code, kind in RESOURCE_LEVEL.items()
    }
    for sp in _definitions():
        code = str(sp["code"])
        bases = sp.get("base")
        if code not in INDEXED or not isinstance(bases, list) or resource_type not in bases:
            continue
        paths = _paths_for(str(sp.get("expression", "")), resource_type)
        if paths:
            out[code] = SearchParameter(code, str(sp["type"]), str(sp["url"]), paths)
    return out
