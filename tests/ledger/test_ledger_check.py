"""`workbench-mcp ledger check` on a real database: every tampering is reported with its run and seq."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.ledger.conftest import ALICE, BOB, Ledger, gated_run
from workbench_mcp.cli import main
from workbench_mcp.commands import BeginStep, WriteArtifact
from workbench_mcp.ledger import chain
from workbench_mcp.ledger.store_rows import last_links, read_checkpoints
from workbench_mcp.service import RunService
from workbench_mcp.store.run_store import Actor, RunStore
from workbench_mcp.store.sqlite_store import SqliteRunStore

Edit = Callable[[sqlite3.Connection, str], int]
"""Tamper with one run's rows; returns the seq that `ledger check` must name."""


def _check(capsys: pytest.CaptureFixture[str], db: Path) -> tuple[int, str]:
    with pytest.raises(SystemExit) as done:
        main(["ledger", "check", "--db", str(db)])
    return int(done.value.code or 0), capsys.readouterr().out


def _change_one_event_byte(conn: sqlite3.Connection, run_id: str) -> int:
    (text,) = conn.execute("SELECT event_json FROM trace_events WHERE run_id = ? AND seq = 3", (run_id,)).fetchone()
    tampered = text.replace('"stepId":"parser1"', '"stepId":"parser2"', 1)
    assert tampered != text
    assert len(tampered) == len(text)
    conn.execute("UPDATE trace_events SET event_json = ? WHERE run_id = ? AND seq = 3", (tampered, run_id))
    return 3


def _swap_the_approver(conn: sqlite3.Connection, run_id: str) -> int:
    conn.execute("UPDATE audit SET principal = 'user_mallory' WHERE run_id = ? AND seq = 2", (run_id,))
    return 2


def _delete_the_last_event(conn: sqlite3.Connection, run_id: str) -> int:
    (last,) = conn.execute("SELECT MAX(seq) FROM trace_events WHERE run_id = ?", (run_id,)).fetchone()
    conn.execute("DELETE FROM trace_events WHERE run_id = ? AND seq = ?", (run_id, last))
    return int(last)


def _reorder_two_events(conn: sqlite3.Connection, run_id: str) -> int:
    rows = dict(conn.execute("SELECT seq, event_json FROM trace_events WHERE run_id = ? AND seq IN (3, 4)", (run_id,)))
    for seq, other in ((3, 4), (4, 3)):
        conn.execute("UPDATE trace_events SET event_json = ? WHERE run_id = ? AND seq = ?", (rows[other], run_id, seq))
    return 3


async def _two_runs(ledger: Ledger) -> tuple[str, str]:
    first = await gated_run(ledger.service)
    second = await gated_run(ledger.service)
    await ledger.store.close()
    return first, second


async def test_an_untouched_database_passes(ledger: Ledger, capsys: pytest.CaptureFixture[str]) -> None:
    await _two_runs(ledger)
    code, out = _check(capsys, ledger.db_path)
    assert code == 0
    assert "OK: 2 runs" in out
    assert "all intact" in out


@pytest.mark.parametrize(
    "edit", [_change_one_event_byte, _swap_the_approver, _delete_the_last_event, _reorder_two_events]
)
async def test_tampering_is_reported_with_run_and_seq(
    ledger: Ledger, capsys: pytest.CaptureFixture[str], edit: Edit
) -> None:
    _, victim = await _two_runs(ledger)
    with sqlite3.connect(ledger.db_path) as conn:
        seq = edit(conn, victim)
    code, out = _check(capsys, ledger.db_path)
    assert code == 1
    [line] = [line for line in out.splitlines() if line.startswith("TAMPERED")]
    assert f"run {victim} " in line
    assert f" seq {seq} " in line


def _swap_the_approver_and_relink(conn: sqlite3.Connection, run_id: str) -> int:
    """The attacker also recomputes every audit link; only the signed checkpoints still disagree."""
    from workbench_mcp.ledger.store_rows import audit_rows

    _swap_the_approver(conn, run_id)
    links = chain.links(chain.audit_record(r) for r in audit_rows(conn, ("org_acme", run_id)))
    for seq, link in enumerate(links, start=1):
        conn.execute("UPDATE audit SET link = ? WHERE run_id = ? AND seq = ?", (link, run_id, seq))
    return 2


