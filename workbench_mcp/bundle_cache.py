"""Exports of unchanged runs, kept: a bundle is a pure function of the run's stored state.

Agents and UIs fetch the bundle of the same run again and again (to check progress, to verify it,
through `runs://` reads); the reference recomputes it every time. Recomputing costs a read and
parse of the whole trace, the canonical JSON of the whole bundle and its SHA-256: measured ~1 ms
for 200 events, growing with the trace. This cache answers a repeat with one read of the run row.

Validity: the store hands back the *same* immutable RunState object for a run for as long as
nobody (in this process or another) has written it; any write gives the run a new row tag and the
next read a new object. That object is therefore the version of the cached entry: a hit needs
`entry.state is state`. A store without that property only ever misses. Entries hold their state,
so an id can never be reused while cached.

Bounded: at most `capacity` bundles and `max_bytes` of their compact JSON, least recently used out
first, and only bundles of at most `max_events` trace events and a quarter of `max_bytes` (a huge
run's bundle would pin too much memory for a rare repeat: 32 bundles of 36 MB runs held 1+ GB).
Cached bundles are shared between callers: treat them as read-only.

Texts: the `JSON.stringify(bundle, null, 2)` text of an export (the MCP text item, `runs://` reads)
under the same key, used only while it belongs to the very bundle being served; at most `capacity`
texts and `max_text_chars` characters, none over a quarter of that.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple, TypeVar

import orjson
from cachetools import LRUCache

from workbench_mcp.engine.run_state import RunState
from workbench_mcp.protocol.bundle import Bundle

Key = tuple[str, str, str]
"""(tenant, run id, export profile)"""
V = TypeVar("V")


class _Kept(NamedTuple):
    state: RunState
    bundle: Bundle
    size: int


class _Text(NamedTuple):
    bundle: Bundle
    text: str


class BundleCache:
    def __init__(
        self,
        *,
        capacity: int = 32,
        max_events: int = 2_000,
        max_bytes: int = 64_000_000,
        max_text_chars: int = 16_000_000,
    ) -> None:
        self._capacity = capacity
        self._max_events = max_events
        self._max_bytes = max_bytes
        self._max_text_chars = max_text_chars
        # Two budgets, one rule: least recently used out first, each bounded by count and by size.
        self._bundles: _CountedLRU[_Kept] = _CountedLRU(capacity, max_bytes, lambda kept: kept.size)
        self._texts: _CountedLRU[_Text] = _CountedLRU(capacity, max_text_chars, lambda kept: len(kept.text))

    @property
    def bytes(self) -> int:
        """Compact JSON bytes of the bundles held."""
        return int(self._bundles.currsize)

    @property
    def text_chars(self) -> int:
        """Characters of the texts held."""
        return int(self._texts.currsize)

    def get(self, key: Key, state: RunState) -> Bundle | None:
        entry = self._bundles.get(key)
        return entry.bundle if entry is not None and entry.state is state else None

    def put(self, key: Key, state: RunState, bundle: Bundle) -> None:
        self._bundles.pop(key, None)
        trace: Any = bundle.get("trace")
        if self._capacity <= 0 or not isinstance(trace, list) or len(trace) > self._max_events:
            return
        size = _json_size(bundle)
        if size is None or size > self._max_bytes // 4:
            return
        self._bundles[key] = _Kept(state, bundle, size)

    def text(self, key: Key, bundle: Bundle) -> str | None:
        """The kept text of exactly this bundle object, if any."""
        entry = self._texts.get(key)
        return entry.text if entry is not None and entry.bundle is bundle else None

    def keep_text(self, key: Key, bundle: Bundle, text: str) -> None:
        self._texts.pop(key, None)
        if self._capacity > 0 and len(text) <= self._max_text_chars // 4:
            self._texts[key] = _Text(bundle, text)


class _CountedLRU(LRUCache[Key, V]):
    """An LRU cache bounded by the sum of its entries' sizes AND by their number."""

    def __init__(self, capacity: int, budget: int, size_of: Callable[[V], int]) -> None:
        super().__init__(max(budget, 1), getsizeof=size_of)
        self._capacity = max(capacity, 1)

    def __setitem__(self, key: Key, value: V) -> None:
        super().__setitem__(key, value)
        while len(self) > self._capacity:
            self.popitem()


def _json_size(bundle: Bundle) -> int | None:
    """The bundle's compact JSON size (orjson: ~1 ms per MB, small next to building the bundle)."""
    try:
        return len(orjson.dumps(bundle))
    except (orjson.JSONEncodeError, TypeError):
        return None
