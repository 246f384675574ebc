"""What the query side needs from a SearchParameter beyond code and type.

Reference targets (for chaining without a ``:Type``) and composite component types. The
registry's SearchParameter may carry ``targets``/``components``; until then, and as a
fallback, they are read from the vendored R4 definitions by the parameter's URL.
"""

from __future__ import annotations

from functools import cache

import orjson

from app.search.parameters import _DEFINITIONS, SearchParameter


@cache
def _by_url() -> dict[str, dict[str, object]]:
    data = orjson.loads(_DEFINITIONS.read_bytes())
    return {str(sp["url"]): sp for sp in data["searchParameters"]}


def targets(param: SearchParameter) -> tuple[str, ...]:
    """The resource types a reference parameter may point to."""
    found = getattr(param, "targets", None)
    if found:
        return tuple(found)
    raw = _by_url().get(param.url, {}).get("target")
    return tuple(str(t) for t in raw) if isinstance(raw, list) else ()


def component_types(param: SearchParameter) -> tuple[str, ...]:
    """The search types of a composite parameter's components, in order."""
    found = getattr(param, "components", None)
    if found:
        return tuple(str(getattr(c, "type", c)) for c in found)
    raw = _by_url().get(param.url, {}).get("component")
    if not isinstance(raw, list):
        return ()
    kinds = []
    for component in raw:
        definition = _by_url().get(str(component.get("definition")), {})
        kinds.append(str(definition.get("type", "")))
    return tuple(kinds)
