"""``_include`` / ``_revinclude`` (with ``:iterate`` and ``*``): resources next to a page.

Includes are fetched per page, after the matches, through search_reference: forward from the
page's resources to what they reference, or in reverse to what references them. ``:iterate``
specs are re-applied to what was just included until nothing new turns up. The number of
included resources is capped; hitting the cap is reported, never silent (the issue's rule).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.errors import InvalidRequest
from app.search import parameters
from app.search.query_leaf import Binder
from app.storage.database import Connection

INCLUDE_LIMIT = 1000
MAX_ROUNDS = 8

Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class IncludeSpec:
    reverse: bool
    iterate: bool
    source: str | None
    """The type holding the reference (None for ``*``: any type)."""
    param: str | None
    """The reference parameter (None for ``Type:*``: every one)."""
    target: str | None


def parse_include(name: str, value: str, known_types: frozenset[str]) -> IncludeSpec | None:
    """One ``_include[:iterate]`` or ``_revinclude[:iterate]`` value; None if unknown."""
    base, _, modifier = name.partition(":")
    if modifier not in ("", "iterate", "recurse"):
        raise InvalidRequest(f"'{name}': unknown modifier ':{modifier}'", expression=(name,))
    reverse, iterate = base == "_revinclude", bool(modifier)
    if value == "*":
        return IncludeSpec(reverse, iterate, None, None, None)
    parts = value.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise InvalidRequest(
            f"'{name}' takes SourceType:parameter[:TargetType] or *, got '{value}'",
            expression=(name,),
        )
    source, code = parts[0], parts[1]
    target = parts[2] if len(parts) == 3 else None
    if source not in known_types or (target and target not in known_types):
        raise InvalidRequest(f"'{name}={value}': unknown resource type", expression=(name,))
    if code == "*":
        return IncludeSpec(reverse, iterate, source, None, target)
    param = parameters.parameters_for(source).get(code)
    if param is None or param.type != "reference":
        return None
    return IncludeSpec(reverse, iterate, source, code, target)


def _in_list(b: Binder, column: str, values: list[str]) -> str:
    return f"{column} IN (" + ", ".join(b.arg(v) for v in values) + ")"


async def _reach(
    conn: Connection, spec: IncludeSpec, keys: list[Key], limit: int
) -> list[tuple[str, str, bytes]]:
    """The live resources one spec reaches from ``keys``, with their content, in key order,
    at most ``limit`` (one query per type among ``keys``: the reference step and the fetch
    in one statement, so an include costs one round trip, not two)."""
    found: list[tuple[str, str, bytes]] = []
    by_type: dict[str, list[str]] = {}
    for res_type, res_id in keys:
        by_type.setdefault(res_type, []).append(res_id)
    for res_type, ids in sorted(by_type.items()):
        b = Binder()
        conds = []
        source = "search_reference h"
        if spec.reverse:
            select = "h.res_type, h.res_id"
            conds += [f"h.target_type = {b.arg(res_type)}", _in_list(b, "h.target_id", ids)]
            if spec.source:
                conds.append(f"h.res_type = {b.arg(spec.source)}")
            if spec.target and spec.target != res_type:
                continue
        else:
            if spec.source and spec.source != res_type:
                continue
            select = "h.target_type, h.target_id"
            if conn.dialect == "sqlite":
                # Without ANALYZE statistics SQLite prefers the (res_type, param, target_id,
                # ...) index here and reads every row of the parameter (~70 ms at 200k).
                source += " INDEXED BY ix_search_reference_resource"
            conds += [f"h.res_type = {b.arg(res_type)}", _in_list(b, "h.res_id", ids)]
            conds.append("h.target_id IS NOT NULL AND h.target_type IS NOT NULL")
            if spec.target:
                conds.append(f"h.target_type = {b.arg(spec.target)}")
        if spec.param:
            conds.append(f"h.param = {b.arg(spec.param)}")
        rows = await conn.fetch(
            "SELECT x.res_type, x.res_id, x.content FROM resource x "
            f"WHERE (x.res_type, x.res_id) IN (SELECT {select} FROM {source} "
            f"WHERE {' AND '.join(conds)}) AND NOT x.deleted "
            f"ORDER BY x.res_type, x.res_id LIMIT {b.arg(limit)}",
            *b.args,
        )
        found.extend((r[0], r[1], bytes(r[2])) for r in rows)
    return found


async def included(
    conn: Connection, specs: tuple[IncludeSpec, ...], matches: list[Key]
) -> tuple[list[tuple[str, str, bytes]], bool]:
    """The resources the specs include for ``matches``, and whether the cap cut them short."""
    seen = set(matches)
    result: list[tuple[str, str, bytes]] = []
    frontier, first, truncated = list(matches), True, False
    for _ in range(MAX_ROUNDS):
        active = [s for s in specs if first or s.iterate]
        if not frontier or not active:
            break
        # Enough rows to fill the cap even if every already-seen resource comes back too.
        limit = INCLUDE_LIMIT - len(result) + len(seen) + 1
        reached: dict[Key, tuple[str, str, bytes]] = {}
        for spec in active:
            for row in await _reach(conn, spec, frontier, limit):
                if (row[0], row[1]) not in seen:
                    reached[(row[0], row[1])] = row
        new = sorted(reached)
        if len(result) + len(new) > INCLUDE_LIMIT:
            new, truncated = new[: INCLUDE_LIMIT - len(result)], True
        seen.update(new)
        result.extend(reached[key] for key in new)
        frontier, first = new, False
        if truncated:
            break
    else:  # all rounds used: anything still reachable was not followed, so say so
        truncated = bool(frontier) and any(s.iterate for s in specs)
    return result, truncated
