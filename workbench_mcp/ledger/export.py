"""Attestation export: the unchanged RunBundle plus a signed DSSE envelope about it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from workbench_mcp.engine.export import export_bundle
from workbench_mcp.engine.run_state import RunState
from workbench_mcp.ledger.attestation import attest
from workbench_mcp.ledger.keys import SigningKey
from workbench_mcp.ledger.store_rows import LedgerExport
from workbench_mcp.protocol.bundle import Bundle

ATTESTATION_META = "io.github.workbench-mcp/attestation"
"""`_meta` key of an export_bundle result that carries the attestation envelope."""


@runtime_checkable
class LedgerStore(Protocol):
    """A run store that keeps the ledger (SqliteRunStore)."""

    @property
    def signer(self) -> SigningKey | None: ...

    async def export_checkpoint(self, tenant_id: str, run_id: str) -> tuple[RunState, LedgerExport]: ...

    async def published_keys(self) -> list[dict[str, Any]]: ...


BudgetReport = Callable[[list[dict[str, Any]]], dict[str, Any] | None]
"""The run's budget usage from its trace (governance computes it; the ledger knows no policy)."""


def attested_bundle(
    state: RunState, export: LedgerExport, signer: SigningKey, budget: BudgetReport | None = None
) -> tuple[Bundle, dict[str, Any]]:
    """The run's full bundle and its attestation. The store checked the rows against their chains and
    checkpoints in the transaction that read them, so the heads it returns are the bundle's."""
    trace = json.loads("[" + ",".join(export.trace_texts) + "]")
    bundle = export_bundle(state, trace, profile="full")
    report = None if budget is None else budget(trace)
    envelope = attest(
        bundle,
        export.audit,
        export.checkpoints,
        signer,
        heads=export.heads,
        governance=export.governance,
        budget=report,
    )
    return bundle, envelope
