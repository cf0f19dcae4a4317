"""The README's webhook receiver, run as written against real deliveries: it accepts a signed notice once,
and refuses a forged signature and a replayed (old) timestamp."""

from __future__ import annotations

import hashlib
import hmac
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from tests.review.conftest import LINK, WEBHOOK_SECRET, World, webhook
from tests.review.test_webhook import deliver_one
from tests.servers import free_port

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_receiver() -> str:
    """The README's Python receiver: the one ```python block that reads the Workbench-Signature header."""
    blocks: list[str] = re.findall(r"```python\n(.*?)\n```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    [block] = [b for b in blocks if "Workbench-Signature" in b and "HTTPServer" in b]
    return block


def _wait_listening(port: int, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the README receiver exited: {process.communicate()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("the README receiver never listened")


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    script = tmp_path / "receiver.py"
    script.write_text(readme_receiver(), encoding="utf-8")
    port = free_port()
    env = {"WORKBENCH_WEBHOOK_SECRET": WEBHOOK_SECRET, "PORT": str(port), "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen(
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        _wait_listening(port, process)
        yield f"http://127.0.0.1:{port}/hooks/workbench", process
    finally:
        process.kill()
        process.wait(timeout=30)
        for pipe in (process.stdout, process.stderr):
            if pipe is not None:
                pipe.close()


async def test_the_readme_receiver_accepts_a_real_delivery_and_refuses_forgeries_and_replays(
    world: World, receiver: tuple[str, subprocess.Popen[str]]
) -> None:
    url, process = receiver
    await deliver_one(world, webhook(url))
    await deliver_one(world, webhook(url, secret="a-different-secret-of-more-than-32-bytes", max_attempts=1))
    statuses = [(r["detail"]["status"], r["detail"]["httpStatus"]) for r in await world.deliveries()]
    assert statuses == [("delivered", 204), ("failed", 400)]

    body = b'{"id":"whd_replayed","runId":"r","stepId":"s","gate":"g","reviewer":"x","reviewLink":"l","expiresAt":"e"}'
    async with httpx2.AsyncClient() as client:
        for age_s, expected in ((3600, 400), (0, 204), (0, 204)):  # too old; fresh; the same id again
            stamp = int(time.time()) - age_s
            mac = hmac.new(WEBHOOK_SECRET.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
            answer = await client.post(url, content=body, headers={"Workbench-Signature": f"t={stamp},v1={mac}"})
            assert answer.status_code == expected

    process.kill()
    out, _ = process.communicate(timeout=30)
    lines = out.splitlines()
    assert lines[0] == (
        f"review {world.run_id} parser1 PAUSE_BEFORE by user_bob: {LINK} (expires 2026-12-04T10:00:00.000Z)"
    )
    assert lines[1:] == ["review r s g by x: l (expires e)"]  # once, though delivered twice
