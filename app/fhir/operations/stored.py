"""The stored CodeSystems, ValueSets and ConceptMaps an operation runs on.

An instance-level operation (``ValueSet/mr-conditions/$expand``) runs on the resource with
that id as stored now; a type-level one naming a ``url`` the terminology service does not
hold runs on the stored resource with that canonical url, as HAPI does for resources
uploaded through the REST API.
"""

from __future__ import annotations

from typing import Any

import orjson

from app.auth.visibility import can_see
from app.errors import InvalidRequest, ResourceNotFound
from app.fhir.context import FhirContext
from app.search import sql
from app.search.request import parse_search


async def by_id(ctx: FhirContext, res_type: str, res_id: str) -> dict[str, Any]:
    found = await ctx.store.read(res_type, res_id)
    if found is not None and not await can_see(ctx.db, res_type, res_id, found.content):
        found = None  # outside the token's scope: exactly as if it did not exist
    if found is None or found.deleted or found.content is None:
        state = "was deleted" if found is not None else "is not known"
        raise ResourceNotFound(f"{res_type}/{res_id} {state}")
    resource: dict[str, Any] = orjson.loads(found.content)
    return resource


def canonical(url: str, version: str | None) -> str:
    return f"{url}|{version}" if version else url


def held(ctx: FhirContext, resource: dict[str, Any]) -> str | None:
    """The canonical to ask the service by, if this is a resource of the local content."""
    url, version = resource.get("url"), resource.get("version")
    if not isinstance(url, str):
        return None
    found = canonical(url, version if isinstance(version, str) else None)
    return found if found in ctx.terminology_urls else None


def split_canonical(url: str, version: str | None = None) -> tuple[str, str | None]:
    """``url|version`` into its parts; an explicit ``version`` wins over the suffix."""
    base, _, suffix = url.partition("|")
    return base, version or suffix or None


async def by_url(
    ctx: FhirContext, res_type: str, url: str, version: str | None, *, parameter: str
) -> dict[str, Any] | None:
    """The one stored ``res_type`` with this canonical url (and version, if given)."""
    params = [("url", url)]
    if version:
        params.append(("version", version))
    request = parse_search(res_type, params, default_count=2, max_count=2, known_types=ctx.types)
    async with ctx.db.read() as conn:
        page = await sql.search(conn, request)
    if len(page.matches) > 1:
        raise InvalidRequest(
            f"More than one stored {res_type} has the url {url}; name the version",
            expression=(parameter,),
        )
    if not page.matches:
        return None
    resource: dict[str, Any] = orjson.loads(page.matches[0].content)
    return resource
