"""The ``/auth`` routes of the embedded authorization server (see docs/security.md)."""

from __future__ import annotations

import math
import secrets
from dataclasses import replace
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from app.auth.discovery import embedded_configuration
from app.auth.server import flow
from app.auth.server.core import LAUNCH_SECONDS, SmartServer, site_of
from app.auth.server.pages import error_page, picker_page
from app.auth.server.patients import find_patients, patient_exists
from app.auth.server.store import Launch
from app.fhir.context import AUTH_PREFIX, FhirContext

router = APIRouter(prefix=AUTH_PREFIX, include_in_schema=False)


def _server(request: Request) -> SmartServer:
    """The running server: this router is mounted only when it is on (app.main)."""
    server: SmartServer = request.app.state.auth_server
    return server


def _html(page: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(page, status_code=status, headers=flow.NO_STORE)


async def _items(request: Request) -> list[tuple[str, str]]:
    if request.method == "GET":
        return list(request.query_params.multi_items())
    form = await request.form()
    return [(k, v) for k, v in form.multi_items() if isinstance(v, str)]


@router.api_route("/authorize", methods=["GET", "POST"])
async def authorize(request: Request) -> Response:
    server = _server(request)
    items = await _items(request)
    try:
        pending = await flow.validate(server, request, items)
    except flow.FlowError as exc:
        return flow.flow_error_response(exc, dict(items).get("state"))
    return flow.show_login(server, request, pending)


@router.post("/login")
async def login(request: Request) -> Response:
    server = _server(request)
    form = dict(await _items(request))
    pending = flow.unseal(server, request, form.get("pending", ""))
    if pending is None:
        return _html(error_page("This sign-in page has expired: start again from the app"), 400)
    username = form.get("username", "")
    address = request.client.host if request.client else ""
    wait = server.sign_ins.retry_after(username, address)
    if wait is not None:
        minutes = math.ceil(wait / 60)
        message = f"Too many failed sign-ins: try again in {minutes} minute{'s' * (minutes > 1)}"
        response = flow.show_login(server, request, pending, message, status=429)
        response.headers["Retry-After"] = str(wait)
        return response
    user = server.registry.users.get(username)
    if user is None or not user.check_password(form.get("password", "")):
        server.sign_ins.failed(username, address)
        return flow.show_login(server, request, pending, "Wrong username or password")
    server.sign_ins.succeeded(username)
    pending = flow.signed_in(pending, user.username)
    if pending.needs_patient:
        return await _picker(server, request, pending, "")
    return await flow.issue_code(server, pending)


async def _picker(
    server: SmartServer, request: Request, pending: flow.Pending, query: str, error: str = ""
) -> Response:
    ctx: FhirContext = request.app.state.fhir
    csrf = request.cookies.get(pending.cookie) or secrets.token_urlsafe(24)
    patients = await find_patients(ctx, query)
    page = picker_page(flow.seal(server, pending, csrf), patients, query, error)
    response = _html(page, 400 if error else 200)
    flow.set_cookie(response, request, pending, csrf)
    return response


@router.post("/patient")
async def patient(request: Request) -> Response:
    """The picker's search (``name``) and choice (``patient``), both posted."""
    server = _server(request)
    form = dict(await _items(request))
    pending = flow.unseal(server, request, form.get("pending", ""))
    if pending is None or pending.username is None:
        return _html(error_page("This page has expired: start again from the app"), 400)
    if "patient" not in form:
        return await _picker(server, request, pending, form.get("name", ""))
    chosen = form["patient"]
    if not chosen or not await patient_exists(request.app.state.fhir, chosen):
        return await _picker(server, request, pending, "", "Choose a patient from the list")
    return await flow.issue_code(server, replace(pending, patient=chosen))


@router.post("/token")
async def token(request: Request) -> Response:
    server = _server(request)
    response = await server.token_response(request)
    _cors(server, request, response)
    return response


@router.post("/introspect")
async def introspect(request: Request) -> Response:
    server = _server(request)
    return await server.endpoint_response("introspection", request)


@router.post("/revoke")
async def revoke(request: Request) -> Response:
    server = _server(request)
    response = await server.endpoint_response("revocation", request)
    _cors(server, request, response)
    return response


@router.get("/ehr-launch")
async def ehr_launch(request: Request) -> Response:
    """The demo's stand-in for an EHR: launch a registered app for a patient (and encounter)."""
    server = _server(request)
    query = request.query_params
    client = server.query_client(query.get("client_id", ""))
    if client is None or not client.launch_url:
        return _html(error_page("Unknown client_id, or the client has no launch_url"), 400)
    patient_id = query.get("patient")
    if not patient_id or not await patient_exists(request.app.state.fhir, patient_id):
        return _html(error_page("patient must name a stored Patient"), 400)
    handle = secrets.token_urlsafe(24)
    launch = Launch(client.client_id, patient_id, query.get("encounter") or None)
    await server.store.save_launch(handle, launch, LAUNCH_SECONDS)
    params = urlencode({"iss": site_of(request).fhir_base, "launch": handle})
    sep = "&" if "?" in client.launch_url else "?"
    return RedirectResponse(client.launch_url + sep + params, status_code=302)


@router.get("/jwks")
@router.get("/.well-known/jwks.json")
async def jwks(request: Request) -> Response:
    server = _server(request)
    return JSONResponse(server.public_jwks(), headers={"Access-Control-Allow-Origin": "*"})


@router.get("/.well-known/openid-configuration")
async def openid_configuration(request: Request) -> Response:
    doc = embedded_configuration(site_of(request).fhir_base)
    del doc["capabilities"]
    doc.update(
        subject_types_supported=["public"],
        id_token_signing_alg_values_supported=["RS256"],
        claims_supported=["iss", "sub", "aud", "exp", "iat", "fhirUser", "nonce"],
    )
    return JSONResponse(doc, headers={"Access-Control-Allow-Origin": "*"})


def _cors(server: SmartServer, request: Request, response: Response) -> None:
    """Let registered apps' browser code call the token and revocation endpoints."""
    origin = request.headers.get("origin")
    if not origin:
        return
    for client in server.registry.clients.values():
        for url in [*client.redirect_uris, client.launch_url or ""]:
            parts = urlsplit(url)
            if url and f"{parts.scheme}://{parts.netloc}" == origin:
                response.headers["Access-Control-Allow-Origin"] = origin
                response.headers["Vary"] = "Origin"
                return
