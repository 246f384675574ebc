"""The embedded SMART on FHIR authorization server (development and the demo).

``build_auth_server`` makes the server the lifespan keeps on ``app.state.auth_server``; the
resource server asks it ``public_keyset()`` and ``is_revoked(jti)``.
"""

from __future__ import annotations

from app.auth.server.core import SmartServer
from app.auth.server.registry import DEMO_FHIR_USER, Registry
from app.fhir.context import FhirContext
from app.search import sql
from app.search.request import parse_search

__all__ = ["SmartServer", "build_auth_server"]


async def _demo_practitioner(ctx: FhirContext) -> str:
    request = parse_search("Practitioner", [], default_count=1, max_count=1, known_types=ctx.types)
    async with ctx.db.read() as conn:
        page = await sql.search(conn, request)
    if page.matches:
        return f"Practitioner/{page.matches[0].res_id}"
    return DEMO_FHIR_USER


async def build_auth_server(ctx: FhirContext) -> SmartServer:
    """The started server, with the registered clients and users (and the demo's, when
    the demo data is on)."""
    settings = ctx.settings
    registry = Registry.load(settings.auth_clients_file)
    if settings.demo_data:
        registry.add_demo(await _demo_practitioner(ctx))
    server = SmartServer(settings, ctx.db, registry)
    await server.start()
    return server
