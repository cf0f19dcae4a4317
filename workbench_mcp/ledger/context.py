"""What the store's write path needs from the ledger (kept apart so row_codec imports nothing heavy)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from workbench_mcp.ledger.checkpoints import Heads
from workbench_mcp.ledger.keys import SigningKey


class HeadsCache:
    """Per store, `(tenant, run) -> (state_tag, Heads)`: the chain heads a committed write left.

    An entry is trusted only while the run row still carries the tag of the write that produced it,
    as read inside the next write's transaction: any later write (another process, a PUT, a delete
    and re-create of the same id) gives the row a new random tag, so a stale entry never matches and
    the heads are read from the rows instead. An entry of a write that rolled back carries a tag no
    committed row has. Used only on the store's writer, under its write lock."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._entries: OrderedDict[tuple[str, str], tuple[int, Heads]] = OrderedDict()

    def get(self, key: tuple[str, str], tag: int | None) -> Heads | None:
        entry = self._entries.get(key)
        if entry is None or tag is None or entry[0] != tag:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: tuple[str, str], tag: int, heads: Heads) -> None:
        if self._capacity <= 0:
            return
        self._entries[key] = (tag, heads)
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)


@dataclass(frozen=True, slots=True)
class LedgerContext:
    """Chain this write; sign its checkpoints with `signer` (None: chain only) at time `at`; `heads`:
    the store's cache of chain heads (None: always read the previous links)."""

    signer: SigningKey | None
    at: str
    heads: HeadsCache | None = None
