"""The throwaway PostgreSQL the store tests run on (tests/postgres_cluster.py): real, isolated per database,
and it keeps committed rows across a crash and restart (what the fault tests rely on)."""

from __future__ import annotations

import psycopg

from tests.postgres_cluster import PostgresCluster


def test_each_database_is_fresh_and_a_crash_keeps_committed_rows(postgres_cluster: PostgresCluster) -> None:
    first, second = postgres_cluster.new_database(), postgres_cluster.new_database()
    assert first != second
    with psycopg.connect(first, autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (n INTEGER)")
        conn.execute("INSERT INTO kept VALUES (7)")
    with psycopg.connect(second) as conn:
        assert conn.execute("SELECT to_regclass('kept')").fetchone() == (None,)
    postgres_cluster.restart("immediate")
    with psycopg.connect(first) as conn:
        assert conn.execute("SELECT n FROM kept").fetchall() == [(7,)]