async def test_rewriting_the_links_too_is_caught_by_the_signed_checkpoints(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    _, victim = await _two_runs(ledger)
    with sqlite3.connect(ledger.db_path) as conn:
        _swap_the_approver(conn, victim)
        # The attacker recomputes every audit link, but cannot sign a checkpoint.
        from workbench_mcp.ledger.store_rows import audit_rows

        links = chain.links(chain.audit_record(r) for r in audit_rows(conn, ("org_acme", victim)))
        for seq, link in enumerate(links, start=1):
            conn.execute("UPDATE audit SET link = ? WHERE run_id = ? AND seq = ?", (link, victim, seq))
    code, out = _check(capsys, ledger.db_path)
    assert code == 1
    assert f"run {victim} " in out
    assert "signed checkpoint" in out


async def test_every_write_extends_the_chain_in_place(ledger: Ledger) -> None:
    run_id = await gated_run(ledger.service)
    trace = await ledger.store.load_trace("org_acme", run_id)
    with sqlite3.connect(ledger.db_path) as conn:
        heads = last_links(conn, ("org_acme", run_id))
        stored = [
            row[0] for row in conn.execute("SELECT link FROM trace_events WHERE run_id = ? ORDER BY seq", (run_id,))
        ]
        reasons = [c["payloadType"] for c in read_checkpoints(conn, ("org_acme", run_id))]
    assert stored == chain.links(trace)
    assert (heads.event_seq, heads.event_head) == (len(trace), stored[-1])
    assert len(reasons) == 2  # the gate decision and the completion


async def test_runs_stored_before_the_ledger_are_chained_once_with_a_migration_checkpoint(
    ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plain = SqliteRunStore(tmp_path / "rows.db", chain=False)  # writes rows the way the code before the ledger did
    await plain.open()
    from workbench_mcp.service import RunService
    from workbench_mcp.store.schema import bundled_migrations, migrate

    run_id = await gated_run(RunService(plain))
    await plain.close()
    # A schema-v2 database (before the ledger) holding those rows.
    conn = sqlite3.connect(tmp_path / "old.db", isolation_level=None)
    migrate(conn, bundled_migrations(), target=2)
    conn.execute("ATTACH DATABASE ? AS source", (str(tmp_path / "rows.db"),))
    for table in ("runs", "trace_events", "artifact_versions", "artifact_heads", "rule_sets", "idempotency", "audit"):
        columns = ", ".join(row[1] for row in conn.execute(f"PRAGMA main.table_info({table})"))
        conn.execute(f"INSERT INTO main.{table} SELECT {columns} FROM source.{table}")
    conn.execute("DETACH DATABASE source")
    assert "ledger_runs" not in {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()

    upgraded = SqliteRunStore(tmp_path / "old.db", signer=ledger.key)
    await upgraded.open()
    await upgraded.close()
    again = SqliteRunStore(tmp_path / "old.db", signer=ledger.key)
    await again.open()  # a second open chains nothing again
    await again.close()

    with sqlite3.connect(tmp_path / "old.db") as conn:
        checkpoints = read_checkpoints(conn, ("org_acme", run_id))
    import base64

    assert [json.loads(base64.b64decode(c["payload"]))["reason"] for c in checkpoints] == ["migration"]
    code, out = _check(capsys, tmp_path / "old.db")
    assert code == 0, out


async def test_checkpoints_must_verify_with_the_keys_given(
    ledger: Ledger, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--keys` pins the trusted keys: an attacker who adds a key of their own to the database gains nothing."""
    from workbench_mcp.ledger.keys import SigningKey, jwks

    await _two_runs(ledger)
    foreign = tmp_path / "foreign.json"
    foreign.write_text(json.dumps(jwks([SigningKey.generate().jwk])))
    with pytest.raises(SystemExit) as done:
        main(["ledger", "check", "--db", str(ledger.db_path), "--keys", str(foreign)])
    assert done.value.code == 1
    assert "does not verify" in capsys.readouterr().out


@pytest.mark.parametrize("edit", [_change_one_event_byte, _swap_the_approver, _swap_the_approver_and_relink])
async def test_a_tampered_run_is_not_attested(ledger: Ledger, edit: Edit) -> None:
    from tests.ledger.conftest import BOB
    from workbench_mcp.errors import ErrorCode, WorkbenchError

    run_id = await gated_run(ledger.service)
    await ledger.store.close()
    with sqlite3.connect(ledger.db_path) as conn:
        edit(conn, run_id)
    await ledger.reopen()
    with pytest.raises(WorkbenchError) as refused:
        await ledger.service.bundles.export_attestation(BOB, run_id)
    assert refused.value.code is ErrorCode.LEDGER_MISMATCH
    with sqlite3.connect(ledger.db_path) as conn:  # nothing was signed
        reasons = [
            c for c in read_checkpoints(conn, ("org_acme", run_id)) if b"export" in base64.b64decode(c["payload"])
        ]
    assert reasons == []


async def test_a_replaced_run_is_relinked_with_an_import_checkpoint(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.ledger.conftest import BOB

    run_id = await gated_run(ledger.service, complete=False)
    state = await ledger.service.reads.get_run(BOB, run_id)
    await ledger.service.save_serialized(BOB, run_id, state)  # REST PUT over an existing run
    await ledger.service.bundles.export_attestation(BOB, run_id)
    with sqlite3.connect(ledger.db_path) as conn:
        payloads = [json.loads(base64.b64decode(c["payload"])) for c in read_checkpoints(conn, ("org_acme", run_id))]
    assert [p["reason"] for p in payloads] == ["import", "export"]
    await ledger.store.close()
    code, out = _check(capsys, ledger.db_path)
    assert code == 0, out


def _stored_links(db: Path, run_id: str) -> list[str]:
    with sqlite3.connect(db) as conn:
        query = "SELECT link FROM trace_events WHERE run_id = ? ORDER BY seq"
        return [row[0] for row in conn.execute(query, (run_id,))]


async def _run_in_a_step(service: RunService) -> str:
    run_id = str((await service.start_run(ALICE, "jobSearchWorkflow"))["runId"])
    await service.resolve_gate(BOB, run_id, step_id="parser1", gate="PAUSE_BEFORE", decision="approved")
    await service.execute(ALICE, run_id, BeginStep(step_id="parser1"))
    return run_id


async def _write_through(store: RunStore, run_id: str) -> None:
    service = RunService(store)
    await service.execute(ALICE, run_id, WriteArtifact(artifact_key="draft", type_id="note", data={"n": run_id}))


async def test_writes_through_two_stores_on_one_file_keep_one_chain(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each store caches the chain heads its last write left; the other store's writes must void them."""
    run_id = await _run_in_a_step(ledger.service)
    other = SqliteRunStore(ledger.db_path, signer=ledger.key)
    await other.open()
    try:
        for store in (other, ledger.store, other, ledger.store, ledger.store):
            await _write_through(store, run_id)
    finally:
        await other.close()
    trace = await ledger.store.load_trace("org_acme", run_id)
    await ledger.store.close()
    assert _stored_links(ledger.db_path, run_id) == chain.links(trace)
    code, out = _check(capsys, ledger.db_path)
    assert code == 0, out


async def test_a_run_replaced_elsewhere_with_as_many_events_is_relinked_from_its_rows(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another store replaces the run (a REST PUT) by a trace of the same length but other events: the
    seq counts still agree with this store's cached heads, only the run row's tag tells them stale."""
    run_id = await _run_in_a_step(ledger.service)
    await _write_through(ledger.store, run_id)  # this store now caches the heads at this length
    other = SqliteRunStore(ledger.db_path, signer=ledger.key)
    await other.open()
    try:
        state, trace = await other.load_run("org_acme", run_id)
        trace[0] = {**trace[0], "ts": "2001-01-01T00:00:00.000Z"}
        await other.replace_run("org_acme", state, trace, Actor(principal="user_bob", tool="rest"))
    finally:
        await other.close()
    await _write_through(ledger.store, run_id)
    trace = await ledger.store.load_trace("org_acme", run_id)
    await ledger.store.close()
    assert _stored_links(ledger.db_path, run_id) == chain.links(trace)
    code, out = _check(capsys, ledger.db_path)
    assert code == 0, out
