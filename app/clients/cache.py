"""A small bounded cache with expiry, for answers an upstream server gives again and again
(validating a large ingest asks about the same few codes thousands of times).

Bounded so memory cannot grow with the variety of questions; expiring so an upstream content
update is seen within ``ttl_seconds``. Not shared between processes, not thread-safe (one event
loop uses it).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class TtlCache(Generic[V]):
    def __init__(
        self,
        max_size: int = 10_000,
        ttl_seconds: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_size = max_size
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, V]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        expires, found = entry
        if self._clock() >= expires:
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return found

    def put(self, key: Hashable, found: V) -> None:
        if self.max_size <= 0 or self.ttl_seconds <= 0:
            return
        self._entries[key] = (self._clock() + self.ttl_seconds, found)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_size:
            self._entries.popitem(last=False)
