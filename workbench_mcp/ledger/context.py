"""What the store's write path needs from the ledger (kept apart so row_codec imports nothing heavy)."""

from __future__ import annotations

from dataclasses import dataclass

from workbench_mcp.ledger.keys import SigningKey


@dataclass(frozen=True, slots=True)
class LedgerContext:
    """Chain this write; sign its checkpoints with `signer` (None: chain only) at time `at`."""

    signer: SigningKey | None
    at: str
