"""``private_key_jwt`` client authentication (SMART Backend Services, RFC 7523) with the
checks authlib leaves to us: RS384/ES384 only, the registered key chosen by ``kid`` (and the
``jku`` allow-list), assertion lifetime at most five minutes, and ``jti`` replay refused."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
from authlib.oauth2.rfc6749 import InvalidClientError, OAuth2Request  # type: ignore[import-untyped]
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from app.auth.server.registry import Client

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = {"RS384": ("RSA", None), "ES384": ("EC", "P-384")}
MAX_LIFETIME = 300
LEEWAY = 30
DEFAULT_CACHE_SECONDS = 300
_MAX_AGE = re.compile(r"max-age=(\d+)")


class JwksCache:
    """Registered JWKS URLs, fetched on demand and kept as long as Cache-Control allows."""

    def __init__(self, timeout: float = 10.0) -> None:
        self._timeout = timeout
        self._cache: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def keys(self, url: str, *, fresh: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            cached = self._cache.get(url)
        if cached is not None and not fresh and cached[0] > time.monotonic():
            return cached[1]
        try:
            response = httpx.get(url, timeout=self._timeout, follow_redirects=False)
            response.raise_for_status()
            keys = response.json().get("keys", [])
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            raise InvalidClientError(
                description=f"Could not fetch the client's JWKS: {exc}"
            ) from exc
        if not isinstance(keys, list):
            raise InvalidClientError(description="The client's JWKS has no 'keys' list")
        seconds = _cache_seconds(response.headers.get("cache-control", ""))
        with self._lock:
            if seconds > 0:
                self._cache[url] = (time.monotonic() + seconds, keys)
            else:
                self._cache.pop(url, None)
        return keys


def _cache_seconds(cache_control: str) -> int:
    text = cache_control.lower()
    if "no-store" in text or "no-cache" in text:
        return 0
    match = _MAX_AGE.search(text)
    return int(match.group(1)) if match else DEFAULT_CACHE_SECONDS


def _matching(keys: list[dict[str, Any]], kid: str, alg: str) -> list[dict[str, Any]]:
    kty, crv = ALGORITHMS[alg]
    return [
        k
        for k in keys
        if isinstance(k, dict)
        and k.get("kid") == kid
        and k.get("kty") == kty
        and (crv is None or k.get("crv") == crv)
        and k.get("alg") in (None, alg)
    ]


class PrivateKeyJwt(JWTBearerClientAssertion):  # type: ignore[misc]
    """Registered with the server as the ``private_key_jwt`` client auth method."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(
        self,
        jwks: JwksCache,
        use_jti: Callable[[str, str, int], bool],
        token_url: Callable[[OAuth2Request], str],
    ) -> None:
        super().__init__(validate_jti=True, leeway=LEEWAY)
        self._jwks = jwks
        self._use_jti = use_jti
        self._token_url = token_url

    def __call__(self, query_client: Callable[[str], Any], request: OAuth2Request) -> Any:
        assertion_type = request.form.get("client_assertion_type")
        assertion = request.form.get("client_assertion")
        if not assertion_type and not assertion:
            return None  # some other method's request
        if assertion_type != ASSERTION_TYPE or not assertion:
            raise InvalidClientError(description=f"client_assertion_type must be {ASSERTION_TYPE}")
        headers, claims = self.extract_assertion(assertion)
        alg, kid = headers.get("alg"), headers.get("kid")
        if alg not in ALGORITHMS:
            raise InvalidClientError(description="The assertion must be signed RS384 or ES384")
        if not isinstance(kid, str) or not kid:
            raise InvalidClientError(description="The assertion header needs a 'kid'")
        client_id = claims.get("iss")
        if not isinstance(client_id, str) or client_id != claims.get("sub"):
            raise InvalidClientError(description="'iss' and 'sub' must both be the client_id")
        client: Client | None = query_client(client_id)
        if client is None or client.type != "confidential-asymmetric":
            raise InvalidClientError(description="The client is not registered for private_key_jwt")
        key = self._key(client, headers, kid, alg)
        request.client = client
        try:
            token = jwt.decode(assertion, key, algorithms=list(ALGORITHMS))
        except (JoseError, ValueError) as exc:
            raise InvalidClientError(description=f"Invalid client assertion: {exc}") from exc
        self._check_claims(dict(token.claims), self._token_url(request))
        return self.authenticate_client(client)

    def _key(self, client: Client, headers: dict[str, Any], kid: str, alg: str) -> Any:
        jku = headers.get("jku")
        if jku is not None and jku != client.jwks_url:
            raise InvalidClientError(description="'jku' is not the client's registered JWKS URL")
        if client.jwks is not None:
            found = _matching(client.jwks.get("keys", []), kid, alg)
        elif client.jwks_url:
            found = _matching(self._jwks.keys(client.jwks_url), kid, alg)
            if not found:  # the client may have rotated its keys
                found = _matching(self._jwks.keys(client.jwks_url, fresh=True), kid, alg)
        else:
            found = []
        if len(found) != 1:
            raise InvalidClientError(description=f"No single registered {alg} key with kid {kid}")
        data = {k: v for k, v in found[0].items() if k not in ("d", "p", "q", "dp", "dq", "qi")}
        return RSAKey.import_key(data) if alg == "RS384" else ECKey.import_key(data)

    def _check_claims(self, claims: dict[str, Any], token_url: str) -> None:
        registry = jwt.JWTClaimsRegistry(
            leeway=LEEWAY,
            iss={"essential": True},
            sub={"essential": True},
            aud={"essential": True, "value": token_url},
            exp={"essential": True},
            jti={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise InvalidClientError(description=f"Invalid client assertion: {exc}") from exc
        exp = claims["exp"]
        if not isinstance(exp, int) or exp - int(time.time()) > MAX_LIFETIME + LEEWAY:
            raise InvalidClientError(description="The assertion may live at most five minutes")
        jti = claims["jti"]
        if not isinstance(jti, str) or not self._use_jti(claims["iss"], jti, exp):
            raise InvalidClientError(description="This assertion's jti was already used")
