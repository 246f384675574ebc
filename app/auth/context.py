"""The Principal of the request being served, for code deep below the HTTP layer.

The dispatcher binds it for the whole request; searches run inside Bundles, includes, history
pages and writes all consult it, so no path between the route and the store can forget the
check. Work outside a request (ingest, pathway derivation, start-up) sees None: unrestricted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Protocol

from app.auth.access import Principal

if TYPE_CHECKING:
    from app.auth.policy import Decision


class Admission(Protocol):
    """How the request was admitted (``app.fhir.door.Door``): who is asking, and the
    decision its route was allowed by (None: none for one type and letter)."""

    @property
    def principal(self) -> Principal: ...

    @property
    def decision(self) -> Decision | None: ...


_current: ContextVar[Admission | None] = ContextVar("mitral_admission", default=None)


def current() -> Principal | None:
    """The request's Principal; None (internal work) or an unrestricted one skip checks."""
    admission = _current.get()
    if admission is None:
        return None
    principal = admission.principal
    return None if principal.unrestricted else principal


def admission() -> Admission | None:
    """The request's Admission (None: internal work, or outside a request)."""
    return _current.get()


def bind(admission: Admission) -> Token[Admission | None]:
    return _current.set(admission)


def unbind(token: Token[Admission | None]) -> None:
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
