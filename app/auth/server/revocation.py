"""Which access tokens are revoked: an in-memory set the resource server asks on every
request (no I/O), kept in step with the database once a second so every worker learns of a
revocation made by another."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from app.auth.server.store import AuthStore, now

log = logging.getLogger(__name__)
REFRESH_SECONDS = 1.0
PURGE_SECONDS = 300.0
_OVERLAP = 2
"""Seconds re-read at each refresh: a revocation committed just as we read is not missed."""


class RevocationList:
    def __init__(self, store: AuthStore) -> None:
        self._store = store
        self._revoked: dict[str, int] = {}
        self._since = 0
        self._task: asyncio.Task[None] | None = None
        self._purged = 0.0

    def is_revoked(self, jti: str) -> bool:
        return jti in self._revoked

    def add(self, entries: list[tuple[str, int]]) -> None:
        self._revoked.update(entries)

    async def refresh(self) -> None:
        started = now()
        self.add(await self._store.revoked_since(self._since - _OVERLAP))
        self._since = started
        self._revoked = {j: exp for j, exp in self._revoked.items() if exp >= started}

    async def _loop(self) -> None:
        while True:
            try:
                await self.refresh()
                if time.monotonic() - self._purged > PURGE_SECONDS:
                    self._purged = time.monotonic()
                    await self._store.purge()
            except Exception:  # a database hiccup must not end the refresher
                log.exception("could not refresh the revoked tokens")
            await asyncio.sleep(REFRESH_SECONDS)

    async def start(self) -> None:
        await self.refresh()
        self._task = asyncio.create_task(self._loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
