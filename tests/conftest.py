"""Shared fixtures and small builders for the protocol and engine tests.

Builders are plain functions (import them from `tests.conftest`); fixtures are factories, so each
test builds the small world it needs inline (style guide section 3).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest

from tests.clocks import CountingClock
from tests.postgres_cluster import PostgresCluster, start_cluster
from workbench_mcp.engine import lifecycle
from workbench_mcp.engine.outcome import Outcome
from workbench_mcp.engine.run_state import RunState
from workbench_mcp.protocol.reference_workflow import DEFAULT_RULE_SET, JOB_SEARCH_WORKFLOW
from workbench_mcp.protocol.trace_events import TraceEvent

Trace = list[dict[str, Any]]


# --- workflow builders ---------------------------------------------------------------------------


def step(step_id: str, policy: str = "AUTO", **extra: Any) -> dict[str, Any]:
    return {"id": step_id, "gatePolicy": policy, **extra}


def edge(edge_id: str, source: str, target: str) -> dict[str, Any]:
    return {"id": edge_id, "from": source, "to": target}


def workflow(
    steps: list[dict[str, Any]],
    edges: list[dict[str, Any]] | None = None,
    *,
    workflow_id: str = "wf",
    version: int = 1,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"id": workflow_id, "version": version, "steps": steps}
    if edges is not None:
        spec["edges"] = edges
    return spec


def one_step(policy: str = "AUTO", step_id: str = "s1") -> dict[str, Any]:
    """A workflow with a single step `s1` of the given gate policy."""
    return workflow([step(step_id, policy)])


def chain(*policies: str) -> dict[str, Any]:
    """Steps s1 -> s2 -> ... (edges e1, e2, ...), one per policy."""
    ids = [f"s{i}" for i in range(1, len(policies) + 1)]
    edges = [edge(f"e{i}", ids[i - 1], ids[i]) for i in range(1, len(ids))]
    return workflow([step(s, p) for s, p in zip(ids, policies, strict=True)], edges)


def job_search() -> dict[str, Any]:
    return copy.deepcopy(JOB_SEARCH_WORKFLOW)


def default_rule_set() -> dict[str, Any]:
    return copy.deepcopy(DEFAULT_RULE_SET)


# --- running things ------------------------------------------------------------------------------


class Run:
    """A run being driven by a test: the current RunState plus the trace appended so far."""

    def __init__(self, clock: CountingClock, outcome: Outcome) -> None:
        self.clock = clock
        self.state: RunState = outcome.state
        self.trace: Trace = [e.model_dump(mode="json") for e in outcome.events]

    def do(self, operation: Callable[..., Outcome], **kwargs: Any) -> Outcome:
        """Apply an engine operation; on success adopt its state and append its events."""
        outcome = operation(self.state, self.clock, **kwargs)
        self.state = outcome.state
        self.trace.extend(e.model_dump(mode="json") for e in outcome.events)
        return outcome


def start_command(workflow: Any = None, rule_sets: Any = (), **kw: Any) -> lifecycle.StartRun:
    return lifecycle.StartRun(workflow=one_step() if workflow is None else workflow, rule_sets=rule_sets, **kw)


@pytest.fixture
def clock() -> CountingClock:
    return CountingClock()


@pytest.fixture
def started(clock: CountingClock) -> Callable[..., RunState]:
    """`started(workflow=..., rule_sets=..., **StartRun fields) -> RunState` (default: one AUTO step)."""

    def factory(workflow: Any = None, rule_sets: Any = (), **kw: Any) -> RunState:
        return lifecycle.start_run(clock, start_command(workflow, rule_sets, **kw)).state

    return factory


@pytest.fixture
def run(clock: CountingClock) -> Callable[..., Run]:
    """Like `started`, but returns a `Run` that also keeps the trace (for hydrate/export tests)."""

    def factory(workflow: Any = None, rule_sets: Any = (), **kw: Any) -> Run:
        return Run(clock, lifecycle.start_run(clock, start_command(workflow, rule_sets, **kw)))

    return factory


def event_types(outcome: Outcome) -> list[str]:
    return [cast(TraceEvent, e).type for e in outcome.events]


def dumped(outcome: Outcome) -> list[dict[str, Any]]:
    return [e.model_dump(mode="json") for e in outcome.events]


# --- a real PostgreSQL ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One throwaway PostgreSQL cluster per session (tests/postgres_cluster.py); take a database of your
    own with `postgres_cluster.new_database()`. Fails under CI=true if PostgreSQL cannot be had."""
    cluster = start_cluster()
    yield cluster
    cluster.destroy()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> str:
    """A fresh, empty database on the session's cluster."""
    return postgres_cluster.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """Each backend in turn, for a test built on a ServerConfig (`server_config(tmp_path, database_url=...)`):
    None (the config's SQLite file) or a fresh PostgreSQL database's URL."""
    if request.param == "sqlite":
        return None
    return str(request.getfixturevalue("postgres_url"))
