"""The database and its WAL/SHM files are readable by this server's user only, whatever the umask."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clocks import CountingClock
from tests.store.conftest import create
from workbench_mcp.store.sqlite_store import SqliteRunStore


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The common default umask (022: new files 0644), set explicitly so the test means the same anywhere."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def modes(db: Path) -> dict[str, int]:
    files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
    return {f.name: stat.S_IMODE(f.stat().st_mode) for f in files}


@pytest.mark.usefixtures("permissive_umask")
async def test_a_new_database_and_its_wal_and_shm_are_0600(tmp_path: Path) -> None:
    db = tmp_path / "new.db"
    async with SqliteRunStore(db) as store:
        await create(store, CountingClock())
        during = modes(db)  # the WAL and SHM exist while a connection is open
    assert during == {"new.db": 0o600, "new.db-wal": 0o600, "new.db-shm": 0o600}


@pytest.mark.usefixtures("permissive_umask")
async def test_an_existing_loose_database_is_tightened_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "old.db"
    async with SqliteRunStore(db) as earlier:  # still open: its WAL and SHM exist, as after a crash
        run_id = await create(earlier, CountingClock())
        for file in modes(db):
            os.chmod(tmp_path / file, 0o644)  # as earlier versions left them
        with caplog.at_level(logging.WARNING, logger="workbench_mcp.store.private_files"):
            async with SqliteRunStore(db) as store:
                assert modes(db) == {"old.db": 0o600, "old.db-wal": 0o600, "old.db-shm": 0o600}
                assert [meta["id"] for meta in (await store.list_runs("org_acme")).items] == [run_id]
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 3
    assert f"database file {db} had mode 0644 (other local users could read it): now 0600" in warned
