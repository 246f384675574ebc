"""The embedded authorization server's state in the database, shared by every worker:
codes, launch handles, issued tokens, refresh tokens and used assertion ``jti``s.

Codes and refresh tokens are stored as SHA-256 hashes: a database dump does not hand out
usable credentials. Times are seconds since the epoch. Expired rows are purged by ``purge``,
which the revocation refresher calls now and then.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass

import orjson

from app.storage.database import Database

_PURGE_TABLES = ("auth_code", "auth_launch", "auth_token", "auth_refresh", "auth_assertion")


@dataclass(frozen=True, slots=True)
class GrantRecord:
    """What a code or refresh token stands for: who, which client, what scope, which context."""

    client_id: str
    scope: str
    subject: str
    grant_id: str
    fhir_user: str | None = None
    patient: str | None = None
    encounter: str | None = None
    need_patient_banner: bool = False
    redirect_uri: str | None = None
    code_challenge: str | None = None
    nonce: str | None = None

    def to_bytes(self) -> bytes:
        return orjson.dumps(asdict(self))

    def get_redirect_uri(self) -> str | None:
        """authlib's AuthorizationCodeMixin: the token request must repeat this URI."""
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    @classmethod
    def from_bytes(cls, data: bytes) -> GrantRecord:
        return cls(**orjson.loads(data))


@dataclass(frozen=True, slots=True)
class Launch:
    client_id: str
    patient: str | None
    encounter: str | None


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def now() -> int:
    return int(time.time())


class AuthStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def save_code(self, code: str, record: GrantRecord, lifetime: int) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                "INSERT INTO auth_code (code_hash, client_id, content, expires_at) "
                "VALUES ($1, $2, $3, $4)",
                digest(code),
                record.client_id,
                record.to_bytes(),
                now() + lifetime,
            )

    async def take_code(self, code: str, client_id: str) -> GrantRecord | None:
        """The code's grant, deleting it in the same statement: a code works once, even when
        two requests race (a failed exchange spends it too)."""
        async with self.db.write() as conn:
            rows = await conn.fetch(
                "DELETE FROM auth_code WHERE code_hash = $1 RETURNING client_id, content, "
                "expires_at",
                digest(code),
            )
        if not rows or rows[0][0] != client_id or rows[0][2] < now():
            return None
        return GrantRecord.from_bytes(bytes(rows[0][1]))

    async def save_launch(self, handle: str, launch: Launch, lifetime: int) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                "INSERT INTO auth_launch (handle, client_id, patient, encounter, expires_at) "
                "VALUES ($1, $2, $3, $4, $5)",
                handle,
                launch.client_id,
                launch.patient,
                launch.encounter,
                now() + lifetime,
            )

    async def launch(self, handle: str) -> Launch | None:
        async with self.db.read() as conn:
            row = await conn.fetchrow(
                "SELECT client_id, patient, encounter FROM auth_launch "
                "WHERE handle = $1 AND expires_at >= $2",
                handle,
                now(),
            )
        return None if row is None else Launch(row[0], row[1], row[2])

    async def record_token(self, jti: str, grant_id: str, client_id: str, expires: int) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                "INSERT INTO auth_token (jti, grant_id, client_id, expires_at) "
                "VALUES ($1, $2, $3, $4)",
                jti,
                grant_id,
                client_id,
                expires,
            )

    async def token_grant(self, jti: str) -> tuple[str, str] | None:
        """(grant id, client id) of an issued access token."""
        async with self.db.read() as conn:
            row = await conn.fetchrow(
                "SELECT grant_id, client_id FROM auth_token WHERE jti = $1", jti
            )
        return None if row is None else (row[0], row[1])

    async def save_refresh(self, token: str, record: GrantRecord, lifetime: int) -> None:
        async with self.db.write() as conn:
            await conn.execute(
                "INSERT INTO auth_refresh (token_hash, grant_id, client_id, content, "
                "expires_at) VALUES ($1, $2, $3, $4, $5)",
                digest(token),
                record.grant_id,
                record.client_id,
                record.to_bytes(),
                now() + lifetime,
            )

    async def refresh(self, token: str) -> GrantRecord | None:
        """The grant of a live refresh token (None when unknown, expired or revoked)."""
        async with self.db.read() as conn:
            row = await conn.fetchrow(
                "SELECT content FROM auth_refresh WHERE token_hash = $1 AND expires_at >= $2 "
                "AND revoked_at IS NULL",
                digest(token),
                now(),
            )
        return None if row is None else GrantRecord.from_bytes(bytes(row[0]))

    async def revoke_grant(self, grant_id: str) -> list[tuple[str, int]]:
        """Revoke every access and refresh token of a grant; returns the access tokens'
        (jti, expiry) for the in-memory list."""
        at = now()
        async with self.db.write() as conn:
            await conn.execute(
                "UPDATE auth_refresh SET revoked_at = $1 WHERE grant_id = $2", at, grant_id
            )
            await conn.execute(
                "UPDATE auth_token SET revoked_at = $1 WHERE grant_id = $2", at, grant_id
            )
            rows = await conn.fetch(
                "SELECT jti, expires_at FROM auth_token WHERE grant_id = $1", grant_id
            )
        return [(r[0], r[1]) for r in rows]

    async def revoked_since(self, since: int) -> list[tuple[str, int]]:
        async with self.db.read() as conn:
            rows = await conn.fetch(
                "SELECT jti, expires_at FROM auth_token WHERE revoked_at >= $1 "
                "AND expires_at >= $2",
                since,
                now(),
            )
        return [(r[0], r[1]) for r in rows]

    async def use_assertion(self, issuer: str, jti: str, expires: int) -> bool:
        """Record a client assertion's jti; False when it was seen before (a replay)."""
        async with self.db.write() as conn:
            seen = await conn.fetchrow(
                "SELECT expires_at FROM auth_assertion WHERE issuer = $1 AND jti = $2",
                issuer,
                jti,
            )
            if seen is not None and seen[0] >= now():
                return False
            if seen is not None:
                await conn.execute(
                    "DELETE FROM auth_assertion WHERE issuer = $1 AND jti = $2", issuer, jti
                )
            inserted = await conn.execute(
                "INSERT INTO auth_assertion (issuer, jti, expires_at) VALUES ($1, $2, $3) "
                "ON CONFLICT DO NOTHING",
                issuer,
                jti,
                expires,
            )
        return bool(inserted == 1)

    async def purge(self) -> None:
        at = now()
        async with self.db.write() as conn:
            for table in _PURGE_TABLES:
                await conn.execute(f"DELETE FROM {table} WHERE expires_at < $1", at)
