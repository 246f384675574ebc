"""The resource server's fast path for an Authorization header it accepted before: only what
can change since (expiry, revocation) is checked again, and for the same issuer only."""

from __future__ import annotations

import time
import uuid

from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey

from app.auth.tokens import LEEWAY, TokenVerifier

ISSUER = "https://issuer.example"
BASE = "https://mitral.example.nhs.uk/fhir"
EXPECTED = f"{ISSUER} {BASE}"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"}, private=True)
KEYS = KeySet([RSAKey.import_key(KEY.as_dict(private=False))])


def _header(exp: int) -> tuple[bytes, str]:
    jti = uuid.uuid4().hex
    claims = {
        "iss": ISSUER,
        "aud": BASE,
        "sub": "svc",
        "client_id": "svc",
        "exp": exp,
        "jti": jti,
        "scope": "system/Patient.rs",
    }
    token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, KEY)
    return f"Bearer {token}".encode(), jti


async def test_an_accepted_header_is_admitted_until_it_expires_or_is_revoked() -> None:
    now = [time.time()]
    revoked: set[str] = set()
    verifier = TokenVerifier(
        keys=lambda: KEYS, is_revoked=revoked.__contains__, clock=lambda: now[0]
    )
    header, jti = _header(int(now[0]) + 300)
    assert verifier.admitted(header, EXPECTED) is None  # never seen: the full path
    principal = await verifier.verify(header.decode()[7:], issuer=ISSUER, audience=BASE)
    verifier.remember(header, EXPECTED, principal)

    assert verifier.admitted(header, EXPECTED) is principal
    assert verifier.admitted(header, f"https://other.example {BASE}") is None
    now[0] += 300 + LEEWAY + 1
    assert verifier.admitted(header, EXPECTED) is None  # expired
    now[0] -= 300 + LEEWAY + 1
    revoked.add(jti)
    assert verifier.admitted(header, EXPECTED) is None  # revoked
    revoked.clear()
    verifier.forget()
    assert verifier.admitted(header, EXPECTED) is None  # key rotation, tests
