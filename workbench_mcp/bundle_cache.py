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
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import orjson

from workbench_mcp.engine.run_state import RunState
from workbench_mcp.protocol.bundle import Bundle

Key = tuple[str, str, str]
"""(tenant, run id, export profile)"""


class BundleCache:
    def __init__(self, *, capacity: int = 32, max_events: int = 2_000, max_bytes: int = 64_000_000) -> None:
        self._capacity = capacity
        self._max_events = max_events
        self._max_bytes = max_bytes
        self._bytes = 0
        self._entries: OrderedDict[Key, tuple[RunState, Bundle, int]] = OrderedDict()

    @property
    def bytes(self) -> int:
        """Compact JSON bytes of the bundles held."""
        return self._bytes

    def get(self, key: Key, state: RunState) -> Bundle | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] is not state:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: Key, state: RunState, bundle: Bundle) -> None:
        self._drop(key)
        trace: Any = bundle.get("trace")
        if self._capacity <= 0 or not isinstance(trace, list) or len(trace) > self._max_events:
            return
        size = _json_size(bundle)
        if size is None or size > self._max_bytes // 4:
            return
        self._entries[key] = (state, bundle, size)
        self._bytes += size
        while len(self._entries) > self._capacity or self._bytes > self._max_bytes:
            _, (_, _, evicted) = self._entries.popitem(last=False)
            self._bytes -= evicted

    def _drop(self, key: Key) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self._bytes -= entry[2]


def _json_size(bundle: Bundle) -> int | None:
    """The bundle's compact JSON size (orjson: ~1 ms per MB, small next to building the bundle)."""
    try:
        return len(orjson.dumps(bundle))
    except (orjson.JSONEncodeError, TypeError):
        return None
