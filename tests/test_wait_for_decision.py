"""wait_for_decision (issue 12 §3): a waiter returns once the gate is decided, by this process or by another
connection to the same SQLite file (a second store stands in for another --workers process or REST/stdio:
nothing in this process signals the waiter, only the store's data_version does). On PostgreSQL the second
store is another replica on the same database, heard through LISTEN/NOTIFY. Speed is measured by
bench/wait_latency.py, not asserted here."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from workbench_mcp.commands import BeginStep
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.principal import Principal
from workbench_mcp.service import RunService
from workbench_mcp.store.postgres_store import PostgresRunStore
from workbench_mcp.store.run_store import RunStore
from workbench_mcp.store.sqlite_store import SqliteRunStore

AGENT = Principal("org_acme", subject="agent_1")
REVIEWER = Principal("org_acme", subject="user_bob")
STRANGER = Principal("org_other", subject="user_eve")
LONG = 10.0  # a waiter that missed the decision would come back decided: false after this


@dataclass
class TwoProcesses:
    waiter: RunService
    other: RunService  # its own store: its own connections, its own change events


@pytest.fixture(params=["sqlite", "postgresql"])
async def two(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[TwoProcesses]:
    stores: list[RunStore]
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_cluster").new_database()
        stores = [PostgresRunStore(url) for _ in range(2)]
    else:
        stores = [SqliteRunStore(tmp_path / "w.db") for _ in range(2)]
    for store in stores:
        await store.open()
    try:
        yield TwoProcesses(RunService(stores[0]), RunService(stores[1]))
    finally:
        for store in stores:
            await store.close()


async def _run(service: RunService) -> str:
    return str((await service.start_run(AGENT, "jobSearchWorkflow"))["runId"])


async def _decide_soon(service: RunService, run_id: str, decision: str = "approved") -> None:
    await asyncio.sleep(0.3)  # let the waiter start waiting first
    await service.resolve_gate(
        REVIEWER, run_id, decision=decision, note="looks fine", step_id="parser1", gate="PAUSE_BEFORE"
    )


async def test_a_decision_committed_by_another_store_ends_the_wait(two: TwoProcesses) -> None:
    run_id = await _run(two.waiter)
    waited, _ = await asyncio.gather(
        two.waiter.reads.wait_for_decision(AGENT, run_id, timeout_seconds=LONG, step_id="parser1", gate="PAUSE_BEFORE"),
        _decide_soon(two.other, run_id),
    )
    revision = await two.waiter.reads.run_revision(AGENT, run_id)
    assert waited.wire() == {
        "decided": True,
        "runId": run_id,
        "stepId": "parser1",
        "gate": "PAUSE_BEFORE",
        "decision": "approved",
        "principal": "user_bob",
        "channel": "resolve_gate",
        "decidedAt": waited["decidedAt"],
        "note": "looks fine",
        "revision": revision,
    }


async def test_a_decision_made_in_this_process_ends_the_wait(two: TwoProcesses) -> None:
    run_id = await _run(two.waiter)
    waited, _ = await asyncio.gather(
        two.waiter.reads.wait_for_decision(AGENT, run_id, timeout_seconds=LONG, step_id="parser1", gate="PAUSE_BEFORE"),
        _decide_soon(two.waiter, run_id, "rejected"),
    )
    assert (waited["decided"], waited["decision"], waited["principal"]) == (True, "rejected", "user_bob")


async def test_a_decision_made_before_the_call_is_returned_at_once(two: TwoProcesses) -> None:
    run_id = await _run(two.waiter)
    await two.other.resolve_gate(REVIEWER, run_id, decision="approved", step_id="parser1", gate="PAUSE_BEFORE")
    await two.waiter.execute(AGENT, run_id, BeginStep(step_id="parser1"))  # the gate is no longer under review
    waited = await two.waiter.reads.wait_for_decision(
        AGENT, run_id, timeout_seconds=LONG, step_id="parser1", gate="PAUSE_BEFORE"
    )
    assert (waited["decided"], waited["decision"]) == (True, "approved")


async def test_no_decision_by_the_timeout_is_decided_false(two: TwoProcesses) -> None:
    run_id = await _run(two.waiter)
    revision = await two.waiter.reads.run_revision(AGENT, run_id)
    for timeout in (0, 1):
        waited = await two.waiter.reads.wait_for_decision(
            AGENT, run_id, timeout_seconds=timeout, step_id="parser1", gate="PAUSE_BEFORE"
        )
        assert waited.wire() == {
            "decided": False,
            "runId": run_id,
            "stepId": "parser1",
            "gate": "PAUSE_BEFORE",
            "revision": revision,
        }


async def test_a_rejection_before_a_new_review_request_does_not_answer_it(two: TwoProcesses) -> None:
    run_id = await _run(two.waiter)
    await two.other.resolve_gate(REVIEWER, run_id, decision="rejected", step_id="parser1", gate="PAUSE_BEFORE")
    await two.waiter.request_gate(AGENT, run_id, reason="fixed the input", step_id="parser1", gate="PAUSE_BEFORE")
    assert not (
        await two.waiter.reads.wait_for_decision(
            AGENT, run_id, timeout_seconds=0, step_id="parser1", gate="PAUSE_BEFORE"
        )
    )["decided"]
    waited, _ = await asyncio.gather(
        two.waiter.reads.wait_for_decision(AGENT, run_id, timeout_seconds=LONG, step_id="parser1", gate="PAUSE_BEFORE"),
        _decide_soon(two.other, run_id),
    )
    assert (waited["decided"], waited["decision"]) == (True, "approved")


async def test_a_decision_on_another_run_does_not_answer(two: TwoProcesses) -> None:
    run_id, other_run = await _run(two.waiter), await _run(two.waiter)
    waited, _ = await asyncio.gather(
        two.waiter.reads.wait_for_decision(AGENT, run_id, timeout_seconds=1, step_id="parser1", gate="PAUSE_BEFORE"),
        _decide_soon(two.other, other_run),
    )
    assert not waited["decided"]


@pytest.mark.parametrize(
    ("who", "step_id", "gate", "code"),
    [
        (STRANGER, "parser1", "PAUSE_BEFORE", ErrorCode.UNKNOWN_RUN),  # another tenant's run: as if missing
        (AGENT, "ghost", "PAUSE_BEFORE", ErrorCode.UNKNOWN_STEP),
        (AGENT, "parser1", "PAUSE_AFTER", ErrorCode.GATE_NOT_APPLICABLE),  # not under review: it never ends
    ],
)
async def test_a_wait_no_decision_can_end_is_refused_at_once(
    two: TwoProcesses, who: Principal, step_id: str, gate: str, code: ErrorCode
) -> None:
    run_id = await _run(two.waiter)
    with pytest.raises(WorkbenchError) as refused:
        await two.waiter.reads.wait_for_decision(who, run_id, step_id=step_id, gate=gate, timeout_seconds=LONG)
    assert refused.value.code == code


async def test_an_unknown_run_is_refused_at_once(two: TwoProcesses) -> None:
    with pytest.raises(WorkbenchError) as refused:
        await two.waiter.reads.wait_for_decision(
            AGENT, "run_nope", timeout_seconds=LONG, step_id="parser1", gate="PAUSE_BEFORE"
        )
    assert refused.value.code == ErrorCode.UNKNOWN_RUN
