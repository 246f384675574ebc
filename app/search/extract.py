"""Index extraction: the index rows of every supported search parameter of a resource.

The extractors are compiled once per resource type (``walkers_for``); a write runs each one
over the resource JSON. Row shapes: docs/adr/0006-search-index-extraction.md.
"""

from __future__ import annotations

from typing import Any

from app.search.parameters import walkers_for
from app.search.values import Sink
from app.storage.index_rows import IndexRows


def extract_index(resource: dict[str, Any]) -> IndexRows:
    """All index rows for ``resource`` (the resource-level _id/_lastUpdated need none)."""
    sink = Sink()
    for walker in walkers_for(resource["resourceType"]):
        walker(resource, sink, None)
    return IndexRows(sink.tables)
