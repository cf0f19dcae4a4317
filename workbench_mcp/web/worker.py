"""What every serving process does once: the app factory `serve --workers N` imports (uvicorn spawns fresh
interpreters), and the garbage collector settings of a long-running server."""

from __future__ import annotations

import ctypes
import gc
import os
import platform

from starlette.applications import Starlette

from workbench_mcp.config import config_from_json
from workbench_mcp.log_setup import configure_logging
from workbench_mcp.web.app import create_app

SERVE_CONFIG_ENV = "WORKBENCH_SERVE_CONFIG"
"""Set by the parent `serve` process only; it carries the resolved configuration, secret included."""


def create_worker_app() -> Starlette:
    text = os.environ.get(SERVE_CONFIG_ENV)
    if not text:
        raise RuntimeError(f"{SERVE_CONFIG_ENV} is not set: start workers with `workbench-mcp serve --workers N`")
    config = config_from_json(text)
    configure_logging(config.log_level)
    app = create_app(config)
    tune_gc_for_serving()
    return app


GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc_for_serving() -> None:
    """Fewer, later cyclic collections, and none over the objects of startup.

    One MCP call allocates thousands of container objects, so with the default thresholds (700, 10, 10)
    the collector ran every few requests and a full collection, walking every cached run state and
    bundle, every few seconds: 60-90 ms pauses that were the p99 of get_run and export_bundle (measured
    at c=8: export p99 90 ms -> 21 ms, throughput +10-30 %). Request garbage is freed by reference
    counting; cycles still go, just in bigger batches (RSS over the 60 s load suite stays flat).
    """
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()  # modules, the app and its route tables live for the whole process: never scan them
    return_big_buffers_to_the_os()


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
MMAP_THRESHOLD_BYTES = 128 * 1024


def return_big_buffers_to_the_os() -> bool:
    """Fix glibc's mmap threshold at its initial 128 KiB (True when set).

    glibc raises the threshold each time a large mmap'ed block is freed (up to 32 MiB), so after the
    first big export every later multi-megabyte buffer (request bodies, bundles, the JSON of an export
    answer) comes from the heap, and a heap with live objects above it is never trimmed: RSS stayed
    at its peak. Fixed, such buffers are mmap'ed and given back when freed (bench/memory_probe.py:
    10 exports of a 36 MB bundle grew RSS by 85 MiB for good, 52 MiB with this).
    """
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))
