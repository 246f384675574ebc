"""Registered SMART clients and the login page's users, read from ``auth_clients_file``.

The file is JSON ``{"clients": [...], "users": [...]}``; ``mitral-fhir clients add`` and
``users add`` write it. Secrets and passwords are stored as scrypt hashes only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin  # type: ignore[import-untyped]

from app.auth.scopes import Grants

CLIENT_TYPES = ("public", "confidential-symmetric", "confidential-asymmetric")
DEMO_CLIENT_ID = "mitral-demo-app"
DEMO_REDIRECT_URIS = ("http://localhost:8000/callback", "http://127.0.0.1:8000/callback")
DEMO_LAUNCH_URL = "http://localhost:8000/launch"
DEMO_USER = "clinician"
DEMO_FHIR_USER = "Practitioner/demo-clinician"
USER_SCOPES = (
    "launch launch/patient launch/encounter openid fhirUser offline_access online_access "
    "patient/*.cruds user/*.cruds"
)
"""What an interactive client may ask for unless its registration says otherwise."""
SYSTEM_SCOPES = "system/*.rs"
"""What a Backend Services client may ask for unless its registration says otherwise."""

_AUTH_METHODS = {
    "public": ("none",),
    "confidential-symmetric": ("client_secret_basic", "client_secret_post"),
    "confidential-asymmetric": ("private_key_jwt",),
}
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


def hash_secret(secret: str) -> str:
    """``scrypt$<salt>$<hash>``, both base64."""
    salt = os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_secret(secret: str, stored: str | None) -> bool:
    if not stored or stored.count("$") != 2:
        return False
    scheme, salt, digest = stored.split("$")
    if scheme != "scrypt":
        return False
    found = hashlib.scrypt(secret.encode(), salt=base64.b64decode(salt), **_SCRYPT)
    return hmac.compare_digest(found, base64.b64decode(digest))


@dataclass
class Client(ClientMixin):  # type: ignore[misc]
    """One registered app; answers authlib's ClientMixin questions."""

    client_id: str
    type: str
    name: str = ""
    redirect_uris: list[str] = field(default_factory=list)
    launch_url: str | None = None
    scope: str = ""
    secret_hash: str | None = None
    jwks: dict[str, Any] | None = None
    jwks_url: str | None = None

    @property
    def allowed_scope(self) -> str:
        if self.scope:
            return self.scope
        if self.type == "confidential-asymmetric" and not self.redirect_uris:
            return SYSTEM_SCOPES
        return USER_SCOPES

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        """The part of ``scope`` this client may be granted (may be empty)."""
        if not scope:
            return ""
        granted = Grants.parse(self.allowed_scope).narrowed(Grants.parse(scope))
        return granted.text

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return self.type == "confidential-symmetric" and check_secret(
            client_secret, self.secret_hash
        )

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:  # noqa: ARG002
        return method in _AUTH_METHODS.get(self.type, ())

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and bool(self.redirect_uris)

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "client_credentials":
            return self.type == "confidential-asymmetric"
        return grant_type in ("authorization_code", "refresh_token") and bool(self.redirect_uris)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "", [])}


@dataclass
class User:
    """A login-page user: who signs in and the FHIR resource they are (``fhirUser``)."""

    username: str
    password_hash: str
    fhir_user: str
    display_name: str = ""

    def check_password(self, password: str) -> bool:
        return check_secret(password, self.password_hash)

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v}


@dataclass
class Registry:
    clients: dict[str, Client] = field(default_factory=dict)
    users: dict[str, User] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Registry:
        """The registry in ``path``; a missing file is an empty registry."""
        if not path.exists():
            return cls()
        try:
            data = json.loads(path.read_text())
            clients = [_client(c) for c in data.get("clients", [])]
            users = [User(**u) for u in data.get("users", [])]
        except (ValueError, TypeError, AttributeError) as exc:
            raise RegistryError(f"{path} is not a valid client registry: {exc}") from None
        return cls({c.client_id: c for c in clients}, {u.username: u for u in users})

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        data = {
            "clients": [c.to_json() for c in self.clients.values()],
            "users": [u.to_json() for u in self.users.values()],
        }
        tmp = path.with_suffix(path.suffix + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(json.dumps(data, indent=2) + "\n")
        tmp.replace(path)

    def add_demo(self, fhir_user: str) -> None:
        """The demo's public app and clinician, in memory only (never written to the file)."""
        self.clients.setdefault(
            DEMO_CLIENT_ID,
            Client(
                client_id=DEMO_CLIENT_ID,
                type="public",
                name="mitral-fhir demo app",
                redirect_uris=list(DEMO_REDIRECT_URIS),
                launch_url=DEMO_LAUNCH_URL,
            ),
        )
        self.users.setdefault(
            DEMO_USER,
            User(DEMO_USER, hash_secret(DEMO_USER), fhir_user, "Demo clinician"),
        )


class RegistryError(ValueError):
    """The clients file cannot be read; the message names the file and the problem."""


def _client(data: dict[str, Any]) -> Client:
    client = Client(**data)
    if client.type not in CLIENT_TYPES:
        raise ValueError(f"client {client.client_id}: type must be one of {CLIENT_TYPES}")
    return client


def new_secret() -> str:
    return secrets.token_urlsafe(32)
