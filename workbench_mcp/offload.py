"""CPU-heavy work off the event loop, so one tenant's big bundle does not stall every other tenant's calls.

Verifying or validating a bundle handed in by a caller costs ~0.1 s per MB (schema validation of every
event, canonical JSON, SHA-256) and used to run on the event loop: 3.8 MB of small events held it ~0.8 s
per call, and every other request of every tenant waited. Measured options (README "Security",
"Fairness and heavy work"):

- a thread does not help much: pydantic-core validation and orjson are long C calls that keep the GIL, and
  the loop gets it back only between them;
- a process does: the loop encodes the bundle once (JSON, ~10 ms for 3.8 MB; pickle where JSON cannot, e.g.
  lone surrogates) and waits; a child decodes and does the work in parallel on the other core.

So `Offloader.bundle_check` runs a bundle check inline below `threshold_bytes` (the hop would cost more than
the work) and in a small process pool above it, at most `processes` at a time (the rest wait their turn in
this process, holding only what the request already holds). `in_thread` is for work on live objects that
cannot cheaply cross a process boundary (a cold export of a long run): one such job at a time, so the loop
keeps at least half the GIL. The pool starts on first use (`spawn`: this process has threads; the first
big check waits ~1 s for the child to import), a broken pool is replaced (the job that met it runs in a
thread), and children are recycled after `MAX_TASKS_PER_CHILD` jobs, so their memory stays bounded.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import pickle
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Any, Literal, TypeVar

import pydantic_core

from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.bundle import (
    MAX_BUNDLE_BYTES,
    check_bundle_structure,
    integrity_matches,
    normalize_bundle,
    validate_bundle,
)
from workbench_mcp.protocol.canonical_json import compact_json
from workbench_mcp.protocol.json_depth import check_document_depth

T = TypeVar("T")
Check = Literal["verify", "validate", "full"]
"""verify: the hash only (verify_run_integrity, as the reference); validate: schema and structure
(validate_run_bundle); full: schema, structure, then the hash, what an offline verifier wants (the CLI's
`verify`, the demo page's integrity badge)."""
HEAVY_BYTES = 256 * 1024
"""Bundles whose JSON is at least this long are checked in a child process."""
MAX_TASKS_PER_CHILD = 200

Verdict = tuple[Literal["ok"], dict[str, Any]] | tuple[Literal["error"], str, str]
"""("ok", result body) or ("error", code, message): plain data, so it crosses the process boundary as is."""


def check_bundle(check: Check, bundle: Any, max_bytes: int = MAX_BUNDLE_BYTES) -> Verdict:
    """The one bundle check, on a parsed bundle; errors come back as data. Every caller that checks a bundle
    handed to it (tools, CLI, demo page) comes here, so all refuse the same bundles with the same codes."""
    # Depth first: measuring the size of a too-deep value costs more.
    return _depth_refusal(bundle) or _check_shallow(check, bundle, max_bytes)


def _depth_refusal(bundle: Any) -> Verdict | None:
    try:
        check_document_depth(bundle, "run bundle")
    except WorkbenchError as exc:
        return ("error", exc.code.value, exc.message)
    return None


def _check_shallow(check: Check, bundle: Any, max_bytes: int) -> Verdict:
    """check_bundle after its depth check (callers that already made it skip a second walk of the tree)."""
    try:
        size = len(compact_json(bundle).encode("utf-8", "surrogatepass"))
        if size > max_bytes:
            # The reference re-serializes and refuses bundles over 25 MiB before parsing them.
            raise WorkbenchError(
                ErrorCode.LIMIT_EXCEEDED, f"bundle exceeds maximum size ({max_bytes} bytes serialized)"
            )
        if check == "validate":
            validate_bundle(bundle)
            return ("ok", {"ok": True})
        normalized = normalize_bundle(bundle)
        if check == "full":
            check_bundle_structure(normalized)
        body: dict[str, Any] = {"ok": integrity_matches(normalized)}
        claimed = (normalized.get("integrity") or {}).get("sha256")
        if claimed:
            body["sha256"] = claimed
        return ("ok", body)
    except WorkbenchError as exc:
        return ("error", exc.code.value, exc.message)


def _check_encoded(check: Check, encoded: bytes, as_pickle: bool, max_bytes: int) -> Verdict:
    """The child's side: decode what `_encode` wrote (an equal tree, whose depth the parent checked), then
    check it."""
    bundle = pickle.loads(encoded) if as_pickle else pydantic_core.from_json(encoded)
    return _check_shallow(check, bundle, max_bytes)


def _encode(bundle: Any) -> tuple[bytes, bool]:
    """JSON that decodes to an equal tree: NaN and Infinity as literals (the SDK's parser accepts them in a
    request, and the child must refuse them as the inline check does; orjson would write null), integers of
    any size. ~10 ms for 3.8 MB, where pickle takes ~30 ms; pickle only for what JSON cannot carry (lone
    surrogates)."""
    try:
        return pydantic_core.to_json(bundle, inf_nan_mode="constants"), False
    except pydantic_core.PydanticSerializationError:
        return pickle.dumps(bundle, protocol=pickle.HIGHEST_PROTOCOL), True


class Offloader:
    def __init__(self, *, processes: int = 1, threshold_bytes: int | None = HEAVY_BYTES) -> None:
        """`threshold_bytes=None`: never offload bundle checks (everything runs inline, as before)."""
        if processes < 1:
            raise ValueError("processes must be >= 1")
        self.processes = processes
        self.threshold_bytes = threshold_bytes
        self.offloaded = 0
        """Jobs run off the loop so far (in a child or a thread): what tests and operators can observe."""
        self._pool: ProcessPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        self._lanes: dict[asyncio.AbstractEventLoop, tuple[asyncio.Semaphore, asyncio.Semaphore]] = {}

    async def bundle_check(self, check: Check, bundle: Any, max_bytes: int) -> Verdict:
        if self.threshold_bytes is None:
            return check_bundle(check, bundle, max_bytes)
        refusal = _depth_refusal(bundle)  # before encoding: a too-deep tree is refused, never serialized
        if refusal is not None:
            return refusal
        encoded, as_pickle = _encode(bundle)
        if len(encoded) < self.threshold_bytes:
            return _check_shallow(check, bundle, max_bytes)
        async with self._lane()[0]:
            self.offloaded += 1
            job = partial(_check_encoded, check, encoded, as_pickle, max_bytes)
            try:
                return await asyncio.get_running_loop().run_in_executor(self._executor(), job)
            except BrokenProcessPool:
                # A child died (killed, out of memory): the next job gets a fresh pool, this one a thread.
                self._reset()
                return await asyncio.to_thread(job)

    async def in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in a worker thread, one such job at a time per event loop."""
        async with self._lane()[1]:
            self.offloaded += 1
            return await asyncio.to_thread(fn, *args)

    @property
    def pool_started(self) -> bool:
        return self._pool is not None

    def child_pids(self) -> list[int]:
        pool = self._pool
        processes = getattr(pool, "_processes", None) or {}  # ProcessPoolExecutor keeps no public list
        return list(processes)

    def close(self) -> None:
        """At shutdown: wait for the children to exit, so their queues' semaphores are released."""
        self._reset(wait=True)

    def _lane(self) -> tuple[asyncio.Semaphore, asyncio.Semaphore]:
        # Semaphores belong to one event loop; tests run several loops in one process.
        loop = asyncio.get_running_loop()
        lanes = self._lanes.get(loop)
        if lanes is None:
            for closed in [other for other in self._lanes if other.is_closed()]:
                del self._lanes[closed]
            lanes = self._lanes[loop] = (asyncio.Semaphore(self.processes), asyncio.Semaphore(1))
        return lanes

    def _executor(self) -> ProcessPoolExecutor:
        with self._pool_lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self.processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    max_tasks_per_child=MAX_TASKS_PER_CHILD,
                )
            return self._pool

    def _reset(self, *, wait: bool = False) -> None:
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait, cancel_futures=True)


_shared: Offloader | None = None


def shared_offloader() -> Offloader:
    """One pool per process, shared by every service in it (a server process has one; tests have many)."""
    global _shared
    if _shared is None:
        _shared = Offloader()
    return _shared
