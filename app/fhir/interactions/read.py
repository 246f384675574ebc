"""read and vread: stored bytes straight to the client, with ETag and Last-Modified.

``_summary`` (``true``, ``text``, ``data``, ``false``) and ``_elements`` work on read as on
search; only then is the resource parsed (the plain read stays a byte copy).
"""

from __future__ import annotations

from http import HTTPStatus

from starlette.requests import Request
from starlette.responses import Response

from app.auth.visibility import can_see
from app.errors import InvalidRequest, ResourceGone, ResourceNotFound
from app.fhir.context import context
from app.fhir.headers import parse_etag_list
from app.fhir.interactions.common import path_id, path_type
from app.fhir.negotiation import output_format
from app.fhir.responses import fhir_response
from app.search.dates import http_date
from app.search.summary import Subset, read_subset
from app.storage.store import StoredVersion


def _subset(request: Request) -> Subset | None:
    """The ``_summary``/``_elements`` asked for, or None (checked before any storage read)."""
    if not request.scope.get("query_string"):
        return None
    return read_subset(request.query_params.multi_items())


def _respond(request: Request, found: StoredVersion, subset: Subset | None) -> Response:
    headers = {"ETag": f'W/"{found.version_id}"', "Last-Modified": http_date(found.last_updated)}
    wanted = parse_etag_list(request.headers.get("if-none-match"))
    if wanted is not None and (not wanted or found.version_id in wanted):
        return Response(status_code=HTTPStatus.NOT_MODIFIED, headers=headers)
    content = found.content
    if subset is not None and content is not None:
        content = subset.apply(content)
    return fhir_response(content, fmt=output_format(request), headers=headers)


async def read(request: Request) -> Response:
    res_type, res_id = path_type(request), path_id(request)
    subset = _subset(request)
    ctx = context(request)
    found = await ctx.store.read(res_type, res_id)
    if found is None or not await can_see(ctx.db, res_type, res_id, found.content):
        raise ResourceNotFound(f"{res_type}/{res_id} is not known")
    if found.deleted:
        raise ResourceGone(
            f"{res_type}/{res_id} was deleted (version {found.version_id})",
            headers={"ETag": f'W/"{found.version_id}"'},
        )
    return _respond(request, found, subset)


async def vread(request: Request) -> Response:
    res_type, res_id = path_type(request), path_id(request)
    vid = request.path_params["vid"]
    if not vid.isdigit():
        raise InvalidRequest(f"'{vid}' is not a version id (a positive integer)")
    subset = _subset(request)
    ctx = context(request)
    found = await ctx.store.vread(res_type, res_id, int(vid))
    if found is None or not await can_see(ctx.db, res_type, res_id, found.content):
        raise ResourceNotFound(f"{res_type}/{res_id} has no version {vid}")
    if found.deleted:
        raise ResourceGone(f"Version {vid} of {res_type}/{res_id} is a deletion")
    return _respond(request, found, subset)
