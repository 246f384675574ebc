"""``Patient/{id}/$pathway``: the patient's timeline across centres (placeholder)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from app.errors import NotSupported

DEFINITION = "https://fhir.southlondon-mitral.nhs.uk/OperationDefinition/Patient-pathway"


async def pathway(request: Request) -> Response:
    raise NotSupported("$pathway is not implemented yet")
