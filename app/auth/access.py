"""Who is asking (the Principal a bearer token stands for) and what they did (AccessEvent).

Every FHIR, ingest and metrics request carries one Principal on ``scope["principal"]``; with
access control off it is ``UNRESTRICTED`` (every scope, no patient context).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.auth.scopes import Grants


@dataclass(frozen=True, slots=True)
class Principal:
    client_id: str
    subject: str
    grants: Grants
    patient: str | None = None
    """The patient in context (``patient`` claim): the token sees only this compartment
    through ``patient/`` scopes."""
    encounter: str | None = None
    fhir_user: str | None = None
    token_id: str | None = None
    expires_at: int | None = None
    """Seconds since the epoch."""
    unrestricted: bool = False
    """Access control is off: every check passes."""

    @property
    def label(self) -> str:
        return self.fhir_user or self.subject or self.client_id


UNRESTRICTED = Principal(
    client_id="anonymous",
    subject="anonymous",
    grants=Grants.parse("system/*.cruds"),
    unrestricted=True,
)


@dataclass(frozen=True, slots=True)
class AccessEvent:
    """One access, as the audit trail records it (see app.auth.audit)."""

    principal: Principal
    method: str
    path: str
    """Below the service root, e.g. ``/fhir/Observation/123``."""
    interaction: str
    """A restful-interaction code (``read``, ``search-type``, ``create``, ...),
    ``operation`` for ``$op``, or ``ingest`` / ``metrics`` outside the FHIR base."""
    status: int
    recorded: int
    """Microseconds since the epoch."""
    res_type: str | None = None
    res_id: str | None = None
    query: str = ""
    patients: tuple[str, ...] = field(default=())
    """Patient ids the access is known to concern (context, the instance, a compartment)."""
    address: str | None = None
    """The client's network address."""
    base: str | None = None
    """The FHIR base URL the request was made to."""
