"""The RunStore interface: tenant-scoped, append-oriented, one transaction per operation.

Every call takes the tenant. Another tenant's run is indistinguishable from a missing one
(UNKNOWN_RUN, same message). Nothing here knows HTTP, MCP or tokens.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from workbench_mcp.engine.run_state import RunState

EventJson = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who made a mutation; recorded in the audit side table, never inside trace events."""

    principal: str
    tool: str
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """Who appended one event of a run's trace, and when (the audit side table, beside the trace)."""

    seq: int
    event_id: str
    principal: str
    tool: str
    correlation_id: str | None
    at: str


@dataclass(frozen=True, slots=True)
class GovernanceRecord:
    """A governance fact beside the trace (README "Governance"): a refusal, a partial approval, a budget
    raise, the policy a run is pinned to. `detail` is a JSON object."""

    kind: str
    principal: str
    tool: str
    detail: dict[str, Any]
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class StoredGovernanceRecord:
    id: int
    at: str
    revision: int
    """The run's revision once the record was made: it follows the events up to there."""
    record: GovernanceRecord


@dataclass(frozen=True, slots=True)
class ReviewRequest:
    """One reviewer's copy of one review request (README "Human review"): the row a review link points at.
    Keyed by (tenant, request_id, reviewer); the tenant is the store call's."""

    request_id: str
    reviewer: str
    run_id: str
    step_id: str
    gate: str
    reason: str | None
    requested_by: str
    created_at: str
    expires_at: str
    """ISO-8601 UTC, like every timestamp of the protocol."""
    used_at: str | None = None
    """None while the link is unused."""
    decision: str | None = None


@dataclass(frozen=True, slots=True)
class StoreLimits:
    """Quotas every store enforces, each refused with LIMIT_EXCEEDED naming the limit."""

    max_trace_events_per_run: int = 100_000
    max_runs_per_tenant: int = 100_000
    max_artifact_payload_bytes: int = 1_048_576
    """UTF-8 bytes of one stored artifact version's compact JSON `data`."""


@dataclass(frozen=True, slots=True)
class RunPage:
    items: list[dict[str, Any]]
    """SavedRunMeta JSON objects, newest first."""
    next_cursor: str | None


class RunTransaction(Protocol):
    """One operation on one run, serialized against every other writer of that run."""

    @property
    def state(self) -> RunState:
        """The run's current engine state (revision included)."""
        ...

    async def append(self, new_state: RunState, events: Sequence[EventJson], actor: Actor) -> None:
        """Persist exactly what the operation changed: the new events, new artifact versions,
        idempotency records, rule sets and the run row. Committed when the context exits cleanly."""
        ...

    async def governance(self) -> list[StoredGovernanceRecord]:
        """The run's governance records as of this transaction (no other writer can add one meanwhile)."""
        ...

    async def spend_events(self) -> list[EventJson]:
        """The run's model_io and tool_call events, in trace order (budget accounting)."""
        ...

    def add_governance(self, record: GovernanceRecord) -> None:
        """Recorded with the commit, also when the operation appends no event."""
        ...

    async def completer(self, step_id: str) -> str | None:
        """The principal that recorded the step's latest completion (separation of duties)."""
        ...

    def add_review_requests(self, requests: Sequence[ReviewRequest]) -> None:
        """Stored with the commit (requests of this run; also when the operation appends no event)."""
        ...

    async def use_review_request(self, request_id: str, reviewer: str, *, decision: str, at: str) -> bool:
        """Mark this run's review request of `reviewer` used, for `decision`, as part of this transaction: True
        if it was unused (the mark commits or rolls back with the decision), False if missing or already used."""
        ...


class RunStore(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    def run_transaction(
        self, tenant_id: str, run_id: str, *, expected_revision: int | None = None
    ) -> AbstractAsyncContextManager[RunTransaction]:
        """UNKNOWN_RUN if the tenant has no such run; REVISION_CONFLICT if expected_revision differs."""
        ...

    async def create_run(
        self,
        tenant_id: str,
        state: RunState,
        events: Sequence[EventJson],
        actor: Actor,
        *,
        request_id: str | None = None,
        governance: Sequence[GovernanceRecord] = (),
    ) -> str:
        """Store a new run (with its governance records, e.g. the pinned policy); with a request_id already
        used by this tenant, return that run's id instead."""
        ...

    async def load_state(self, tenant_id: str, run_id: str) -> RunState: ...

    async def load_trace(self, tenant_id: str, run_id: str) -> list[EventJson]: ...

    async def load_run(self, tenant_id: str, run_id: str, *, fresh: bool = False) -> tuple[RunState, list[EventJson]]:
        """State and trace read in ONE snapshot: two separate loads can straddle a write and pair
        revision N with N+1 events (use this for GET /runs/{id} and exports). `fresh` decodes the
        state from its rows even when a cached copy is still valid (integrity checks of what is stored)."""
        ...

    async def list_runs(self, tenant_id: str, *, limit: int = 100, cursor: str | None = None) -> RunPage: ...

    async def audit_log(self, tenant_id: str, run_id: str) -> list[AuditRecord]:
        """Who appended each event of the run, in trace order; UNKNOWN_RUN like every read."""
        ...

    async def replace_run(
        self,
        tenant_id: str,
        state: RunState,
        trace: Sequence[EventJson],
        actor: Actor,
        *,
        expected_revision: int | None = None,
    ) -> None:
        """Upsert from a serialized state (REST PUT). Runs are keyed by (tenant, run id), so a PUT of an
        id that another tenant also uses creates or replaces the caller's own run and never touches
        the other tenant's (D3), without revealing that it exists."""
        ...

    async def delete_run(self, tenant_id: str, run_id: str, *, expected_revision: int | None = None) -> bool:
        """False if the tenant has no such run (another tenant's included); with expected_revision,
        REVISION_CONFLICT unless the run exists at that revision. Its audit and governance rows go too."""
        ...

    async def data_version(self) -> int:
        """A number that changes whenever anyone (this process or another) commits to the store."""
        ...

    async def governance_log(self, tenant_id: str, run_id: str) -> list[StoredGovernanceRecord]:
        """The run's governance records, oldest first (UNKNOWN_RUN like every read)."""
        ...

    async def record_governance(self, tenant_id: str, run_id: str | None, record: GovernanceRecord) -> None:
        """One record in a transaction of its own (a refusal); kept under the run only if the tenant has it."""
        ...

    async def review_requests(self, tenant_id: str, run_id: str) -> list[ReviewRequest]:
        """The run's review requests, oldest first (UNKNOWN_RUN like every read). They go with the run."""
        ...

    async def load_state_and_reviews(self, tenant_id: str, run_id: str) -> tuple[RunState, list[ReviewRequest]]:
        """load_state and review_requests in ONE snapshot and one round trip (next_actions: a second read
        doubled its latency)."""
        ...

    async def review_request(self, tenant_id: str, request_id: str, reviewer: str) -> ReviewRequest | None:
        """One reviewer's request, None if the tenant has none with that id for that reviewer."""
        ...
