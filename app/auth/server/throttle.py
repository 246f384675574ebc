"""Failed sign-ins, counted so that passwords cannot be guessed at speed.

Two limits over a sliding window (OWASP's authentication guidance): a username that failed
``PER_USER`` times is locked, whatever password comes next, and an address that failed
``PER_ADDRESS`` times (one client trying many usernames) is refused for any. A success
clears its username's count. Unknown usernames count like known ones, so the answer never
tells which exist. The counts live in this process: with several workers each keeps its own
(docs/security.md).
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

WINDOW = 15 * 60.0
"""Seconds a failure counts for."""
PER_USER = 5
PER_ADDRESS = 20
_MAX_KEYS = 10_000
"""Keys kept before stale ones are swept (bounds the memory an attacker can make us use)."""


class SignInThrottle:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float] | None:
        found = self._failures.get(key)
        if found is None:
            return None
        while found and found[0] <= now - WINDOW:
            found.popleft()
        if not found:
            del self._failures[key]
            return None
        return found

    def retry_after(self, username: str, address: str) -> int | None:
        """Seconds until this sign-in may be tried, or None if it may be tried now."""
        now = self._clock()
        waits = []
        for key, limit in ((f"user:{username}", PER_USER), (f"addr:{address}", PER_ADDRESS)):
            found = self._recent(key, now)
            if found is not None and len(found) >= limit:
                waits.append(found[-limit] + WINDOW - now)
        return max(1, math.ceil(max(waits))) if waits else None

    def failed(self, username: str, address: str) -> None:
        now = self._clock()
        if len(self._failures) >= _MAX_KEYS:
            for key in list(self._failures):
                self._recent(key, now)
        for key, limit in ((f"user:{username}", PER_USER), (f"addr:{address}", PER_ADDRESS)):
            self._failures.setdefault(key, deque(maxlen=limit)).append(now)

    def succeeded(self, username: str) -> None:
        self._failures.pop(f"user:{username}", None)
