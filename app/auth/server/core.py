"""The embedded SMART authorization server: authlib's AuthorizationServer for Starlette.

authlib has no async server integration (interfaces.md 7.3): each token, introspection or
revocation request has its form read first, then runs through authlib on a worker thread;
the few database calls the grants make are sent back to the event loop (``run``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import orjson
from authlib.oauth2 import AuthorizationServer  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749 import OAuth2Error  # type: ignore[import-untyped]
from joserfc.jwk import KeySet
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from app.auth import keys
from app.auth.server.assertion import JwksCache, PrivateKeyJwt
from app.auth.server.endpoints import Introspection, Revocation
from app.auth.server.grants import BackendGrant, CodeGrant, RefreshGrant, require_pkce
from app.auth.server.registry import Client, Registry
from app.auth.server.requests import FormRequest
from app.auth.server.revocation import RevocationList
from app.auth.server.store import AuthStore
from app.auth.server.throttle import SignInThrottle
from app.auth.server.tokens import Site, TokenIssuer
from app.config import Settings
from app.fhir.context import base_url, embedded_issuer
from app.storage.database import Database

T = TypeVar("T")
CODE_SECONDS = 60
LAUNCH_SECONDS = 300
_BRIDGE_TIMEOUT = 60.0


def site_of(request: Request) -> Site:
    """The FHIR base and the issuer ``<origin>/auth`` for this request."""
    fhir_base = base_url(request)
    audience = request.app.state.fhir.settings.auth_audience or fhir_base
    return Site(fhir_base, embedded_issuer(fhir_base), audience.rstrip("/"))


class SmartServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, settings: Settings, db: Database, registry: Registry) -> None:
        super().__init__()
        self.settings = settings
        self.registry = registry
        self.key = keys.signing_key(settings.auth_keys_file)
        self._keyset = keys.public_keyset(settings.auth_keys_file)
        self.store = AuthStore(db)
        self.issuer = TokenIssuer(self.key, self.store, settings.auth_token_seconds)
        self.revocations = RevocationList(self.store)
        self.jwks = JwksCache()
        self.sign_ins = SignInThrottle()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.register_grant(CodeGrant, [require_pkce])
        self.register_grant(RefreshGrant)
        self.register_grant(BackendGrant)
        self.register_client_auth_method(
            "private_key_jwt", PrivateKeyJwt(self.jwks, self._use_jti, _token_url)
        )
        self.register_endpoint(Introspection)
        self.register_endpoint(Revocation)

    # The resource server's questions: no I/O.

    def public_keyset(self) -> KeySet:
        return self._keyset

    def public_jwks(self) -> dict[str, Any]:
        return keys.public_jwks(self.settings.auth_keys_file)

    def is_revoked(self, jti: str) -> bool:
        return self.revocations.is_revoked(jti)

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self.revocations.start()

    async def close(self) -> None:
        await self.revocations.close()

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` on the event loop from authlib's worker thread, and wait for it."""
        if self._loop is None:
            work.close()
            raise RuntimeError("the authorization server was not started")
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(_BRIDGE_TIMEOUT)

    # authlib's framework hooks.

    def query_client(self, client_id: str) -> Client | None:
        return self.registry.clients.get(client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """Tokens are stored as they are issued (``TokenIssuer.issue``)."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signal subscribers."""

    def create_oauth2_request(self, request: FormRequest) -> FormRequest:
        return request

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        content = body if isinstance(body, str) else orjson.dumps(body)
        return Response(content, status_code=status, headers=dict(headers))

    def handle_error_response(self, request: Any, error: OAuth2Error) -> Response:
        if error.error == "invalid_client":
            error.status_code = 401  # RFC 6749 5.2; SMART Backend Services expects 401
        response: Response = super().handle_error_response(request, error)
        return response

    def site(self, request: FormRequest) -> Site:
        return request.site

    def _use_jti(self, issuer: str, jti: str, expires: int) -> bool:
        return self.run(self.store.use_assertion(issuer, jti, expires))

    # Starlette entry points.

    async def _form_request(self, request: Request) -> FormRequest:
        form = await request.form()
        items = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
        site = site_of(request)
        return FormRequest(
            request.method,
            str(request.url),
            items,
            headers=request.headers,
            site=site,
            token_url=site.issuer + "/token",
        )

    async def token_response(self, request: Request) -> Response:
        oauth = await self._form_request(request)
        response: Response = await run_in_threadpool(self.create_token_response, oauth)
        return response

    async def endpoint_response(self, name: str, request: Request) -> Response:
        oauth = await self._form_request(request)
        response: Response = await run_in_threadpool(self.create_endpoint_response, name, oauth)
        return response


def _token_url(request: Any) -> str:
    url: str = request.token_url
    return url
