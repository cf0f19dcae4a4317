"""Governance rows (denials, quorum approvals, the pinned policy) are chained per run like the audit rows:
`ledger check` names the run and the row when one is swapped or deleted, checkpoints sign the chain's head,
and the attestation lists the denials, the quorum approvals and the budget."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.ledger.conftest import ALICE, BOB, Ledger
from tests.ledger.test_ledger_check import _check
from tests.ledger.test_verify import failed_check, resigned, statement_of
from workbench_mcp.commands import BeginStep, CompleteStep, EndRun
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.ledger import chain
from workbench_mcp.ledger.checkpoints import Heads, sign_checkpoint
from workbench_mcp.ledger.keys import keys_by_id
from workbench_mcp.ledger.store_rows import governance_record, read_checkpoints
from workbench_mcp.ledger.verify import verify_attestation
from workbench_mcp.principal import Principal
from workbench_mcp.service import RunService
from workbench_mcp.workflows import WorkflowCatalog

CAROL = Principal("org_acme", subject="user_carol")
WORKFLOW = {"id": "governed", "version": 1, "steps": [{"id": "s", "gatePolicy": "PAUSE_BEFORE"}], "edges": []}
GOVERNANCE = {"approvals": {"steps": {"s": {"PAUSE_BEFORE": {"quorum": 2}}}}}
KINDS = ["policy", "denied", "approval", "approval", "gate_opened"]
"""The governance rows of `governed_run`, in order."""


def governed(ledger: Ledger) -> RunService:
    catalog = WorkflowCatalog.with_builtins()
    catalog.add(WORKFLOW, [], GOVERNANCE)
    ledger.service = RunService(ledger.store, catalog=catalog)
    return ledger.service


async def governed_run(service: RunService) -> str:
    """ALICE starts (with a budget) and may not approve (denied); BOB and CAROL make the quorum of two;
    ALICE runs the step and completes the run."""
    run_id = str((await service.start_run(ALICE, "governed", budget_limits={"maxToolCalls": 10}))["runId"])
    with pytest.raises(WorkbenchError) as refused:
        await service.resolve_gate(ALICE, run_id, step_id="s", gate="PAUSE_BEFORE", decision="approved")
    assert refused.value.code is ErrorCode.NOT_AUTHORIZED
    for approver in (BOB, CAROL):
        await service.resolve_gate(approver, run_id, step_id="s", gate="PAUSE_BEFORE", decision="approved")
    await service.execute(ALICE, run_id, BeginStep(step_id="s"))
    await service.execute(ALICE, run_id, CompleteStep(step_id="s"))
    await service.execute(ALICE, run_id, EndRun(status="completed"))
    return run_id


def _rows(db: Path, run_id: str) -> list[tuple[int, str, str, str | None]]:
    with sqlite3.connect(db) as conn:
        query = "SELECT id, kind, principal, link FROM governance WHERE run_id = ? ORDER BY id"
        return conn.execute(query, (run_id,)).fetchall()


def _payloads(db: Path, run_id: str) -> list[dict[str, Any]]:
    with sqlite3.connect(db) as conn:
        envelopes = read_checkpoints(conn, ("org_acme", run_id))
    return [json.loads(base64.b64decode(e["payload"])) for e in envelopes]


async def test_governance_rows_are_chained_and_signed_by_the_checkpoints(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = await governed_run(governed(ledger))
    rows = _rows(ledger.db_path, run_id)
    assert [kind for _, kind, _, _ in rows] == KINDS
    with sqlite3.connect(ledger.db_path) as conn:
        conn.row_factory = sqlite3.Row
        stored = [dict(r) for r in conn.execute("SELECT * FROM governance WHERE run_id = ? ORDER BY id", (run_id,))]
    assert [r["link"] for r in stored] == chain.links(governance_record(r) for r in stored)
    # The gate decision's checkpoint covers the approvals written in its transaction; completion's too.
    signed = [(p["reason"], p["governanceSeq"], p["governanceHead"]) for p in _payloads(ledger.db_path, run_id)]
    assert signed == [("gate_decision", 5, rows[-1][3]), ("run_completed", 5, rows[-1][3])]
    code, out = _check(capsys, ledger.db_path)
    assert code == 0, out


def _swap_an_approver(conn: sqlite3.Connection, run_id: str) -> int:
    conn.execute(
        "UPDATE governance SET principal = 'user_mallory' WHERE run_id = ? AND principal = 'user_bob'", (run_id,)
    )
    return KINDS.index("approval") + 1


def _delete_the_denial(conn: sqlite3.Connection, run_id: str) -> int:
    conn.execute("DELETE FROM governance WHERE run_id = ? AND kind = 'denied'", (run_id,))
    return KINDS.index("denied") + 1  # the row now there no longer links from its predecessor


def _delete_the_last_row(conn: sqlite3.Connection, run_id: str) -> int:
    conn.execute("DELETE FROM governance WHERE id = (SELECT MAX(id) FROM governance WHERE run_id = ?)", (run_id,))
    return len(KINDS)  # every remaining link holds: the signed checkpoints count one more


def _swap_an_approver_and_relink(conn: sqlite3.Connection, run_id: str) -> int:
    """The attacker recomputes every governance link too: only the signed checkpoints disagree."""
    _swap_an_approver(conn, run_id)
    conn.row_factory = sqlite3.Row
    rows = [dict(r) for r in conn.execute("SELECT * FROM governance WHERE run_id = ? ORDER BY id", (run_id,))]
    for row, link in zip(rows, chain.links(governance_record(r) for r in rows), strict=True):
        conn.execute("UPDATE governance SET link = ? WHERE id = ?", (link, row["id"]))
    return len(KINDS)  # the first checkpoint's governance seq


@pytest.mark.parametrize(
    "edit", [_swap_an_approver, _delete_the_denial, _delete_the_last_row, _swap_an_approver_and_relink]
)
async def test_governance_tampering_is_reported_with_run_and_seq(
    ledger: Ledger, capsys: pytest.CaptureFixture[str], edit: Callable[[sqlite3.Connection, str], int]
) -> None:
    service = governed(ledger)
    await governed_run(service)
    victim = await governed_run(service)
    with sqlite3.connect(ledger.db_path) as conn:
        seq = edit(conn, victim)
    code, out = _check(capsys, ledger.db_path)
    assert code == 1
    [line] = [line for line in out.splitlines() if line.startswith("TAMPERED")]
    assert f"run {victim} " in line
    assert f" seq {seq} [governance]" in line
    with pytest.raises(WorkbenchError) as refused:  # and nothing tampered is attested
        await service.bundles.export_attestation(BOB, victim)
    assert refused.value.code is ErrorCode.LEDGER_MISMATCH


async def test_refusals_naming_no_run_form_a_chain_per_tenant(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    refusal = WorkbenchError(ErrorCode.NOT_AUTHORIZED, "no")
    for subject in ("user_alice", "user_bob"):
        who = Principal("org_acme", subject=subject)
        await ledger.service.record_denial(who, "get_run", {"runId": "run_nobody_has"}, refusal)
    assert [(kind, who) for _, kind, who, _ in _rows(ledger.db_path, "")] == [
        ("denied", "user_alice"),
        ("denied", "user_bob"),
    ]
    assert _check(capsys, ledger.db_path)[0] == 0
    with sqlite3.connect(ledger.db_path) as conn:
        conn.execute("UPDATE governance SET principal = 'user_mallory' WHERE principal = 'user_alice'")
    code, out = _check(capsys, ledger.db_path)
    assert code == 1
    assert "run  (tenant org_acme) seq 1 [governance]" in out


async def test_governance_rows_from_before_the_chain_are_linked_at_open(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = await governed_run(governed(ledger))
    linked = _rows(ledger.db_path, run_id)
    with sqlite3.connect(ledger.db_path) as conn:  # as migration 0005 leaves rows written before it
        conn.execute("UPDATE governance SET link = NULL")
    await ledger.reopen()
    assert _rows(ledger.db_path, run_id) == linked
    assert _check(capsys, ledger.db_path)[0] == 0


async def test_the_attestation_lists_denials_approvals_and_budget(ledger: Ledger) -> None:
    run_id = await governed_run(governed(ledger))
    bundle, envelope = await ledger.service.bundles.export_attestation(BOB, run_id)
    keys = await ledger.jwks()
    bundle = json.loads(json.dumps(bundle))
    verify_attestation(bundle, envelope, keys_by_id(keys))
    statement = statement_of(envelope)
    predicate = statement["predicate"]
    [denial] = predicate["denials"]
    assert {k: denial[k] for k in ("principal", "tool", "code")} == {
        "principal": "user_alice",
        "tool": "resolve_gate",
        "code": "NOT_AUTHORIZED",
    }
    assert denial["time"]
    assert denial["refused"] == {"stepId": "s", "gate": "PAUSE_BEFORE", "decision": "approved"}
    assert [(a["principal"], a["approvals"], a["quorum"]) for a in predicate["approvals"]] == [
        ("user_bob", ["user_bob"], 2),
        ("user_carol", ["user_bob", "user_carol"], 2),
    ]
    assert predicate["budget"] == {"limit": {"maxToolCalls": 10}, "used": {"maxToolCalls": 0}, "exceeded": []}
    rows = _rows(ledger.db_path, run_id)
    assert (predicate["chain"]["governanceSeq"], predicate["chain"]["governanceHead"]) == (5, rows[-1][3])

    # A head that is not the signed checkpoint's fails the `governance` check (even re-signed).
    forged = json.loads(json.dumps(statement))
    forged["predicate"]["chain"]["governanceHead"] = "f" * 64
    assert failed_check(bundle, resigned(forged, ledger.key), keys) == "governance"
    forged = json.loads(json.dumps(statement))
    forged["predicate"]["denials"] = []  # hiding the denial is not caught offline: the rows stay on the server
    verify_attestation(bundle, resigned(forged, ledger.key), keys_by_id(keys))


async def test_checkpoints_signed_before_the_governance_chain_still_verify(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    run_id = await governed_run(governed(ledger))
    with sqlite3.connect(ledger.db_path) as conn:  # re-sign each checkpoint as the ledger did before: no governance
        for number, payload in enumerate(_payloads(ledger.db_path, run_id), start=1):
            heads = Heads(payload["seq"], payload["chainHead"], payload["auditSeq"], payload["auditHead"])
            old = sign_checkpoint(ledger.key, "org_acme", run_id, heads, payload["time"], payload["reason"])
            conn.execute(
                "UPDATE ledger_checkpoints SET envelope = ? WHERE run_id = ? AND number = ?",
                (json.dumps(old), run_id, number),
            )
    assert all("governanceSeq" not in p for p in _payloads(ledger.db_path, run_id))
    code, out = _check(capsys, ledger.db_path)
    assert code == 0, out
