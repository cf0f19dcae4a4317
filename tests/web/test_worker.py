"""What every serving process sets up: memory freed by big requests goes back to the OS."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


FREED = textwrap.dedent(
    """
    import sys
    def rss_mib():
        return int(open("/proc/self/statm").read().split()[1]) * 4096 / 2**20
    if sys.argv[1] == "tuned":
        from workbench_mcp.web.worker import return_big_buffers_to_the_os
        assert return_big_buffers_to_the_os()
    big = bytearray(20 * 2**20)
    del big  # a big answer freed: untuned, glibc now serves blocks up to 20 MiB from the heap
    blocks = [bytearray(2**20) for _ in range(80)]  # the next big request's buffers
    pinned = [bytearray(1000) for _ in range(1000)]  # live objects allocated after them
    held = rss_mib()
    del blocks
    print(held - rss_mib())
    """
)


def _released_mib(mode: str) -> float:
    result = subprocess.run(
        [sys.executable, "-c", FREED, mode], capture_output=True, text=True, timeout=60, cwd=REPO, check=True
    )
    return float(result.stdout)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's allocator is what gets tuned")
def test_buffers_of_a_big_request_are_returned_to_the_os() -> None:
    assert _released_mib("untuned") < 10  # the trap the tuning removes: 80 MiB freed, none returned
    assert _released_mib("tuned") > 60
