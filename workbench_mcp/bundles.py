"""Bundle operations: export a tenant's run (cached, long runs off the event loop), attest it, and check a
bundle handed in (verify_run_integrity, validate_run_bundle). RunService.bundles is the instance adapters use.

Every check of a bundle handed in goes through offload.check_bundle (here via Offloader.bundle_check, the CLI's
`verify` and the demo page directly), so all refuse the same bundles with the same codes; the server's size
limit is `Limits.max_bundle_bytes`, whose default is the reference's 25 MiB the offline CLI applies.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from workbench_mcp import results
from workbench_mcp.bundle_cache import BundleCache
from workbench_mcp.engine.export import Profile, export_bundle
from workbench_mcp.engine.hydrate import to_serialized
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.governance import gatekeeper, policy
from workbench_mcp.ledger.export import LedgerStore, attested_bundle
from workbench_mcp.offload import Offloader
from workbench_mcp.principal import Principal
from workbench_mcp.protocol.bundle import Bundle
from workbench_mcp.protocol.canonical_json import pretty_json
from workbench_mcp.settings import Limits
from workbench_mcp.store.run_store import RunStore

HEAVY_EXPORT_EVENTS = 500
"""A cold export of a run with at least this many trace events runs in a worker thread (offload.py)."""


class RunBundles:
    def __init__(self, store: RunStore, limits: Limits, offload: Offloader) -> None:
        self._store = store
        self._limits = limits
        self.offload = offload
        self.heavy_export_events = HEAVY_EXPORT_EVENTS
        self.ledger = store if isinstance(store, LedgerStore) else None
        self._cache = BundleCache()

    # --- exports ---------------------------------------------------------------------------------------

    async def export_bundle(self, who: Principal, run_id: str, *, profile: Profile = "full") -> Bundle:
        """The run's bundle; an unchanged run's comes from the cache (workbench_mcp/bundle_cache.py). No
        redactions: the demo registry's are a property of the demo, not of this server's exports."""
        key = (who.tenant_id, run_id, profile)
        cached = self._cache.get(key, await self._store.load_state(who.tenant_id, run_id))
        if cached is not None:
            return cached
        state, trace = await self._store.load_run(who.tenant_id, run_id)
        export = partial(export_bundle, state, trace, profile=profile)
        bundle = await self.offload.in_thread(export) if len(trace) >= self.heavy_export_events else export()
        self._cache.put(key, state, bundle)
        return bundle

    async def export_bundle_text(
        self, who: Principal, run_id: str, *, profile: Profile = "full", audit: results.AuditLog | None = None
    ) -> tuple[Bundle, str]:
        """The bundle and its text, `JSON.stringify(bundle, null, 2)` as the reference's; an unchanged
        run's text comes from the bundle cache too, a long run's is rendered off the event loop.

        `audit` (export_bundle's audit=true) is added outside the hashed members (verifiers drop unknown
        members before hashing, protocol 5.4); such a text is rendered each time, never cached."""
        bundle = await self.export_bundle(who, run_id, profile=profile)
        heavy = len(bundle["trace"]) >= self.heavy_export_events
        if audit is not None:
            with_audit: Bundle = {**bundle, "audit": audit.wire()}
            text = await self.offload.in_thread(pretty_json, with_audit) if heavy else pretty_json(with_audit)
            return with_audit, text
        key = (who.tenant_id, run_id, profile)
        cached_text = self._cache.text(key, bundle)
        if cached_text is None:
            cached_text = await self.offload.in_thread(pretty_json, bundle) if heavy else pretty_json(bundle)
            self._cache.keep_text(key, bundle, cached_text)
        return bundle, cached_text

    async def export_stored_bundle(self, who: Principal, run_id: str) -> tuple[dict[str, Any], Bundle]:
        """The serialized state and full bundle decoded from the stored rows now, past every cache:
        for checks of what is stored (the demo page's integrity badge), not for serving exports."""
        state, trace = await self._store.load_run(who.tenant_id, run_id, fresh=True)
        return to_serialized(state, trace), export_bundle(state, trace, profile="full")

    async def export_attestation(
        self, who: Principal, run_id: str, *, profile: Profile = "full"
    ) -> tuple[Bundle, dict[str, Any]]:
        """The full bundle and a DSSE envelope attesting it (workbench_mcp/ledger); signs an export checkpoint."""
        if profile != "full":
            raise WorkbenchError(ErrorCode.INVALID_INPUT, "an attestation covers the full bundle; use profile=full")
        signer = None if self.ledger is None else self.ledger.signer
        if self.ledger is None or signer is None:
            raise WorkbenchError(ErrorCode.INVALID_INPUT, "this server has no signing key, so it cannot attest runs")
        state, export = await self.ledger.export_checkpoint(who.tenant_id, run_id)
        # The pinned budget as of the export (records after its last governance row are ignored).
        last_id = export.governance[-1]["id"] if export.governance else 0
        records = [r for r in await self._store.governance_log(who.tenant_id, run_id) if r.id <= last_id]
        pin = policy.pinned(records)
        return attested_bundle(state, export, signer, partial(gatekeeper.budget_report, pin=pin))

    # --- checks of a bundle handed in ------------------------------------------------------------------

    async def verify_bundle(self, bundle: Any) -> results.IntegrityVerdict:
        """verify_run_integrity: {ok, sha256?}; an unparseable bundle raises. Big bundles go to a child process."""
        verdict = await self.offload.bundle_check("verify", bundle, self._limits.max_bundle_bytes)
        if verdict[0] == "error":
            raise WorkbenchError(ErrorCode(verdict[1]), verdict[2])
        return results.IntegrityVerdict(**verdict[1])

    async def validate_bundle(self, bundle: Any) -> results.ValidationVerdict:
        """validate_run_bundle: {ok: true} or, like the reference, the failure as a verdict {ok: false, error, code}."""
        verdict = await self.offload.bundle_check("validate", bundle, self._limits.max_bundle_bytes)
        if verdict[0] == "error":
            return results.ValidationVerdict(ok=False, error=verdict[2], code=verdict[1])
        return results.ValidationVerdict(**verdict[1])
