"""Rewrite search index rows from the stored current content (after parameters change).

Walks the current resources in (res_type, res_id) keyset order, one write transaction per
batch; the cursor after each batch (``Type/id``) can be passed back as ``start_after`` to
resume an interrupted run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.model.fhir_json import loads
from app.model.resource_types import resource_types
from app.search.extract import extract_index
from app.search.parameters import component_param, parameters_for
from app.search.values import Sink
from app.storage.database import Database
from app.storage.index_rows import IndexRows
from app.storage.store import ResourceStore


@dataclass(frozen=True, slots=True)
class Batch:
    resources: int
    rows: int
    cursor: str
    """``Type/id`` of the last resource done: resume with start_after=cursor."""


def parse_cursor(text: str | None) -> tuple[str, str] | None:
    if not text:
        return None
    res_type, sep, res_id = text.partition("/")
    if not sep or not res_type or not res_id:
        raise ValueError(f"--from expects Type/id, not '{text}'")
    return res_type, res_id


def index_for(resource: dict[str, object], param: str | None) -> IndexRows:
    if param is None:
        return extract_index(resource)
    sp = parameters_for(str(resource["resourceType"])).get(param)
    sink = Sink()
    for walker in sp.walkers if sp else ():
        walker(resource, sink, None)
    return IndexRows(sink.tables)


def _row_params(param: str, res_type: str | None) -> list[str]:
    """Every index-row param name ``param`` writes (of-type rows, composite components)."""
    names = [param, f"{param}:of-type"]
    types = [res_type] if res_type else sorted(resource_types())
    width = max(
        (len(parameters_for(t)[param].components) for t in types if param in parameters_for(t)),
        default=0,
    )
    return names + [component_param(param, i) for i in range(width)]


async def reindex(
    db: Database,
    *,
    res_type: str | None = None,
    param: str | None = None,
    start_after: str | None = None,
    batch_size: int = 500,
    on_batch: Callable[[Batch], None] | None = None,
) -> int:
    """Reindex every live resource (of ``res_type``; only ``param``'s rows); returns the
    number of resources reindexed."""
    store = ResourceStore(db)
    after = parse_cursor(start_after)
    params = None if param is None else _row_params(param, res_type)
    done = 0
    while True:
        page = await store.current_page(res_type=res_type, after=after, limit=batch_size)
        if not page:
            return done
        rows = 0
        async with store.write() as tx:
            for version in page:
                if version.content is None:
                    continue
                index = index_for(loads(version.content), param)
                rows += len(index)
                await tx.reindex(version.res_type, version.res_id, index, params)
        done += len(page)
        after = (page[-1].res_type, page[-1].res_id)
        if on_batch:
            on_batch(Batch(len(page), rows, f"{after[0]}/{after[1]}"))
