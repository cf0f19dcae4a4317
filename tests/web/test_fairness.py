"""Fair admission across tenants: the queue policy step by step, the asyncio scheduler, then the real server."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.servers import running_server, server_config, token
from workbench_mcp.config import RateLimitConfig
from workbench_mcp.web.app import create_app
from workbench_mcp.web.fairness import FairQueue, FairScheduler

MCP_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
}


def test_a_quiet_tenant_is_served_before_a_noisy_tenants_queue() -> None:
    queue: FairQueue[str] = FairQueue(capacity=2, share=2)
    assert [queue.arrive("noisy", f"n{i}") for i in range(2)] == ["run", "run"]
    assert [queue.arrive("noisy", f"n{i}") for i in range(2, 7)] == ["wait"] * 5
    assert queue.arrive("quiet", "q0") == "wait"
    # The next freed slot goes to the quiet tenant although five noisy requests queued before it.
    assert queue.leave("noisy") == ("quiet", "q0")
    assert queue.leave("noisy") == ("noisy", "n2")
    assert queue.leave("quiet") == ("noisy", "n3")


def test_waiting_tenants_take_turns_and_each_keeps_its_own_order() -> None:
    queue: FairQueue[str] = FairQueue(capacity=1)
    assert queue.arrive("a", "a0") == "run"
    for waiter in ["a1", "a2", "a3", "b1", "b2", "c1"]:
        assert queue.arrive(waiter[0], waiter) == "wait"
    served = []
    holder = "a"
    while (turn := queue.leave(holder)) is not None:
        holder, waiter = turn
        served.append(waiter)
    assert served == ["a1", "b1", "c1", "a2", "b2", "a3"]
    assert queue.in_flight == 0
    assert queue.waiting() == 0


def test_one_tenant_holds_at_most_its_share_so_another_always_finds_a_slot() -> None:
    queue: FairQueue[str] = FairQueue(capacity=8)  # share defaults to half
    assert queue.share == 4
    outcomes = [queue.arrive("noisy", f"n{i}") for i in range(16)]
    assert outcomes == ["run"] * 4 + ["wait"] * 12
    assert queue.arrive("quiet", "q0") == "run"  # no waiting at all: four slots are free for others
    assert (queue.in_flight, queue.held("noisy"), queue.held("quiet")) == (5, 4, 1)
    # A quiet slot given back is not handed to the noisy tenant beyond its share.
    assert queue.leave("quiet") is None
    assert queue.leave("noisy") == ("noisy", "n4")


def test_a_waiter_that_gives_up_leaves_no_trace() -> None:
    queue: FairQueue[str] = FairQueue(capacity=1)
    queue.arrive("a", "a0")
    queue.arrive("a", "a1")
    queue.arrive("b", "b1")
    assert queue.cancel("a", "a1") is True
    assert queue.cancel("a", "a1") is False
    assert queue.leave("a") == ("b", "b1")
    assert queue.leave("b") is None
    assert (queue.in_flight, queue.waiting()) == (0, 0)


@pytest.mark.parametrize(("capacity", "share"), [(0, None), (2, 0)])
def test_nonsense_sizes_are_refused(capacity: int, share: int | None) -> None:
    with pytest.raises(ValueError, match="must be >= 1"):
        FairQueue(capacity, share)


async def test_the_scheduler_serves_the_quiet_tenant_first_and_survives_cancellation() -> None:
    scheduler = FairScheduler(capacity=2, share=2)
    granted: list[str] = []

    async def request(tenant: str, name: str) -> None:
        await scheduler.acquire(tenant)
        granted.append(name)

    await scheduler.acquire("noisy")
    await scheduler.acquire("noisy")  # both slots busy
    noisy = [asyncio.create_task(request("noisy", f"n{i}")) for i in range(3)]
    await asyncio.sleep(0)
    gives_up = asyncio.create_task(request("quiet", "gives-up"))
    quiet = asyncio.create_task(request("quiet", "q"))
    await asyncio.sleep(0)
    gives_up.cancel()
    await asyncio.sleep(0)
    for holder in ["noisy", "noisy", "quiet", "noisy", "noisy", "noisy"]:
        scheduler.release(holder)
        await asyncio.sleep(0)
    await asyncio.gather(*noisy, quiet)
    assert granted == ["q", "n0", "n1", "n2"]
    assert gives_up.cancelled()
    assert (scheduler.queue.in_flight, scheduler.queue.waiting()) == (0, 0)


def call(request_id: int, name: str, arguments: dict[str, object]) -> dict[str, object]:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "method": "tools/call",
        "params": {"name": name, "arguments": arguments},
    }


async def test_every_request_gives_its_slot_back_on_every_path(tmp_path: Path) -> None:
    """One slot per tenant, many concurrent requests of every kind: none hangs, and no slot stays taken."""
    config = server_config(tmp_path, rate_limit=RateLimitConfig(per_second=0.001, burst=60, fair_slots=2))
    app = create_app(config)
    acme = {**MCP_HEADERS, "Authorization": f"Bearer {token('alice', org='acme')}"}
    globex = {**MCP_HEADERS, "Authorization": f"Bearer {token('carol', org='globex')}"}
    async with running_server(config, app) as url, httpx.AsyncClient(base_url=url, timeout=30) as http:
        started = await http.post(
            "/api/mcp", json=call(1, "start_run", {"workflowId": "jobSearchWorkflow"}), headers=acme
        )
        run_id = started.json()["result"]["structuredContent"]["runId"]

        async def one(n: int) -> int:
            headers = acme if n % 3 else globex
            kind = n % 6
            if kind == 0:
                body = call(n, "get_run", {"runId": run_id})
            elif kind == 1:
                body = call(n, "get_run", {"runId": "run_missing"})  # a tool error
            elif kind == 2:
                response = await http.get(f"/api/runs/{run_id}", headers=headers)
                return response.status_code
            elif kind == 3:
                response = await http.put("/api/runs/run_x", content=b"{not json", headers=headers)
                return response.status_code
            elif kind == 4:
                response = await http.delete("/api/runs/run_gone", headers=headers)
                return response.status_code
            else:
                body = call(n, "write_artifact", {"runId": run_id, "artifactKey": f"k{n}", "typeId": "t", "data": n})
            return (await http.post("/api/mcp", json=body, headers=headers)).status_code

        statuses = await asyncio.gather(*(one(n) for n in range(120)))
        scheduler = app.state.fair_scheduler
        in_flight, waiting = scheduler.queue.in_flight, scheduler.queue.waiting()
    assert set(statuses) <= {200, 204, 400, 404, 429}
    assert 429 in statuses  # acme's 81st request found its burst of 60 spent: refused requests pass no slot either
    assert (in_flight, waiting) == (0, 0)
