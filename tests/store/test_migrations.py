"""Schema migrations: an old database upgrades in place at open, exactly once, all or nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.clocks import CountingClock
from tests.store.conftest import TENANT, StoreFactory, create, db_rows, write_once
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.store.schema import Migration, bundled_migrations, migrate, schema_version, split_statements
from workbench_mcp.store.sqlite_store import SqliteRunStore

V1_TABLES = (
    "runs",
    "trace_events",
    "artifact_versions",
    "artifact_heads",
    "rule_sets",
    "idempotency",
    "start_requests",
)


def _tables(path: Path) -> set[str]:
    return {name for (name,) in db_rows(path, "SELECT name FROM sqlite_master WHERE type = 'table'")}


def _create_v1_copy_of(source: Path, target: Path) -> None:
    """A database made by schema v1 only, holding the rows a v1 server had written."""
    conn = sqlite3.connect(target, isolation_level=None)
    migrate(conn, bundled_migrations(), target=1)
    conn.execute("ATTACH DATABASE ? AS source", (str(source),))
    conn.execute("BEGIN")
    for table in V1_TABLES:
        columns = ", ".join(row[1] for row in conn.execute(f"PRAGMA main.table_info({table})"))
        conn.execute(f"INSERT INTO main.{table} SELECT {columns} FROM source.{table}")
    conn.execute("COMMIT")
    conn.execute("DETACH DATABASE source")
    conn.close()


async def test_a_v1_database_with_runs_upgrades_in_place(
    store: SqliteRunStore, open_store: StoreFactory, clock: CountingClock, db_path: Path, tmp_path: Path
) -> None:
    run_id = await create(store, clock)
    await write_once(store, clock, run_id)
    expected = await store.load_run(TENANT, run_id)
    old_path = tmp_path / "v1.db"
    _create_v1_copy_of(db_path, old_path)
    assert "audit" not in _tables(old_path)
    assert db_rows(old_path, "SELECT version FROM schema_migrations") == [(1,)]

    upgraded = await open_store(path=old_path)

    assert db_rows(old_path, "SELECT version, name FROM schema_migrations ORDER BY version") == [
        (1, "initial"),
        (2, "audit"),
        (3, "ledger"),
        (4, "governance"),
        (5, "governance_chain"),
        (6, "review_requests"),
    ]
    assert "audit" in _tables(old_path)
    assert await upgraded.load_run(TENANT, run_id) == expected
    assert (await upgraded.list_runs(TENANT)).items[0]["id"] == run_id
    written = await write_once(upgraded, clock, run_id)
    assert [a.event_id for a in await upgraded.audit_log(TENANT, run_id)] == [written[0]["id"]]  # v1 had no audit
    assert db_rows(old_path, "PRAGMA integrity_check") == [("ok",)]


async def test_reopening_applies_nothing_twice(open_store: StoreFactory, db_path: Path) -> None:
    await open_store()
    await open_store()
    again = SqliteRunStore(db_path)
    await again.open()
    await again.close()

    assert db_rows(db_path, "SELECT version FROM schema_migrations ORDER BY version") == [
        (1,),
        (2,),
        (3,),
        (4,),
        (5,),
        (6,),
    ]


async def test_a_database_newer_than_the_code_is_refused(open_store: StoreFactory, db_path: Path) -> None:
    await open_store()
    with sqlite3.connect(db_path) as conn:
        conn.execute("INSERT INTO schema_migrations VALUES (99, 'from_the_future', '2030-01-01T00:00:00.000Z')")

    newer = SqliteRunStore(db_path)
    with pytest.raises(WorkbenchError) as caught:
        await newer.open()
    assert caught.value.code is ErrorCode.STORAGE_UNAVAILABLE


def test_a_failing_migration_leaves_the_database_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "broken.db"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, bundled_migrations()[:1])
    broken = Migration(2, "broken", "CREATE TABLE half_done (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n")

    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, [*bundled_migrations()[:1], broken])

    assert schema_version(conn) == 1
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'half_done'").fetchall() == []
    conn.close()


def test_statements_split_at_semicolons_but_not_inside_triggers() -> None:
    script = """
    -- a comment; with a semicolon
    CREATE TABLE a (x TEXT DEFAULT ';');
    CREATE TRIGGER t AFTER INSERT ON a BEGIN
        INSERT INTO a VALUES ('one;');
        DELETE FROM a WHERE x = ';';
    END;
    -- trailing comment
    """
    statements = split_statements(script)

    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER")
    assert statements[1].endswith("END;")


def test_bundled_migrations_are_numbered_without_gaps() -> None:
    assert [(m.version, m.name) for m in bundled_migrations()] == [
        (1, "initial"),
        (2, "audit"),
        (3, "ledger"),
        (4, "governance"),
        (5, "governance_chain"),
        (6, "review_requests"),
    ]
