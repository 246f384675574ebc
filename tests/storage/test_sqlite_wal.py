"""The SQLite write-ahead log stays bounded under a steady stream of writes: checkpoints
finish between write transactions, so the next writer starts the log again (racing the
writers instead, a checkpoint never caught up and the log grew without end)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from app.storage.database import SqliteDatabase

ROW = "x" * 2000


async def test_the_wal_is_started_again_during_a_long_stream_of_writes(tmp_path: Path) -> None:
    path = tmp_path / "wal.sqlite3"
    db = SqliteDatabase(str(path), checkpoint_seconds=0.02, read_threads=1)
    await db.open()
    written = 0
    try:
        async with db.write() as conn:
            await conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        for batch in range(300):  # about 30 MB of new rows, never a pause between writers
            async with db.write() as conn:
                await conn.executemany(
                    "INSERT INTO t (body) VALUES ($1)", [(f"{batch}{ROW}",)] * 50
                )
            written += 50 * len(ROW)
            await asyncio.sleep(0.001)
        wal = os.path.getsize(f"{path}-wal")
    finally:
        await db.close()
    assert written > 25_000_000
    assert wal < written / 3, (wal, written)
