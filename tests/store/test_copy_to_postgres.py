"""`workbench-mcp migrate --from PATH.sqlite --to postgresql://...` (store/copy_to_postgres.py): every tenant's
runs with all their rows, chains, checkpoints, governance, review requests and keys move; each run then exports
the same bundle and still verifies its ledger on PostgreSQL; a second run copies nothing; an interrupted one
finishes; a run written on PostgreSQL after the copy is reported, never overwritten."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.clocks import CountingClock
from tests.ledger.conftest import ALICE, gated_run
from tests.store.stored_rows import postgres_rows, sqlite_rows
from tests.test_cli import run_main
from workbench_mcp.commands import WriteArtifact
from workbench_mcp.ledger.keys import SigningKey
from workbench_mcp.principal import Principal
from workbench_mcp.protocol.bundle import compute_integrity
from workbench_mcp.service import RunService
from workbench_mcp.store.postgres_store import PostgresRunStore
from workbench_mcp.store.run_store import GovernanceRecord, ReviewRequest
from workbench_mcp.store.sqlite_store import SqliteRunStore

OTHER = Principal("org_globex", subject="user_gus")


async def _source(path: Path, key: SigningKey) -> list[tuple[Principal, str]]:
    """A SQLite store with two tenants' runs, NUL in keys, a retried start, refusals with and without a run, review
    requests (one used)."""
    store = SqliteRunStore(path, signer=key)
    await store.open()
    service = RunService(store, clock=CountingClock())
    runs = [(ALICE, await gated_run(service)), (ALICE, await gated_run(service, complete=False))]
    started = await service.start_run(OTHER, "jobSearchWorkflow", request_id="req\x00-1", tags=["t\x00"])
    await service.execute(
        OTHER, started["runId"], WriteArtifact(artifact_key="k\x00", type_id="t", data={"s": "\x00\ud800"})
    )
    runs.append((OTHER, started["runId"]))
    refusal = GovernanceRecord("denied", "user_eve", "resolve_gate", {"why": "no"})
    await store.record_governance(ALICE.tenant_id, runs[0][1], refusal)
    await store.record_governance(OTHER.tenant_id, "run_missing", refusal)
    await store.export_checkpoint(ALICE.tenant_id, runs[0][1])
    async with store.run_transaction(ALICE.tenant_id, runs[1][1]) as tx:  # two review links, one of them used
        tx.add_review_requests([_review(runs[1][1], "user_bob"), _review(runs[1][1], "user_c\x00")])
    async with store.run_transaction(ALICE.tenant_id, runs[1][1]) as tx:
        assert await tx.use_review_request("rr_1", "user_bob", decision="approve", at="2026-01-01T00:00:01.000Z")
    await store.close()
    return runs


def _review(run_id: str, reviewer: str) -> ReviewRequest:
    at = "2026-01-01T00:00:00.000Z"
    return ReviewRequest("rr_1", reviewer, run_id, "parser1", "PAUSE_BEFORE", None, "user_al", at, at)


async def test_migrate_copies_every_run_so_each_exports_the_same_bundle(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    key, db = SigningKey.generate(), tmp_path / "source.db"
    runs = await _source(db, key)

    code, out, _ = run_main(capsys, "migrate", "--from", str(db), "--to", postgres_url)
    assert code == 0, out
    assert "3 runs copied, 0 already there, 1 signing keys" in out
    assert postgres_rows(postgres_url) == sqlite_rows(db)

    hashes = {}
    for store in (SqliteRunStore(db, signer=key), PostgresRunStore(postgres_url, signer=key)):
        await store.open()
        service = RunService(store)
        hashes[type(store).__name__] = [
            compute_integrity(await service.bundles.export_bundle(who, r)) for who, r in runs
        ]
        for who, run_id in runs:  # the copied chains and checkpoints verify (else LEDGER_MISMATCH)
            await store.export_checkpoint(who.tenant_id, run_id)
        await store.close()
    assert hashes["PostgresRunStore"] == hashes["SqliteRunStore"]


async def test_migrate_again_copies_nothing_and_finishes_an_interrupted_copy(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    key, db = SigningKey.generate(), tmp_path / "source.db"
    runs = await _source(db, key)
    assert run_main(capsys, "migrate", "--from", str(db), "--to", postgres_url)[0] == 0
    code, out, _ = run_main(capsys, "migrate", "--from", str(db), "--to", postgres_url)
    assert (code, "0 runs copied, 3 already there" in out) == (0, True)

    target = PostgresRunStore(postgres_url, signer=key)
    await target.open()
    assert await target.delete_run(runs[1][0].tenant_id, runs[1][1])  # as if the copy had stopped before it
    await target.close()
    code, out, _ = run_main(capsys, "migrate", "--from", str(db), "--to", postgres_url)
    assert (code, "1 runs copied, 2 already there" in out) == (0, True)
    assert postgres_rows(postgres_url) == sqlite_rows(db)


async def test_a_run_written_on_postgresql_after_the_copy_is_a_conflict_left_alone(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    key, db = SigningKey.generate(), tmp_path / "source.db"
    runs = await _source(db, key)
    assert run_main(capsys, "migrate", "--from", str(db), "--to", postgres_url)[0] == 0
    target = PostgresRunStore(postgres_url, signer=key)
    await target.open()
    who, run_id = runs[1]
    await RunService(target).execute(who, run_id, WriteArtifact(artifact_key="after", type_id="t", data={}))
    before = postgres_rows(postgres_url)
    await target.close()

    code, out, _ = run_main(capsys, "migrate", "--from", str(db), "--to", postgres_url)
    assert code == 1
    assert f"CONFLICT tenant {who.tenant_id}: run {run_id} differs in PostgreSQL" in out
    assert postgres_rows(postgres_url) == before


async def test_a_review_requested_on_sqlite_after_the_copy_is_a_conflict_not_already_there(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A review request (or any governance record) writes no trace event, so the run's state tag stays: the copy
    must not call the run "already there" while PostgreSQL lacks the request."""
    key, db = SigningKey.generate(), tmp_path / "source.db"
    runs = await _source(db, key)
    assert run_main(capsys, "migrate", "--from", str(db), "--to", postgres_url)[0] == 0
    who, run_id = runs[0]
    source = SqliteRunStore(db, signer=key)
    await source.open()
    async with source.run_transaction(who.tenant_id, run_id) as tx:
        tx.add_review_requests([_review(run_id, "user_late")])
    await source.close()
    before = postgres_rows(postgres_url)

    code, out, _ = run_main(capsys, "migrate", "--from", str(db), "--to", postgres_url)
    assert code == 1
    assert f"CONFLICT tenant {who.tenant_id}: run {run_id} differs in PostgreSQL" in out
    assert "0 runs copied, 2 already there" in out
    assert postgres_rows(postgres_url) == before


@pytest.mark.parametrize("target", ["sqlite:///x.db", "x.db"])
def test_migrate_needs_a_postgresql_target(tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str) -> None:
    code, out, err = run_main(capsys, "migrate", "--from", str(tmp_path / "a.db"), "--to", target)
    assert (code, out, err) == (2, "", "workbench-mcp: --to must be a postgresql:// URL\n")


def test_migrate_from_a_missing_file_is_refused(
    tmp_path: Path, postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_main(capsys, "migrate", "--from", str(tmp_path / "none.db"), "--to", postgres_url)
    assert (code, err) == (2, f"workbench-mcp: {tmp_path / 'none.db'} is not a SQLite database file\n")
