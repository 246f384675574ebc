"""Polling watermarks kept in the database, so a restart polls on from where it stopped."""

from __future__ import annotations

from app.storage import ingest_log
from app.storage.database import Database


class DatabaseWatermarks:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def get(self, centre: str, res_type: str) -> str | None:
        async with self.db.read() as conn:
            return await ingest_log.get_watermark(conn, centre, res_type)

    async def set(self, centre: str, res_type: str, instant: str) -> None:
        async with self.db.write() as conn:
            await ingest_log.set_watermark(conn, centre, res_type, instant)
