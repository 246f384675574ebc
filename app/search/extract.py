"""Index extraction: the values of each supported search parameter of a resource."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from app.search.parameters import SearchParameter, parameters_for
from app.storage.index_rows import IndexRows


def _walk(node: Any, path: tuple[str, ...]) -> Iterator[Any]:
    if not path:
        if isinstance(node, list):
            yield from node
        else:
            yield node
        return
    items = node if isinstance(node, list) else [node]
    for item in items:
        if isinstance(item, dict) and path[0] in item:
            yield from _walk(item[path[0]], path[1:])


def _token_rows(param: SearchParameter, values: Iterator[Any], rows: IndexRows) -> None:
    for value in values:
        if not isinstance(value, dict):
            continue
        system = value.get("system")
        code = value.get("value")
        type_text = (
            (value.get("type") or {}).get("text") if isinstance(value.get("type"), dict) else None
        )
        if system is None and code is None:
            continue
        rows.add("search_token", param.code, None, system, code, type_text)


def extract_index(resource: dict[str, Any]) -> IndexRows:
    """All index rows for ``resource`` (the resource-level _id/_lastUpdated need none)."""
    rows = IndexRows()
    for param in parameters_for(resource["resourceType"]).values():
        if not param.paths:
            continue
        for path in param.paths:
            if param.type == "token":
                _token_rows(param, _walk(resource, path), rows)
    return rows
