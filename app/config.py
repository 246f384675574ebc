"""All configuration, read from MITRAL_FHIR_* environment variables in this one place.

CLI flags override by constructing Settings with explicit values; nothing else reads the
environment.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("data") / "mitral-fhir.sqlite3"
REPO = Path(__file__).resolve().parent.parent

API_SOURCE = "api"
"""The source of every write through the REST API (ingest uses ``ingest:<centre>``)."""
WRITE_LEVELS = ("structural", "profiles")
_MV = "https://fhir.southlondon-mitral.nhs.uk/StructureDefinition/"
DEFAULT_WRITE_VALIDATION = {"api": "profiles", "ingest": "profiles"}
DEFAULT_REQUIRED_PROFILES: dict[str, dict[str, str | list[str]]] = {
    "ingest": {
        "Patient": _MV + "MV-Patient",
        "Organization": _MV + "MV-Organization",
        "HealthcareService": _MV + "MV-Service",
        "ServiceRequest": [_MV + "MV-Referral", _MV + "MV-InterventionRequest"],
        "CarePlan": _MV + "MV-Pathway",
        "Procedure": _MV + "MV-Procedure",
        "Observation": _MV + "MV-EchoAssessment",
    }
}


class Settings(BaseSettings):
    """Service settings; every field maps to MITRAL_FHIR_<FIELD_NAME>."""

    model_config = SettingsConfigDict(env_prefix="MITRAL_FHIR_", extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_SQLITE_PATH}",
        description="sqlite:///path or postgresql://user@host:port/db",
    )
    database_schema: str | None = Field(
        default=None, description="PostgreSQL schema to use (default: the server's search_path)"
    )
    database_pool_size: int = 10
    sqlite_cache_mib: int = Field(
        default=32,
        ge=1,
        description="SQLite only: page cache per connection, in MiB (SQLite's own default is 2)",
    )
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 1
    base_url: str | None = Field(
        default=None,
        description="Public base URL of the FHIR endpoint; default derived from the request",
    )
    auto_migrate: bool = Field(default=True, description="Run migrations when serve starts")
    demo_data: bool = Field(default=False, description="Load the demo data set at start-up")
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_bundle_entries: int = Field(default=10_000, ge=1)
    default_page_size: int = Field(default=50, ge=1)
    max_page_size: int = Field(default=1000, ge=1)
    query_timeout_seconds: float = Field(
        default=30.0,
        ge=0,
        description="Longest a search or history query may run before it is stopped (0: no limit)",
    )
    terminology_dir: Path = Field(
        default=REPO / "terminology",
        description="Directory of CodeSystem, ValueSet and ConceptMap JSON served locally",
    )
    terminology_server_url: str | None = Field(
        default=None,
        description=(
            "Base URL of an external FHIR terminology server asked about systems and value "
            "sets we do not hold (default: none, local content only)"
        ),
    )
    terminology_server_timeout_seconds: float = Field(default=10.0, gt=0)
    profiles_dir: Path = Field(
        default=REPO / "profiles" / "build",
        description="Directory of the built StructureDefinitions the validator loads",
    )
    mappings_dir: Path = Field(
        default=REPO / "mappings",
        description="Directory of the per-centre ingest mapping specs (<centre>.yaml)",
    )
    mllp_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port of the HL7 v2 MLLP listener (default: off); MITRAL_FHIR_MLLP_CENTRE "
        "names the centre whose feed it receives",
    )
    ingest_background: bool = Field(
        default=True,
        description="Map units a crash left unmapped, and run the MLLP listener, at start-up",
    )
    poll_centres: str = Field(
        default="{}",
        description='JSON object: centre -> {"url": FHIR base, "types": [resource types], '
        '"interval_seconds": 300}; each centre\'s FHIR API is polled by _lastUpdated',
    )
    pathway_background: bool = Field(
        default=True,
        description="Derive queued patients' pathway CarePlans in the background (else only "
        "`mitral-fhir pathway drain|rebuild` and $pathway derive them)",
    )
    pathway_interval_seconds: float = Field(
        default=1.0,
        gt=0,
        description="How often the background derivation looks for queued patients",
    )
    population_file: Path = Field(
        default=REPO / "pathway" / "population.json",
        description="Population denominators for treatment rates per 100,000 (source inside)",
    )
    mllp_host: str = Field(default="127.0.0.1", description="Address the MLLP listener binds")
    mllp_centre: str | None = Field(default=None, description="Centre of the MLLP feed")
    mllp_max_message_bytes: int = Field(default=1024 * 1024, ge=1024)
    # JSON text, not dicts: `serve` hands settings to its workers as str(value) (app/cli.py).
    validate_on_write: str = Field(
        default=json.dumps(DEFAULT_WRITE_VALIDATION),
        description='JSON object: write source -> "structural" or "profiles"',
    )
    required_profiles: str = Field(
        default=json.dumps(DEFAULT_REQUIRED_PROFILES),
        description="JSON object: write source -> {resource type -> profile url or [urls]}",
    )
    access_control: bool = Field(
        default=True,
        description="Enforce SMART on FHIR bearer tokens and scopes on every FHIR, ingest and "
        "metrics route; `serve --demo` turns it off (with a warning) unless set explicitly",
    )
    auth_issuer: str | None = Field(
        default=None,
        description="Issuer of the access tokens we accept (an external authorization server); "
        "default: the embedded authorization server at <origin>/auth",
    )
    auth_jwks_url: str | None = Field(
        default=None,
        description="JWKS URL of the external issuer (default: <issuer>/.well-known/jwks.json)",
    )
    auth_audience: str | None = Field(
        default=None, description="The aud access tokens must carry (default: the FHIR base URL)"
    )
    auth_server: bool = Field(
        default=True,
        description="Serve the embedded SMART authorization server under /auth (development and "
        "the demo; off when auth_issuer names an external one)",
    )
    auth_clients_file: Path = Field(
        default=Path("data") / "auth-clients.json",
        description="Registered SMART clients and the embedded server's users "
        "(`mitral-fhir clients add` writes it)",
    )
    auth_keys_file: Path = Field(
        default=Path("data") / "auth-keys.json",
        description="The embedded authorization server's signing keys (created when missing)",
    )
    auth_token_seconds: int = Field(
        default=3600,
        ge=60,
        le=3600,
        description="Lifetime of an access token from the embedded server",
    )
    audit: bool = Field(
        default=True, description="Write an AuditEvent for every access (batched in the background)"
    )
    audit_defer_limit: int = Field(
        default=50_000,
        ge=0,
        description="Spooled accesses a busy worker may leave unstored before it stores them "
        "at full speed (a reader of AuditEvents waits for at most these)",
    )
    log_level: str = "info"

    @field_validator("poll_centres")
    @classmethod
    def _check_polls(cls, value: str) -> str:
        for centre, conf in _json_object(value).items():
            if not isinstance(conf, dict) or not isinstance(conf.get("url"), str):
                raise ValueError(f"poll_centres.{centre} needs a 'url'")
            if not isinstance(conf.get("types"), list) or not conf["types"]:
                raise ValueError(f"poll_centres.{centre} needs a non-empty 'types' list")
        return value

    def polls(self) -> dict[str, dict[str, Any]]:
        return {c: dict(v) for c, v in _json_object(self.poll_centres).items()}

    @field_validator("validate_on_write")
    @classmethod
    def _check_levels(cls, value: str) -> str:
        for source, level in _json_object(value).items():
            if level not in WRITE_LEVELS:
                raise ValueError(f"source {source!r}: {level!r} is not one of {WRITE_LEVELS}")
        return value

    @field_validator("required_profiles")
    @classmethod
    def _check_required(cls, value: str) -> str:
        for source, by_type in _json_object(value).items():
            if not isinstance(by_type, dict):
                raise ValueError(f"source {source!r}: expected an object of type -> url")
            for res_type, urls in by_type.items():
                listed = [urls] if isinstance(urls, str) else urls
                if not listed or not all(isinstance(u, str) and u for u in listed):
                    raise ValueError(f"{source}.{res_type}: expected a url or a list of urls")
        return value

    def write_level(self, source: str) -> str:
        """How far a write from ``source`` is validated: ``structural`` or ``profiles``."""
        level: str = _for_source(_json_object(self.validate_on_write), source) or "profiles"
        return level

    def required_profiles_for(self, source: str, res_type: str) -> tuple[str, ...]:
        """The profiles a ``res_type`` written by ``source`` must conform to (any one of)."""
        by_type = _for_source(_json_object(self.required_profiles), source) or {}
        urls = by_type.get(res_type, ())
        return (urls,) if isinstance(urls, str) else tuple(urls)

    def all_required_profiles(self) -> set[tuple[str, str]]:
        """Every configured (resource type, profile url), to check at start-up."""
        found: set[tuple[str, str]] = set()
        for by_type in _json_object(self.required_profiles).values():
            for res_type, urls in by_type.items():
                found.update((res_type, u) for u in ([urls] if isinstance(urls, str) else urls))
        return found

    @property
    def embedded_auth_server(self) -> bool:
        """The embedded authorization server runs (and issues the tokens we trust)."""
        return self.auth_server and not self.auth_issuer

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def _for_source(table: dict[str, Any], source: str) -> Any:
    """``ingest:RJ1`` looks up ``ingest:RJ1``, then ``ingest``, then ``*``."""
    for key in (source, source.partition(":")[0], "*"):
        if key in table:
            return table[key]
    return None


@lru_cache(maxsize=16)
def _json_object(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError("expected a JSON object")
    return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
