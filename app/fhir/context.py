"""What every handler needs, built once at start-up and hung on ``app.state``."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from starlette.requests import Request

from app.config import Settings
from app.model.resource_types import resource_types
from app.storage.database import Database
from app.storage.store import ResourceStore
from app.terminology.service import TerminologyService
from app.validation.validator import Validator

FHIR_PREFIX = "/fhir"
AUTH_PREFIX = "/auth"
"""Where the embedded authorization server is served, next to the FHIR base."""
INTERACTION = "mitral.interaction"
"""ASGI scope key a handler sets when its route serves more than one interaction (batch or
transaction), for the audit trail."""


def system_clock() -> int:
    """Now, in microseconds since the epoch, at millisecond precision (as meta.lastUpdated)."""
    return time.time_ns() // 1_000_000 * 1000


@dataclass
class FhirContext:
    settings: Settings
    db: Database
    store: ResourceStore
    terminology: TerminologyService
    validator: Validator
    """Structural walk, base R4 rules and the loaded profiles: $validate and writes."""
    terminology_urls: frozenset[str] = frozenset()
    """Canonical urls (``url`` and ``url|version``) of the CodeSystems, ValueSets and
    ConceptMaps the local terminology content holds: operations on them go by url to the
    service (indexed, cached); other stored ones are evaluated as resources."""
    clock: object = field(default=system_clock)
    types: frozenset[str] = field(default_factory=resource_types)

    def now(self) -> int:
        clock = self.clock
        assert callable(clock)
        value: int = clock()
        return value


def context(request: Request) -> FhirContext:
    ctx: FhirContext = request.app.state.fhir
    return ctx


def base_url(request: Request) -> str:
    """The FHIR base URL clients should see, e.g. http://127.0.0.1:8080/fhir.

    Derived from the request (scheme, Host, root path) when not configured, and remembered per
    such combination: Starlette builds ``request.base_url`` afresh each time (~35 µs), and
    every request through security needs it."""
    configured = context(request).settings.base_url
    if configured:
        return configured.rstrip("/")
    scope = request.scope
    host = next((v for k, v in scope["headers"] if k == b"host"), None)
    key = (scope.get("scheme"), host, scope.get("root_path"), scope.get("server"))
    found = _BASES.get(key)
    if found is None:
        if len(_BASES) >= _BASES_LIMIT:
            _BASES.clear()
        found = _BASES[key] = str(request.base_url).rstrip("/") + FHIR_PREFIX
    return found


_BASES: dict[tuple[object, ...], str] = {}
_BASES_LIMIT = 256


def embedded_issuer(fhir_base: str) -> str:
    """The embedded authorization server's issuer for this FHIR base: ``<origin>/auth``."""
    return fhir_base.removesuffix(FHIR_PREFIX) + AUTH_PREFIX
