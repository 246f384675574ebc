"""``mitral-fhir clients add|list`` and ``users add`` as an operator runs them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from app.auth.server.registry import Registry
from app.cli import cli


def test_add_symmetric_client_prints_secret_once_and_stores_its_hash(tmp_path: Path) -> None:
    registry = tmp_path / "clients.json"
    result = CliRunner().invoke(
        cli,
        [
            "clients", "add", "--id", "vendor-app", "--type", "symmetric",
            "--redirect-uri", "https://vendor.example/cb", "--file", str(registry),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    secret = next(
        line.split()[1] for line in result.output.splitlines() if line.startswith("client_secret")
    )
    assert "token endpoint:       http://127.0.0.1:8080/auth/token" in result.output
    assert "http://127.0.0.1:8080/fhir/.well-known/smart-configuration" in result.output
    assert secret not in registry.read_text()
    client = Registry.load(registry).clients["vendor-app"]
    assert client.type == "confidential-symmetric" and client.check_client_secret(secret)
    assert registry.stat().st_mode & 0o777 == 0o600


def test_add_asymmetric_client_with_jwks_file_and_list(tmp_path: Path) -> None:
    registry = tmp_path / "clients.json"
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": [{"kty": "EC", "kid": "k1", "crv": "P-384"}]}))
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "clients", "add", "--id", "bulk", "--type", "asymmetric", "--jwks-file", str(jwks),
            "--scope", "system/Patient.rs", "--file", str(registry),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "client_secret" not in result.output
    assert "allowed scopes:       system/Patient.rs" in result.output
    assert Registry.load(registry).clients["bulk"].jwks == json.loads(jwks.read_text())
    listed = runner.invoke(cli, ["clients", "list", "--file", str(registry)])
    assert listed.exit_code == 0 and "bulk" in listed.output and "inline JWKS" in listed.output


def test_asymmetric_client_needs_keys(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["clients", "add", "--id", "x", "--type", "asymmetric", "--file", str(tmp_path / "c")]
    )
    assert result.exit_code != 0 and not (tmp_path / "c").exists()


def test_users_add_hashes_the_password(tmp_path: Path) -> None:
    registry = tmp_path / "clients.json"
    result = CliRunner().invoke(
        cli,
        [
            "users", "add", "--username", "dr-who", "--fhir-user", "Practitioner/42",
            "--password", "tardis", "--file", str(registry),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    user = Registry.load(registry).users["dr-who"]
    assert user.fhir_user == "Practitioner/42" and user.check_password("tardis")
    assert "tardis" not in registry.read_text()
