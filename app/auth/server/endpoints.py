"""Token introspection (RFC 7662, with SMART's fields) and revocation (RFC 7009).

Introspection callers authenticate with a bearer access token of ours that is still active
(any client's: resource servers and apps alike), or as a confidential client
(``client_secret_basic`` or ``private_key_jwt``). Revoking any token of a grant revokes the
whole grant: its access tokens and its refresh token.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidClientError  # type: ignore[import-untyped]
from authlib.oauth2.rfc7009 import RevocationEndpoint  # type: ignore[import-untyped]
from authlib.oauth2.rfc7662 import IntrospectionEndpoint  # type: ignore[import-untyped]

from app.auth.server.store import now

if TYPE_CHECKING:
    from app.auth.server.core import SmartServer
    from app.auth.server.requests import FormRequest

INTROSPECTION_FIELDS = (
    "scope",
    "client_id",
    "exp",
    "iat",
    "sub",
    "iss",
    "patient",
    "encounter",
    "fhirUser",
)


class _AccessToken:
    def __init__(self, server: SmartServer, claims: dict[str, Any]) -> None:
        self.server = server
        self.claims = claims

    def is_expired(self) -> bool:
        return bool(self.claims["exp"] < now())

    def is_revoked(self) -> bool:
        return self.server.is_revoked(str(self.claims.get("jti")))

    def check_client(self, client: Any) -> bool:
        return bool(self.claims.get("client_id") == client.client_id)


class _Grant:
    """A token to revoke, by the grant it belongs to."""

    def __init__(self, grant_id: str, client_id: str) -> None:
        self.grant_id = grant_id
        self.client_id = client_id

    def check_client(self, client: Any) -> bool:
        return bool(self.client_id == client.client_id)


class Introspection(IntrospectionEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["client_secret_basic", "private_key_jwt"]
    server: SmartServer

    def authenticate_endpoint_client(self, request: FormRequest) -> Any:
        auth = request.headers.get("authorization", "")
        if auth[:7].lower() != "bearer ":
            return super().authenticate_endpoint_client(request)
        claims = self.server.issuer.decode(auth[7:].strip(), request.site)
        if claims is None or self.server.is_revoked(str(claims.get("jti"))):
            raise InvalidClientError(status_code=401, description="The bearer token is not active")
        client = self.server.query_client(str(claims.get("client_id")))
        request.client = client
        return client

    def query_token(self, token_string: str, token_type_hint: str | None) -> Any:
        if token_type_hint == "refresh_token":
            return None  # refresh tokens are not introspected: reported inactive
        claims = self.server.issuer.decode(token_string, None)
        return None if claims is None else _AccessToken(self.server, claims)

    def check_permission(self, token: Any, client: Any, request: Any) -> bool:  # noqa: ARG002
        return True

    def introspect_token(self, token: _AccessToken) -> dict[str, Any]:
        found = {k: token.claims[k] for k in INTROSPECTION_FIELDS if k in token.claims}
        return {"active": True, **found, "token_type": "Bearer"}


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = ["private_key_jwt", "client_secret_basic", "client_secret_post", "none"]
    server: SmartServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> _Grant | None:
        server = self.server
        if token_type_hint != "refresh_token":
            claims = server.issuer.decode(token_string, None)
            if claims is not None:
                found = server.run(server.store.token_grant(str(claims.get("jti"))))
                return None if found is None else _Grant(*found)
        record = server.run(server.store.refresh(token_string))
        return None if record is None else _Grant(record.grant_id, record.client_id)

    def revoke_token(self, token: _Grant, request: Any) -> None:  # noqa: ARG002
        revoked = self.server.run(self.server.store.revoke_grant(token.grant_id))
        self.server.revocations.add(revoked)
