"""authlib's grants with SMART's rules: PKCE S256 required of every client, launch context
carried into the token response, refresh scope only narrowing, and Backend Services scope
limited to the client's registration.

The grants run on a worker thread (authlib is synchronous); their database work goes back to
the event loop through ``SmartServer.run``.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidScopeError, grants  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]

from app.auth.scopes import Grants
from app.auth.server.store import GrantRecord

if TYPE_CHECKING:
    from app.auth.server.core import SmartServer

USER_AUTH_METHODS = ["private_key_jwt", "client_secret_basic", "client_secret_post", "none"]


def _server(grant: grants.BaseGrant) -> SmartServer:
    server: SmartServer = grant.server
    return server


class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = USER_AUTH_METHODS

    def query_authorization_code(self, code: str, client: Any) -> GrantRecord | None:
        server = _server(self)
        return server.run(server.store.take_code(code, client.client_id))

    def delete_authorization_code(self, authorization_code: GrantRecord) -> None:
        """Nothing to do: ``take_code`` deleted it when it was read."""

    def authenticate_user(self, authorization_code: GrantRecord) -> GrantRecord:
        return authorization_code

    def save_authorization_code(self, code: str, request: Any) -> None:
        """Never called: authlib calls it from its own authorization endpoint, which we do not
        use; codes are issued by the login pages (``app.auth.server.flow.issue_code``)."""
        raise NotImplementedError("codes are issued by app.auth.server.flow.issue_code")

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        record: GrantRecord = self.request.authorization_code
        server = _server(self)
        body = server.run(server.issuer.issue(server.site(self.request), record))
        return 200, body, self.TOKEN_RESPONSE_HEADER


def check_code_verifier(grant: CodeGrant, _result: Any = None) -> None:
    """PKCE for every client (SMART: public and confidential alike), S256 only."""
    record: GrantRecord = grant.request.authorization_code
    verifier = grant.request.form.get("code_verifier") or ""
    if not verifier.strip():
        raise InvalidGrantError(description="code_verifier is required")
    if not record.code_challenge or create_s256_code_challenge(verifier) != record.code_challenge:
        raise InvalidGrantError(description="code_verifier does not match the code_challenge")


def require_pkce(grant: CodeGrant) -> None:
    """The grant extension that installs ``check_code_verifier``."""
    grant.register_hook("after_validate_token_request", check_code_verifier)


class RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = USER_AUTH_METHODS

    def authenticate_refresh_token(self, refresh_token: str) -> Any:
        server = _server(self)
        record = server.run(server.store.refresh(refresh_token))
        return None if record is None else _RefreshToken(record)

    def _validate_token_scope(self, token: _RefreshToken) -> None:
        scope = self.request.payload.scope
        if not scope:
            return
        held = Grants.parse(token.record.scope)
        requested = Grants.parse(scope)
        if held.narrowed(requested) != requested:
            raise InvalidScopeError(description="A refresh may only narrow the scope")

    def authenticate_user(self, refresh_token: _RefreshToken) -> GrantRecord:
        return refresh_token.record

    def issue_token(self, user: GrantRecord, refresh_token: _RefreshToken) -> dict[str, Any]:  # noqa: ARG002
        scope = self.request.payload.scope
        record = user
        if scope:
            narrowed = Grants.parse(user.scope).narrowed(Grants.parse(scope)).text
            record = _replace_scope(user, narrowed)
        server = _server(self)
        token: dict[str, Any] = server.run(
            server.issuer.issue(server.site(self.request), record, refresh=False)
        )
        return token

    def save_token(self, token: dict[str, Any]) -> None:
        """Saved by ``TokenIssuer.issue``."""

    def revoke_old_credential(self, refresh_token: _RefreshToken) -> None:
        """The refresh token stays valid: we issue no new one in its place."""


class _RefreshToken:
    def __init__(self, record: GrantRecord) -> None:
        self.record = record

    def check_client(self, client: Any) -> bool:
        return bool(self.record.client_id == client.client_id)


def _replace_scope(record: GrantRecord, scope: str) -> GrantRecord:
    data = {f: getattr(record, f) for f in record.__dataclass_fields__}
    data["scope"] = scope
    return GrantRecord(**data)


class BackendGrant(grants.ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["private_key_jwt"]

    def validate_token_request(self) -> None:
        super().validate_token_request()
        scope = self.request.payload.scope
        if not scope:
            raise InvalidScopeError(description="scope is required")
        requested = Grants.parse(scope)
        allowed = Grants.parse(self.request.client.allowed_scope)
        if not requested.rules or allowed.narrowed(requested) != requested:
            raise InvalidScopeError(description="scope is beyond the client's registration")

    def create_token_response(self) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        client = self.request.client
        record = GrantRecord(
            client_id=client.client_id,
            scope=Grants.parse(self.request.payload.scope).text,
            subject=client.client_id,
            grant_id=secrets.token_urlsafe(16),
        )
        server = _server(self)
        body = server.run(server.issuer.issue(server.site(self.request), record, backend=True))
        return 200, body, self.TOKEN_RESPONSE_HEADER
