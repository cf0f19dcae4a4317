"""The audit side table: who appended each event, and when, never inside the trace."""

from __future__ import annotations

from tests.clocks import CountingClock
from tests.store.backends import StoreBackend
from tests.store.conftest import TENANT, create, write_once


async def test_every_appended_event_records_who_and_when_beside_the_trace(
    backend: StoreBackend, clock: CountingClock
) -> None:
    store = await backend.open(now=lambda: "2026-02-03T04:05:06.007Z")
    run_id = await create(store, clock)
    written = await write_once(store, clock, run_id)

    audit = await store.audit_log(TENANT, run_id)
    trace = await store.load_trace(TENANT, run_id)

    assert [a.event_id for a in audit] == [e["id"] for e in trace]
    assert [a.seq for a in audit] == list(range(1, len(trace) + 1))
    assert {(a.principal, a.tool, a.correlation_id) for a in audit[:-1]} == {("user_alice", "start_run", "corr-1")}
    assert (audit[-1].principal, audit[-1].tool, audit[-1].event_id) == ("user_bob", "write_artifact", written[0]["id"])
    assert {a.at for a in audit} == {"2026-02-03T04:05:06.007Z"}
    assert not any("principal" in e or "user_bob" in str(e) for e in trace)
