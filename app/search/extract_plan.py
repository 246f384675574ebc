"""Which of a type's extractors can reach a value of a given resource, and how to run them.

A resource holds a handful of the elements its type defines, and most extractors start at an
absent one: calling them costs more than the rows they add. Each walker that starts with a
key step (``paths.entry_key``) is run only when the resource has that key; walkers of unknown
shape always run. Order is kept, so rows come out exactly as running every walker would.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from app.search.parameters import walkers_for
from app.search.paths import Terminal, Walker, entry_key

_MEMO_LIMIT = 512
"""Key sets remembered per type; feeds repeat a few shapes, so this is rarely reached."""

Step = tuple[str, str | None, Terminal | None, Walker]
"""(key, second key, terminal, walker): with a terminal, the path is the key (and the second
key, if any), which the caller walks itself, handing values to the terminal (no walker call);
else it calls the walker."""


class ExtractPlan:
    """The walkers of one resource type, indexed by the top-level key each needs."""

    __slots__ = ("_always", "_by_key", "_memo", "_steps")

    def __init__(self, walkers: tuple[Walker, ...]) -> None:
        self._steps: list[Step] = []
        self._always: list[int] = []
        self._by_key: dict[str, list[int]] = {}
        for index, walker in enumerate(walkers):
            entry = entry_key(walker)
            if entry is None:
                self._always.append(index)
                self._steps.append(("", None, None, walker))
            else:
                self._by_key.setdefault(entry[0], []).append(index)
                self._steps.append((*entry, walker))
        self._memo: dict[tuple[Any, ...], tuple[Step, ...]] = {}

    def for_keys(self, keys: tuple[Any, ...]) -> tuple[Step, ...]:
        """The steps that can reach a value of a resource with these top-level keys."""
        found = self._memo.get(keys)
        if found is not None:
            return found
        by_key = self._by_key
        chosen = list(self._always)
        for key in keys:
            indices = by_key.get(key)
            if indices is not None:
                chosen += indices
        chosen.sort()
        steps = self._steps
        found = tuple(steps[i] for i in chosen)
        if len(self._memo) >= _MEMO_LIMIT:
            self._memo.clear()
        self._memo[keys] = found
        return found


@cache
def plan_for(resource_type: str) -> ExtractPlan:
    return ExtractPlan(walkers_for(resource_type))
