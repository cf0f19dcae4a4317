"""Helpers for REST tests: serialized run states built by the real engine, and an authenticated client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from tests.clocks import CountingClock
from tests.conftest import default_rule_set, job_search
from tests.servers import token
from workbench_mcp.engine import artifacts, lifecycle
from workbench_mcp.engine.hydrate import to_serialized

DESCRIBED_BY = '</api/openapi.json>; rel="describedby"'


class RunFactory:
    """Serialized jobSearchWorkflow runs (docs/protocol.md 4.2); one clock, so ids and start times never repeat."""

    def __init__(self) -> None:
        self.clock = CountingClock()

    def new(self, *, tags: list[str] | None = None, writes: int = 0) -> dict[str, Any]:
        outcome = lifecycle.start_run(
            self.clock, lifecycle.StartRun(workflow=job_search(), rule_sets=[default_rule_set()], tags=tags)
        )
        state, events = outcome.state, list(outcome.events)
        for i in range(writes):
            written = artifacts.write_artifact(
                state, self.clock, artifact_key="notes", type_id="notes", data={"i": i}, idempotency_key=None
            )
            state, events = written.state, [*events, *written.events]
        return to_serialized(state, [e.model_dump() for e in events])


def renamed(state: dict[str, Any], run_id: str) -> dict[str, Any]:
    """The same state under another run id (the run and every trace event)."""
    return {
        **state,
        "run": {**state["run"], "id": run_id},
        "trace": [{**event, "runId": run_id} for event in state["trace"]],
    }


@asynccontextmanager
async def rest_client(base_url: str, user: str = "alice", org: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {token(user, org=org)}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
        yield client


def link_values(response: httpx.Response) -> list[str]:
    return response.headers.get_list("link")
