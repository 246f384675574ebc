"""The interactive part of the authorization-code flow: the authorize request checks authlib
does not make (``aud``, PKCE S256, ``launch``), the pending authorization carried between
pages, and the code at the end.

The pending authorization travels in the pages as a short-lived JWT signed with the server's
key, so any worker can continue it; a random value in it must equal a cookie set for it
(path ``/auth``, SameSite Strict), so another site cannot post a form into it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2.rfc6749 import OAuth2Error  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import JoseError
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.auth.keys import SIGNING_ALG
from app.auth.scopes import Grants
from app.auth.server.core import CODE_SECONDS, SmartServer, site_of
from app.auth.server.pages import error_page, login_page
from app.auth.server.requests import FormRequest
from app.auth.server.store import GrantRecord, now

PENDING_SECONDS = 600
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_PENDING_TYP = "mitral-pending+jwt"
_CHALLENGE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


class FlowError(Exception):
    """An authorize request we refuse: redirected to the client when its redirect_uri is
    known to be valid, else shown on a page."""

    def __init__(self, error: str, description: str, redirect_uri: str | None = None) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.redirect_uri = redirect_uri


@dataclass(frozen=True, slots=True)
class Pending:
    """An authorization between the authorize request and the code."""

    id: str
    client_id: str
    redirect_uri: str
    scope: str
    state: str | None
    code_challenge: str
    nonce: str | None
    launched: bool
    patient: str | None = None
    encounter: str | None = None
    username: str | None = None

    @property
    def needs_patient(self) -> bool:
        grants = Grants.parse(self.scope)
        return self.patient is None and (
            "launch/patient" in grants.other or "patient" in grants.levels
        )

    @property
    def cookie(self) -> str:
        return f"mitral_auth_{self.id}"


def _normalise(url: str) -> str:
    return url.rstrip("/")


async def validate(server: SmartServer, request: Request, items: list[tuple[str, str]]) -> Pending:
    """The checked authorize request, or FlowError."""
    site = site_of(request)
    oauth = FormRequest(
        request.method, str(request.url), items, headers=request.headers, site=site, token_url=""
    )
    try:
        grant = server.get_consent_grant(oauth)
    except OAuth2Error as exc:
        raise FlowError(exc.error, exc.get_error_description(), exc.redirect_uri) from None
    redirect_uri = grant.redirect_uri
    data = oauth.payload.data
    aud = data.get("aud")
    if not aud or _normalise(aud) != _normalise(site.fhir_base):
        raise FlowError("invalid_request", f"aud must be {site.fhir_base}", redirect_uri)
    challenge = data.get("code_challenge") or ""
    if data.get("code_challenge_method") != "S256" or not _CHALLENGE.match(challenge):
        raise FlowError(
            "invalid_request", "PKCE is required: code_challenge_method=S256", redirect_uri
        )
    if not oauth.scope:
        raise FlowError("invalid_scope", "No requested scope can be granted", redirect_uri)
    patient = encounter = None
    handle = data.get("launch")
    if handle:
        launch = await server.store.launch(handle)
        if launch is None or launch.client_id != grant.client.client_id:
            raise FlowError("invalid_request", "Unknown or expired launch", redirect_uri)
        patient, encounter = launch.patient, launch.encounter
    return Pending(
        id=secrets.token_urlsafe(12),
        client_id=grant.client.client_id,
        redirect_uri=redirect_uri,
        scope=oauth.scope,
        state=data.get("state"),
        code_challenge=challenge,
        nonce=data.get("nonce"),
        launched=bool(handle),
        patient=patient,
        encounter=encounter,
    )


def flow_error_response(exc: FlowError, state: str | None) -> Response:
    if exc.redirect_uri is None:
        return HTMLResponse(error_page(exc.description), status_code=400)
    params = {"error": exc.error, "error_description": exc.description}
    if state:
        params["state"] = state
    sep = "&" if "?" in exc.redirect_uri else "?"
    return RedirectResponse(exc.redirect_uri + sep + urlencode(params), status_code=302)


def seal(server: SmartServer, pending: Pending, csrf: str) -> str:
    claims = {**asdict(pending), "csrf": csrf, "exp": now() + PENDING_SECONDS}
    header = {"alg": SIGNING_ALG, "typ": _PENDING_TYP}
    return jwt.encode(header, claims, server.key)


def unseal(server: SmartServer, request: Request, sealed: str) -> Pending | None:
    """The pending authorization, if the seal, its age and the browser's cookie check out."""
    try:
        decoded = jwt.decode(sealed, server.key, algorithms=[SIGNING_ALG])
    except (JoseError, ValueError):
        return None
    claims: dict[str, Any] = dict(decoded.claims)
    if decoded.header.get("typ") != _PENDING_TYP or int(claims.pop("exp", 0)) < now():
        return None
    csrf = claims.pop("csrf", None)
    try:
        pending = Pending(**claims)
    except TypeError:
        return None
    cookie = request.cookies.get(pending.cookie)
    if not csrf or not cookie or not secrets.compare_digest(str(csrf), cookie):
        return None
    return pending


def show_login(
    server: SmartServer,
    request: Request,
    pending: Pending,
    error: str | None = None,
    status: int | None = None,
) -> Response:
    csrf = request.cookies.get(pending.cookie) or secrets.token_urlsafe(24)
    client = server.query_client(pending.client_id)
    name = (client.name if client else "") or pending.client_id
    page = login_page(name, pending.scope, seal(server, pending, csrf), error)
    code = status or (401 if error else 200)
    response = HTMLResponse(page, status_code=code, headers=NO_STORE)
    set_cookie(response, request, pending, csrf)
    return response


def set_cookie(response: Response, request: Request, pending: Pending, csrf: str) -> None:
    response.set_cookie(
        pending.cookie,
        csrf,
        max_age=PENDING_SECONDS,
        path="/auth",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def signed_in(pending: Pending, username: str) -> Pending:
    return replace(pending, username=username)


async def issue_code(server: SmartServer, pending: Pending) -> Response:
    user = server.registry.users.get(pending.username or "")
    if user is None:
        return HTMLResponse(error_page("Sign in first"), status_code=400)
    code = secrets.token_urlsafe(32)
    record = GrantRecord(
        client_id=pending.client_id,
        scope=pending.scope,
        subject=user.username,
        grant_id=secrets.token_urlsafe(16),
        fhir_user=user.fhir_user,
        patient=pending.patient,
        encounter=pending.encounter,
        need_patient_banner=not pending.launched,
        redirect_uri=pending.redirect_uri,
        code_challenge=pending.code_challenge,
        nonce=pending.nonce,
    )
    await server.store.save_code(code, record, CODE_SECONDS)
    params = {"code": code}
    if pending.state:
        params["state"] = pending.state
    sep = "&" if "?" in pending.redirect_uri else "?"
    response = RedirectResponse(pending.redirect_uri + sep + urlencode(params), status_code=302)
    response.delete_cookie(pending.cookie, path="/auth")
    return response
