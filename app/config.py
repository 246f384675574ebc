"""All configuration, read from MITRAL_FHIR_* environment variables in this one place.

CLI flags override by constructing Settings with explicit values; nothing else reads the
environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SQLITE_PATH = Path("data") / "mitral-fhir.sqlite3"


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
        default=Path(__file__).resolve().parent.parent / "terminology",
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
    log_level: str = "info"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
