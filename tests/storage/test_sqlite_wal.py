"""The SQLite write-ahead log stays bounded under a steady stream of writes: checkpoints
finish between write transactions, so the next writer starts the log again (racing the
writers instead, a checkpoint never caught up and the log grew without end)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.storage import database
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


async def test_checkpoints_flush_the_database_file_without_holding_writers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a checkpoint pass that copies the whole WAL syncs the database file itself, and
    the last pass runs under the write lock: the flushing happens before it, unlocked."""
    path = tmp_path / "sync.sqlite3"
    db = SqliteDatabase(str(path), checkpoint_seconds=0.02, read_threads=1)
    synced: list[bool] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append(db._write_lock.locked())
        real_fsync(fd)

    monkeypatch.setattr(f"{database.__name__}.os.fsync", fsync)
    await db.open()
    try:
        async with db.write() as conn:
            await conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        for batch in range(100):
            async with db.write() as conn:
                await conn.executemany(
                    "INSERT INTO t (body) VALUES ($1)", [(f"{batch}{ROW}",)] * 50
                )
            await asyncio.sleep(0.002)
    finally:
        await db.close()
    assert synced, "no checkpoint synced the database file ahead of its locked pass"
    assert not any(synced), "the database file was synced with writers held"


async def test_a_closed_database_leaves_the_locks_of_other_connections_alone(
    tmp_path: Path,
) -> None:
    """Closing any descriptor of a file drops every POSIX lock the process holds on it: had
    the checkpointer synced the file through a descriptor of its own, closing it would drop
    the shared lock another connection of this process holds while it reads, and another
    process could then take the database from under that reader (here: out of WAL mode,
    deleting the WAL)."""
    path = tmp_path / "locks.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("CREATE TABLE t (x)")
    holder.execute("INSERT INTO t VALUES (1)")
    db = SqliteDatabase(str(path), checkpoint_seconds=0.01, read_threads=1)
    await db.open()
    async with db.write() as conn:
        await conn.execute("INSERT INTO t VALUES (2)")
    holder.execute("BEGIN")
    assert holder.execute("SELECT count(*) FROM t").fetchone() == (2,)  # a read open
    await asyncio.sleep(0.2)  # checkpoint passes, each syncing the file
    await db.close()
    probe = (
        "import sqlite3, sys\n"
        "sqlite3.connect(sys.argv[1], timeout=0).execute('PRAGMA journal_mode=DELETE')"
    )
    try:
        command = [sys.executable, "-c", probe, str(path)]
        taken = subprocess.run(command, check=False, capture_output=True)
        assert taken.returncode != 0, "another process took the database from under a reader"
        assert b"database is locked" in taken.stderr
    finally:
        holder.close()
