"""read and vread: stored bytes straight to the client, with ETag and Last-Modified."""

from __future__ import annotations

from http import HTTPStatus

from starlette.requests import Request
from starlette.responses import Response

from app.errors import InvalidRequest, ResourceGone, ResourceNotFound
from app.fhir.context import context
from app.fhir.headers import parse_etag_list
from app.fhir.interactions.common import path_id, path_type
from app.fhir.negotiation import output_format
from app.fhir.responses import fhir_response
from app.search.dates import http_date
from app.storage.store import StoredVersion


def _respond(request: Request, found: StoredVersion) -> Response:
    headers = {"ETag": f'W/"{found.version_id}"', "Last-Modified": http_date(found.last_updated)}
    wanted = parse_etag_list(request.headers.get("if-none-match"))
    if wanted is not None and (not wanted or found.version_id in wanted):
        return Response(status_code=HTTPStatus.NOT_MODIFIED, headers=headers)
    return fhir_response(found.content, fmt=output_format(request), headers=headers)


async def read(request: Request) -> Response:
    res_type, res_id = path_type(request), path_id(request)
    found = await context(request).store.read(res_type, res_id)
    if found is None:
        raise ResourceNotFound(f"{res_type}/{res_id} is not known")
    if found.deleted:
        raise ResourceGone(
            f"{res_type}/{res_id} was deleted (version {found.version_id})",
            headers={"ETag": f'W/"{found.version_id}"'},
        )
    return _respond(request, found)


async def vread(request: Request) -> Response:
    res_type, res_id = path_type(request), path_id(request)
    vid = request.path_params["vid"]
    if not vid.isdigit():
        raise InvalidRequest(f"'{vid}' is not a version id (a positive integer)")
    found = await context(request).store.vread(res_type, res_id, int(vid))
    if found is None:
        raise ResourceNotFound(f"{res_type}/{res_id} has no version {vid}")
    if found.deleted:
        raise ResourceGone(f"Version {vid} of {res_type}/{res_id} is a deletion")
    return _respond(request, found)
