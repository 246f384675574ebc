"""``mitral-fhir clients add|list`` and ``users add``: the embedded authorization server's
registrations, kept in ``auth_clients_file`` (see docs/security.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from app.auth.discovery import SMART_CONFIGURATION_PATH
from app.auth.server.registry import Client, Registry, User, hash_secret, new_secret
from app.config import Settings, get_settings
from app.fhir.context import FHIR_PREFIX, embedded_issuer

clients_cli = typer.Typer(help="Apps registered with the embedded authorization server")
users_cli = typer.Typer(help="Users of the embedded authorization server's sign-in page")
out = Console()
_TYPES = {
    "public": "public",
    "symmetric": "confidential-symmetric",
    "asymmetric": "confidential-asymmetric",
}


def _settings(clients_file: Path | None) -> Settings:
    settings = get_settings()
    return (
        settings.model_copy(update={"auth_clients_file": clients_file})
        if clients_file
        else settings
    )


def _fhir_base(settings: Settings) -> str:
    if settings.base_url:
        return settings.base_url.rstrip("/")
    return f"http://{settings.host}:{settings.port}{FHIR_PREFIX}"


FileOption = Annotated[
    Path | None,
    typer.Option("--file", help="The registry (default: MITRAL_FHIR_AUTH_CLIENTS_FILE)"),
]


@clients_cli.command("add")
def add_client(
    *,
    client_id: Annotated[str, typer.Option("--id", help="The client_id")],
    client_type: Annotated[
        str, typer.Option("--type", help="public, symmetric (a secret) or asymmetric (keys)")
    ],
    redirect_uri: Annotated[
        list[str] | None, typer.Option("--redirect-uri", help="Exact redirect URI (repeatable)")
    ] = None,
    launch_url: Annotated[str | None, typer.Option(help="The app's EHR launch URL")] = None,
    jwks_url: Annotated[str | None, typer.Option(help="The client's JWKS URL (asymmetric)")] = None,
    jwks_file: Annotated[
        Path | None, typer.Option(help="A JSON file holding the client's public JWKS (asymmetric)")
    ] = None,
    scope: Annotated[
        str | None, typer.Option(help="Scopes the client may be granted (space separated)")
    ] = None,
    name: Annotated[str, typer.Option(help="Shown on the sign-in page")] = "",
    clients_file: FileOption = None,
) -> None:
    """Register (or replace) a client and print what its vendor needs."""
    kind = _TYPES.get(client_type)
    if kind is None:
        raise typer.BadParameter(f"--type must be one of {', '.join(_TYPES)}")
    if kind == "confidential-asymmetric" and not (jwks_url or jwks_file):
        raise typer.BadParameter("an asymmetric client needs --jwks-url or --jwks-file")
    if kind != "confidential-asymmetric" and (jwks_url or jwks_file):
        raise typer.BadParameter("--jwks-url and --jwks-file are for asymmetric clients")
    if jwks_url and jwks_file:
        raise typer.BadParameter("give --jwks-url or --jwks-file, not both")
    if kind != "confidential-asymmetric" and not redirect_uri:
        raise typer.BadParameter("an interactive client needs at least one --redirect-uri")
    jwks = json.loads(jwks_file.read_text()) if jwks_file else None
    if jwks is not None and not isinstance(jwks.get("keys"), list):
        raise typer.BadParameter('--jwks-file must hold a JWKS: {"keys": [...]}')
    secret = new_secret() if kind == "confidential-symmetric" else None
    client = Client(
        client_id=client_id,
        type=kind,
        name=name,
        redirect_uris=list(redirect_uri or []),
        launch_url=launch_url,
        scope=" ".join((scope or "").split()),
        secret_hash=hash_secret(secret) if secret else None,
        jwks=jwks,
        jwks_url=jwks_url,
    )
    settings = _settings(clients_file)
    registry = Registry.load(settings.auth_clients_file)
    registry.clients[client_id] = client
    registry.save(settings.auth_clients_file)
    base = _fhir_base(settings)
    issuer = settings.auth_issuer or embedded_issuer(base)
    out.print(f"client_id:            {client_id}")
    if secret:
        out.print(f"client_secret:        {secret}   (shown once: only its hash is kept)")
    out.print(f"client type:          {kind}")
    out.print(f"issuer:               {issuer}")
    out.print(f"FHIR base URL:        {base}")
    out.print(f"smart-configuration:  {base.removesuffix(FHIR_PREFIX)}{SMART_CONFIGURATION_PATH}")
    out.print(f"authorize endpoint:   {issuer}/authorize")
    out.print(f"token endpoint:       {issuer}/token")
    out.print(f"allowed scopes:       {client.allowed_scope}")
    out.print(f"written to:           {settings.auth_clients_file}")


@clients_cli.command("list")
def list_clients(clients_file: FileOption = None) -> None:
    """The registered clients."""
    settings = _settings(clients_file)
    registry = Registry.load(settings.auth_clients_file)
    table = Table("client_id", "type", "redirect URIs", "keys", "scopes")
    for client in registry.clients.values():
        keys = client.jwks_url or ("inline JWKS" if client.jwks else "")
        table.add_row(
            client.client_id,
            client.type,
            " ".join(client.redirect_uris),
            keys,
            client.allowed_scope,
        )
    out.print(table)


@users_cli.command("add")
def add_user(
    username: Annotated[str, typer.Option(help="The sign-in name")],
    fhir_user: Annotated[
        str, typer.Option(help="The user's FHIR resource, e.g. Practitioner/123 (fhirUser)")
    ],
    password: Annotated[
        str | None, typer.Option(help="Prompted for when not given", show_default=False)
    ] = None,
    display_name: Annotated[str, typer.Option(help="The user's name")] = "",
    clients_file: FileOption = None,
) -> None:
    """Add (or replace) a sign-in page user."""
    if fhir_user.split("/")[0] not in (
        "Patient",
        "Practitioner",
        "PractitionerRole",
        "RelatedPerson",
        "Person",
    ):
        raise typer.BadParameter(
            "--fhir-user must be a Patient, Practitioner, PractitionerRole, "
            "RelatedPerson or Person reference"
        )
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = _settings(clients_file)
    registry = Registry.load(settings.auth_clients_file)
    registry.users[username] = User(username, hash_secret(password), fhir_user, display_name)
    registry.save(settings.auth_clients_file)
    out.print(f"user {username} ({fhir_user}) written to {settings.auth_clients_file}")


def register(cli: typer.Typer) -> None:
    cli.add_typer(clients_cli, name="clients")
    cli.add_typer(users_cli, name="users")
