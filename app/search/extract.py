"""Index extraction: the index rows of every supported search parameter of a resource.

The extractors are compiled once per resource type (``walkers_for``); a write runs the ones
that can reach a value of the resource (``extract_plan``) over the resource JSON. Row shapes:
docs/adr/0006-search-index-extraction.md.
"""

from __future__ import annotations

from typing import Any

from app.search.extract_plan import plan_for
from app.search.parameters import walkers_for
from app.search.values import Sink
from app.storage.index_rows import IndexRows


def extract_index(resource: dict[str, Any]) -> IndexRows:
    """All index rows for ``resource`` (the resource-level _id/_lastUpdated need none)."""
    res_type = resource["resourceType"]
    if type(resource) is not dict:  # key steps reach nothing in a subclass: run them all
        return _run_all(resource, res_type)
    sink = Sink()
    for key, inner, terminal, walker in plan_for(res_type).for_keys(tuple(resource)):
        if terminal is None:
            walker(resource, sink, None)
            continue
        # A one- or two-key path: what the walker's key steps would do, inline.
        value = resource[key]
        if value is None:
            continue
        items = value if type(value) is list else (value,)
        if inner is None:
            for item in items:
                terminal(item, sink, None)
            continue
        for item in items:
            if type(item) is dict:
                found = item.get(inner)
                if type(found) is list:
                    for leaf in found:
                        terminal(leaf, sink, None)
                elif found is not None:
                    terminal(found, sink, None)
    return IndexRows(sink.tables)


def _run_all(resource: dict[str, Any], res_type: str) -> IndexRows:
    sink = Sink()
    for walker in walkers_for(res_type):
        walker(resource, sink, None)
    return IndexRows(sink.tables)
