"""Clients for upstream FHIR servers; see ``fhir_client``."""

from app.clients.errors import (
    BadGateway,
    GatewayTimeout,
    UpstreamBusy,
    UpstreamError,
    UpstreamInvalid,
    UpstreamNotFound,
    UpstreamUnprocessable,
)
from app.clients.fhir_client import FhirClient

__all__ = [
    "BadGateway",
    "FhirClient",
    "GatewayTimeout",
    "UpstreamBusy",
    "UpstreamError",
    "UpstreamInvalid",
    "UpstreamNotFound",
    "UpstreamUnprocessable",
]
