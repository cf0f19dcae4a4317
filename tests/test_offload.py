"""Heavy work off the event loop: big bundle checks go to a child process, long exports to a thread.

No timing here (speed lives in `python -m bench fairness --noise heavy`): these tests check that the
heavy functions take the offload path, and that what comes back is exactly what the inline path gives.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import running_server, server_config, token
from workbench_mcp.commands import WriteArtifact
from workbench_mcp.config import ServerConfig
from workbench_mcp.offload import Offloader, check_bundle
from workbench_mcp.principal import Principal
from workbench_mcp.service import RunService
from workbench_mcp.web.app import create_app
from workbench_mcp.wiring import open_service

WHO = Principal("acme", subject="alice")
MAX = 26_214_400


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[RunService]:
    async with open_service(ServerConfig(db_path=tmp_path / "offload.db")) as opened:
        yield opened


async def big_bundle(service: RunService, size: int = 300_000) -> dict[str, Any]:
    run_id = (await service.start_run(WHO, "jobSearchWorkflow"))["runId"]
    await service.execute(WHO, run_id, WriteArtifact(artifact_key="big", type_id="t.v1", data={"text": "z" * size}))
    return await service.bundles.export_bundle(WHO, run_id)


async def test_a_big_bundle_is_checked_in_a_child_process_with_the_inline_verdict(service: RunService) -> None:
    bundle = await big_bundle(service)
    offloader = Offloader(threshold_bytes=256 * 1024)
    try:
        verdicts = [await offloader.bundle_check(check, bundle, MAX) for check in ("verify", "validate")]
        assert offloader.offloaded == 2
        assert offloader.pool_started
    finally:
        offloader.close()
    assert verdicts == [check_bundle("verify", bundle, MAX), check_bundle("validate", bundle, MAX)]
    assert verdicts[0] == ("ok", {"ok": True, "sha256": bundle["integrity"]["sha256"]})


async def test_failures_come_back_from_the_child_as_verdicts(service: RunService) -> None:
    bundle = await big_bundle(service)
    tampered = {**bundle, "run": {**bundle["run"], "status": "failed"}}
    broken = {**bundle, "trace": "not a list"}
    # A lone surrogate: JSON cannot carry it, so this one crosses the process boundary pickled.
    surrogate = {**bundle, "run": {**bundle["run"], "metadata": {"note": "\ud800"}}}
    # NaN parses from a request body; the child must refuse it as the inline check does, not see null.
    nan = {**bundle, "run": {**bundle["run"], "metadata": {"score": float("nan")}}}
    offloader = Offloader(threshold_bytes=256 * 1024)
    try:
        results = [await offloader.bundle_check("verify", b, MAX) for b in (tampered, broken, surrogate, nan)]
        too_big = await offloader.bundle_check("validate", bundle, 1000)
        assert offloader.offloaded == 5
    finally:
        offloader.close()
    assert results[0] == ("ok", {"ok": False, "sha256": bundle["integrity"]["sha256"]})
    assert results[1][:2] == ("error", "INVALID_RUN_BUNDLE")
    assert results[2] == check_bundle("verify", surrogate, MAX)
    assert results[3] == check_bundle("verify", nan, MAX)
    assert results[3][:2] == ("error", "UNSAFE_NUMBER")
    assert too_big == ("error", "LIMIT_EXCEEDED", "bundle exceeds maximum size (1000 bytes serialized)")


async def test_a_dead_child_costs_no_verdict_and_the_next_job_gets_a_fresh_pool(service: RunService) -> None:
    bundle = await big_bundle(service)
    expected = check_bundle("verify", bundle, MAX)
    offloader = Offloader(threshold_bytes=256 * 1024)
    try:
        assert await offloader.bundle_check("verify", bundle, MAX) == expected
        for pid in offloader.child_pids():
            os.kill(pid, signal.SIGKILL)  # as the OOM killer would
        assert await offloader.bundle_check("verify", bundle, MAX) == expected  # answered from a thread
        assert not offloader.pool_started
        assert await offloader.bundle_check("verify", bundle, MAX) == expected
        assert offloader.pool_started
    finally:
        offloader.close()


async def test_small_bundles_stay_inline_and_a_zero_threshold_never_offloads(service: RunService) -> None:
    bundle = await big_bundle(service, size=10)
    large = await big_bundle(service)
    inline, never = Offloader(), Offloader(threshold_bytes=None)
    assert await inline.bundle_check("verify", bundle, MAX) == check_bundle("verify", bundle, MAX)
    assert await never.bundle_check("verify", large, MAX) == check_bundle("verify", large, MAX)
    assert (inline.offloaded, never.offloaded, inline.pool_started, never.pool_started) == (0, 0, False, False)


async def test_in_thread_runs_the_function_on_another_thread() -> None:
    offloader = Offloader()
    ran_on = await offloader.in_thread(threading.get_ident)
    assert ran_on != threading.get_ident()
    assert offloader.offloaded == 1


async def test_the_service_checks_big_bundles_and_exports_long_runs_off_the_loop(service: RunService) -> None:
    bundle = await big_bundle(service)
    before = service.offload.offloaded
    assert (await service.bundles.verify_bundle(bundle)).wire() == {"ok": True, "sha256": bundle["integrity"]["sha256"]}
    assert (await service.bundles.validate_bundle({**bundle, "trace": []})).wire() == {"ok": True}
    assert service.offload.offloaded == before + 2
    run_id = (await service.start_run(WHO, "jobSearchWorkflow"))["runId"]
    service.bundles.heavy_export_events = 1  # so this cold export of a fresh run goes to a thread
    exported = await service.bundles.export_bundle(WHO, run_id)
    assert service.offload.offloaded == before + 3
    assert (await service.bundles.verify_bundle(exported))["ok"] is True


async def test_verify_run_integrity_over_http_takes_the_child_process(tmp_path: Path) -> None:
    config = server_config(tmp_path)
    app = create_app(config)
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "Authorization": f"Bearer {token('alice', org='acme')}",
    }
    async with open_service(ServerConfig(db_path=tmp_path / "source.db")) as source:
        bundle = await big_bundle(source)
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/call"}
    async with running_server(config, app) as url, httpx.AsyncClient(base_url=url, timeout=60) as http:
        results = []
        for name in ("verify_run_integrity", "validate_run_bundle"):
            params = {"name": name, "arguments": {"bundle": bundle}}
            results.append((await http.post("/api/mcp", json={**body, "params": params}, headers=headers)).json())
        offloaded = app.state.service.offload.offloaded
    assert results[0]["result"]["structuredContent"] == {"ok": True, "sha256": bundle["integrity"]["sha256"]}
    assert results[1]["result"]["structuredContent"] == {"ok": True}
    assert offloaded == 2
