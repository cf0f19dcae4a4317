"""`workbench-mcp ledger check|keys --db postgresql://...`: the chains recomputed from PostgreSQL's rows (the scan the
SQLite file gets), a tampered row named with its run and seq, an unreachable database one line and exit 2."""

from __future__ import annotations

import json

import psycopg
import pytest

from tests.clocks import CountingClock
from tests.ledger.conftest import gated_run
from workbench_mcp.cli import main
from workbench_mcp.ledger.keys import SigningKey
from workbench_mcp.service import RunService
from workbench_mcp.store.postgres_store import PostgresRunStore


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    captured = capsys.readouterr()
    return int(done.value.code or 0), captured.out, captured.err


async def test_check_recomputes_the_chains_from_postgresql_rows_and_names_a_tampered_event(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    key = SigningKey.generate()
    store = PostgresRunStore(postgres_url, signer=key)
    await store.open()
    try:
        run_id = await gated_run(RunService(store, clock=CountingClock()))
        await store.export_checkpoint("org_acme", run_id)
    finally:
        await store.close()

    intact = _cli(capsys, "ledger", "check", "--db", postgres_url)
    keys = _cli(capsys, "ledger", "keys", "--db", postgres_url)
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE audit SET principal = 'user_mallory' WHERE run_id = %s AND seq = 2", (run_id,)
        )  # the approver swapped behind the store's back
    tampered = _cli(capsys, "ledger", "check", "--db", postgres_url)

    assert intact[0] == 0, intact
    assert intact[1].startswith("OK: 1 runs,")
    assert "all intact" in intact[1]
    assert [k["kid"] for k in json.loads(keys[1])["keys"]] == [key.kid]
    assert tampered[0] == 1
    assert run_id in tampered[1]
    assert "seq 2" in tampered[1]
    assert tampered[1].splitlines()[-1].startswith("FAIL: 1 runs")


@pytest.mark.parametrize("command", ["check", "keys", "rotate-key"])
def test_an_unusable_postgresql_database_is_one_line_and_exit_2(
    postgres_url: str, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """An empty database (no ledger yet), an unreachable one and rotate-key (not on PostgreSQL): never a traceback."""
    unreachable = postgres_url.rsplit(":", 1)[0] + ":1/nothing"
    for url in (postgres_url, unreachable):
        code, out, err = _cli(capsys, "ledger", command, "--db", url)
        assert (code, out) == (2, "")
        assert err.startswith("workbench-mcp: "), err
        assert err.count("\n") == 1, err
