"""The embedded authorization server's signing key: one RSA key kept in a JSON file.

Created on first use (mode 0600) so a development server signs with the same key across
restarts and workers; production trusts an external issuer's JWKS instead.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from joserfc.jwk import KeySet, RSAKey

SIGNING_ALG = "RS256"
_lock = threading.Lock()
_loaded: dict[Path, RSAKey] = {}


def _create(path: Path) -> RSAKey:
    key = RSAKey.generate_key(2048, private=True, auto_kid=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"keys": [key.as_dict(private=True)]}, indent=2)
    # O_EXCL: when two workers start together, one writes and the other reads its key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read(path)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    return key


def _read(path: Path) -> RSAKey:
    data = json.loads(path.read_text())
    found = data["keys"][0] if isinstance(data, dict) and "keys" in data else data
    key = RSAKey.import_key(found)
    if not key.is_private or not key.kid:
        raise ValueError(f"{path} must hold a private RSA JWK with a 'kid'")
    return key


def signing_key(path: Path) -> RSAKey:
    """The private key in ``path`` (created when missing)."""
    resolved = path.resolve()
    with _lock:
        key = _loaded.get(resolved)
        if key is None:
            key = _read(resolved) if resolved.exists() else _create(resolved)
            _loaded[resolved] = key
        return key


def public_jwk(key: RSAKey) -> dict[str, Any]:
    return {**key.as_dict(private=False), "alg": SIGNING_ALG, "use": "sig"}


def public_jwks(path: Path) -> dict[str, Any]:
    """The JWKS published at /auth/jwks: bare public keys only."""
    return {"keys": [public_jwk(signing_key(path))]}


def public_keyset(path: Path) -> KeySet:
    """The public keys as a joserfc KeySet, for the resource server's token checks."""
    return KeySet.import_key_set(public_jwks(path))  # type: ignore[arg-type]
