"""`workbench-mcp ledger check|keys|rotate-key --db postgresql://...`: the chains recomputed from PostgreSQL's rows
(the scan the SQLite file gets), a tampered row named with its run and seq, an unreachable database one line and
exit 2; rotate-key's refusals and failures change nothing (its success: tests/ledger/test_keys.py, both backends)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tests.clocks import CountingClock
from tests.ledger.conftest import gated_run
from workbench_mcp.cli import main
from workbench_mcp.ledger.keys import SigningKey, load_key, write_key
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


@pytest.mark.parametrize("command", ["check", "keys"])
def test_an_unusable_postgresql_database_is_one_line_and_exit_2(
    postgres_url: str, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    """An empty database (no ledger yet) and an unreachable one: never a traceback."""
    unreachable = postgres_url.rsplit(":", 1)[0] + ":1/nothing"
    for url in (postgres_url, unreachable):
        code, out, err = _cli(capsys, "ledger", command, "--db", url)
        assert (code, out) == (2, "")
        assert err.startswith("workbench-mcp: "), err
        assert err.count("\n") == 1, err


def test_rotate_key_on_postgresql_needs_a_key_file_and_an_unreachable_one_changes_nothing(
    postgres_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No database file to put the key beside: without --key-file (or WORKBENCH_SIGNING_KEY_FILE) it is refused
    before anything is touched; an unreachable database leaves the key file as it was."""
    monkeypatch.delenv("WORKBENCH_SIGNING_KEY_FILE", raising=False)
    key_file = tmp_path / "replicas.signing-key"
    write_key(key_file, SigningKey.generate())
    before = key_file.read_bytes()
    unreachable = postgres_url.rsplit(":", 1)[0] + ":1/nothing"

    unnamed = _cli(capsys, "ledger", "rotate-key", "--db", postgres_url)
    down = _cli(capsys, "ledger", "rotate-key", "--db", unreachable, "--key-file", str(key_file))

    assert unnamed[:2] == (2, "")
    assert "--key-file" in unnamed[2]
    assert unnamed[2].count("\n") == 1
    assert down[:2] == (2, "")
    assert down[2].startswith("workbench-mcp: cannot write the PostgreSQL database"), down
    assert down[2].count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [key_file.name]
    assert key_file.read_bytes() == before
    with psycopg.connect(postgres_url, autocommit=True) as conn:  # not even migrated
        assert conn.execute("SELECT to_regclass('ledger_keys')").fetchone() == (None,)


def test_a_rotation_whose_commit_fails_puts_the_key_files_back(
    postgres_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The database refuses the commit (a deferred constraint trigger): the old key is back at its path, no new
    or retired file is left, and the published keys are as they were."""
    old = SigningKey.generate()
    key_file = tmp_path / "replicas.signing-key"
    write_key(key_file, old)
    assert _cli(capsys, "ledger", "rotate-key", "--db", postgres_url, "--key-file", str(key_file))[0] == 0
    current = load_key(key_file)
    files = sorted(p.name for p in tmp_path.iterdir())
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$"
        )
        conn.execute(
            "CREATE CONSTRAINT TRIGGER refuse_keys AFTER INSERT ON ledger_keys DEFERRABLE INITIALLY DEFERRED "
            "FOR EACH ROW EXECUTE FUNCTION refuse()"
        )

    code, out, err = _cli(capsys, "ledger", "rotate-key", "--db", postgres_url, "--key-file", str(key_file))
    keys = _cli(capsys, "ledger", "keys", "--db", postgres_url)

    assert (code, out) == (2, ""), err
    assert "refused at commit" in err
    assert err.count("\n") == 1
    assert load_key(key_file).kid == current.kid
    assert sorted(p.name for p in tmp_path.iterdir()) == files
    assert [k["kid"] for k in json.loads(keys[1])["keys"]] == [current.kid, old.kid]
