"""Repeated exports of an unchanged run come from the cache; any write, from any store, is seen at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from workbench_mcp.bundle_cache import BundleCache
from workbench_mcp.commands import WriteArtifact
from workbench_mcp.config import ServerConfig
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.principal import Principal
from workbench_mcp.protocol.bundle import integrity_matches, normalize_bundle
from workbench_mcp.protocol.canonical_json import pretty_json
from workbench_mcp.wiring import open_service

WHO = Principal("acme", "alice")


def written(bundle: dict[str, object]) -> int:
    trace = bundle["trace"]
    assert isinstance(trace, list)
    return sum(1 for e in trace if e["type"] == "artifact_written")


async def test_an_unchanged_run_is_exported_once_and_a_write_is_seen(tmp_path: Path) -> None:
    async with open_service(ServerConfig(db_path=tmp_path / "w.db")) as service:
        run_id = (await service.start_run(WHO, "jobSearchWorkflow"))["runId"]
        first = await service.bundles.export_bundle(WHO, run_id)
        again = await service.bundles.export_bundle(WHO, run_id)
        user = await service.bundles.export_bundle(WHO, run_id, profile="user")
        await service.execute(WHO, run_id, WriteArtifact(artifact_key="k", type_id="t", data={"n": 1}))
        after = await service.bundles.export_bundle(WHO, run_id)
    assert again is first  # served from the cache
    assert user is not first  # profiles are cached apart
    assert "engine" not in user
    assert (written(first), written(after)) == (0, 1)
    assert integrity_matches(normalize_bundle(after))


async def test_a_write_by_another_process_invalidates_the_cached_bundle(tmp_path: Path) -> None:
    config = ServerConfig(db_path=tmp_path / "w.db")
    # Two services on one file stand for two `serve --workers` processes.
    async with open_service(config) as one, open_service(config) as other:
        run_id = (await one.start_run(WHO, "jobSearchWorkflow"))["runId"]
        before = await one.bundles.export_bundle(WHO, run_id)
        await other.execute(WHO, run_id, WriteArtifact(artifact_key="k", type_id="t", data={"n": 1}))
        after = await one.bundles.export_bundle(WHO, run_id)
    assert (written(before), written(after)) == (0, 1)


async def test_another_tenant_never_gets_the_cached_bundle(tmp_path: Path) -> None:
    async with open_service(ServerConfig(db_path=tmp_path / "w.db")) as service:
        run_id = (await service.start_run(WHO, "jobSearchWorkflow"))["runId"]
        await service.bundles.export_bundle(WHO, run_id)
        with pytest.raises(WorkbenchError) as refused:
            await service.bundles.export_bundle(Principal("globex", "mallory"), run_id)
    assert refused.value.code is ErrorCode.UNKNOWN_RUN  # the same refusal as without a cache


def test_the_cache_is_bounded() -> None:
    cache = BundleCache(capacity=2, max_events=3)
    states = [object() for _ in range(4)]
    for n, state in enumerate(states):
        cache.put(("t", f"run_{n}", "full"), state, {"trace": []})  # type: ignore[arg-type]
    assert cache.get(("t", "run_0", "full"), states[0]) is None  # type: ignore[arg-type]
    assert cache.get(("t", "run_3", "full"), states[3]) is not None  # type: ignore[arg-type]
    cache.put(("t", "big", "full"), states[0], {"trace": [{}] * 4})  # type: ignore[arg-type]
    assert cache.get(("t", "big", "full"), states[0]) is None  # type: ignore[arg-type]


def test_the_cache_is_bounded_in_bytes() -> None:
    cache = BundleCache(max_bytes=4_000_000)
    states = [object() for _ in range(10)]
    for n, state in enumerate(states):  # 10 bundles of 0.9 MB: 9 MB offered, at most 4 MB kept
        cache.put(("t", f"run_{n}", "full"), state, {"trace": [], "blob": "x" * 900_000})  # type: ignore[arg-type]
    kept = [n for n, state in enumerate(states) if cache.get(("t", f"run_{n}", "full"), state) is not None]  # type: ignore[arg-type]
    assert kept == [6, 7, 8, 9]  # the most recent ones
    assert cache.bytes <= 4_000_000
    cache.put(("t", "huge", "full"), states[0], {"trace": [], "blob": "x" * 1_100_000})  # type: ignore[arg-type]
    assert cache.get(("t", "huge", "full"), states[0]) is None  # type: ignore[arg-type]  # over a quarter of the budget


# --- export texts, kept beside their bundles ----------------------------------------------------------


def test_exports_of_many_big_bundles_retain_a_bounded_amount_of_text() -> None:
    cache = BundleCache()
    for i in range(40):  # 40 runs' big texts: at most 16 M characters kept, each entry pinning its bundle
        bundle: Any = {"run": i}
        cache.keep_text(("t", f"run_{i}", "full"), bundle, "x" * 2_000_000)
    assert cache.text_chars <= 16_000_000


def test_a_kept_text_serves_only_its_own_bundle_and_a_huge_one_is_not_kept() -> None:
    cache = BundleCache(max_text_chars=4_000)
    key = ("t", "run_1", "full")
    bundle: Any = {"a": 1}
    cache.keep_text(key, bundle, "text of a")
    assert cache.text(key, bundle) == "text of a"
    assert cache.text(key, {"a": 1}) is None  # an equal but other bundle: the run changed meanwhile
    assert cache.text(("t", "run_2", "full"), bundle) is None
    cache.keep_text(("t", "big", "full"), bundle, "x" * 1_001)  # over a quarter of the budget
    assert cache.text(("t", "big", "full"), bundle) is None
    assert cache.text_chars == len("text of a")


async def test_a_repeated_export_renders_its_text_once(tmp_path: Path) -> None:
    async with open_service(ServerConfig(db_path=tmp_path / "w.db")) as service:
        run_id = (await service.start_run(WHO, "jobSearchWorkflow"))["runId"]
        bundle, text = await service.bundles.export_bundle_text(WHO, run_id)
        again, text_again = await service.bundles.export_bundle_text(WHO, run_id)
        await service.execute(WHO, run_id, WriteArtifact(artifact_key="k", type_id="t", data={"n": 1}))
        _, after = await service.bundles.export_bundle_text(WHO, run_id)
    assert (again, text_again) == (bundle, text)
    assert text_again is text  # served from the cache
    assert text == pretty_json(bundle)
    assert '"artifact_written"' in after
