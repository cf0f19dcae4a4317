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

Bounded: at most `capacity` bundles, least recently used out first, and only bundles of at most
`max_events` trace events (a huge run's bundle would pin too much memory for a rare repeat).
Cached bundles are shared between callers: treat them as read-only.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from workbench_mcp.engine.run_state import RunState
from workbench_mcp.protocol.bundle import Bundle

Key = tuple[str, str, str]
"""(tenant, run id, export profile)"""


class BundleCache:
    def __init__(self, *, capacity: int = 32, max_events: int = 2_000) -> None:
        self._capacity = capacity
        self._max_events = max_events
        self._entries: OrderedDict[Key, tuple[RunState, Bundle]] = OrderedDict()

    def get(self, key: Key, state: RunState) -> Bundle | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] is not state:
            return None
        self._entries.move_to_end(key)
        return entry[1]

    def put(self, key: Key, state: RunState, bundle: Bundle) -> None:
        trace: Any = bundle.get("trace")
        if self._capacity <= 0 or not isinstance(trace, list) or len(trace) > self._max_events:
            self._entries.pop(key, None)
            return
        self._entries[key] = (state, bundle)
        self._entries.move_to_end(key)
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
