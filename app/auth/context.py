"""The Principal of the request being served, for code deep below the HTTP layer.

The dispatcher binds it for the whole request; searches run inside Bundles, includes, history
pages and writes all consult it, so no path between the route and the store can forget the
check. Work outside a request (ingest, pathway derivation, start-up) sees None: unrestricted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token

from app.auth.access import Principal

_current: ContextVar[Principal | None] = ContextVar("mitral_principal", default=None)


def current() -> Principal | None:
    """The request's Principal; None (internal work) or an unrestricted one skip checks."""
    principal = _current.get()
    return None if principal is None or principal.unrestricted else principal


def bind(principal: Principal) -> Token[Principal | None]:
    return _current.set(principal)


def unbind(token: Token[Principal | None]) -> None:
    _current.reset(token)


@contextmanager
def internal_work() -> Iterator[None]:
    """Run the service's own work inside a request (e.g. deriving a pathway before
    ``$pathway`` answers) without the caller's restrictions: what it writes is derived, not
    chosen by the caller, and what the caller then sees is still checked."""
    token = _current.set(None)
    try:
        yield
    finally:
        _current.reset(token)
