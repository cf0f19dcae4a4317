"""Storage faults reach the caller as a clear code, quickly, and leave nothing half-written.

- another process's writer holding the database past the busy timeout: STORAGE_UNAVAILABLE, not a
  hang; reads keep working (WAL), and the refused write left no trace;
- a disk that fills up (a file-size limit on the server process: writes past it fail with EFBIG,
  like a full tmpfs): STORAGE_UNAVAILABLE, the server keeps answering, every acknowledged write
  is still there.

Each tool call runs under a generous `asyncio.timeout`, which is the hang check, not a timing assertion.
"""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import httpx

from tests.faults.conftest import auth_headers, big_payload, call_tool, server_process
from tests.servers import running_server, server_config

HANG_GUARD_S = 60


async def test_a_locked_database_refuses_writes_with_storage_unavailable(tmp_path: Path) -> None:
    config = server_config(tmp_path)
    async with running_server(config) as url, httpx.AsyncClient(base_url=url, timeout=HANG_GUARD_S) as http:
        run_id = (await call_tool(http, "start_run", {"workflowId": "jobSearchWorkflow"}))["body"]["runId"]
        write = {"runId": run_id, "artifactKey": "notes", "typeId": "t.v1", "data": {"n": 1}}
        blocker = sqlite3.connect(config.db_path, isolation_level=None, timeout=0)
        try:
            blocker.execute("BEGIN EXCLUSIVE")  # another writer that never lets go
            async with asyncio.timeout(HANG_GUARD_S):
                refused = await call_tool(http, "write_artifact", write)
                read_while_locked = await call_tool(http, "get_run", {"runId": run_id})
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        async with asyncio.timeout(HANG_GUARD_S):
            accepted = await call_tool(http, "write_artifact", write)
    assert refused["isError"]
    assert refused["body"]["code"] == "STORAGE_UNAVAILABLE"
    assert "busy" in refused["body"]["error"]
    assert not read_while_locked["isError"]
    assert not accepted["isError"]
    assert accepted["body"]["version"] == 1  # the refused write stored nothing


async def test_a_full_disk_refuses_writes_with_storage_unavailable_and_keeps_serving(tmp_path: Path) -> None:
    db_path = tmp_path / "workbench.db"
    acknowledged = 0
    with server_process(db_path, file_size_limit=3_000_000) as url:
        async with httpx.AsyncClient(base_url=url, timeout=HANG_GUARD_S) as http, asyncio.timeout(HANG_GUARD_S):
            run_id = (await call_tool(http, "start_run", {"workflowId": "jobSearchWorkflow"}))["body"]["runId"]
            refused = None
            for n in range(40):  # 40 x 256 KiB is far beyond the limit: the loop ends on a refusal
                write = {"runId": run_id, "artifactKey": "blob", "typeId": "t.v1", "data": {"n": n, **big_payload(256)}}
                result = await call_tool(http, "write_artifact", write)
                if result["isError"]:
                    refused = result
                    break
                acknowledged += 1
                assert result["body"]["version"] == acknowledged
            state = await call_tool(http, "get_run", {"runId": run_id})
            health = await http.get("/healthz")
    assert refused is not None, "the file-size limit never stopped a write"
    assert refused["body"]["code"] == "STORAGE_UNAVAILABLE"
    assert health.status_code == 200
    assert not state["isError"]
    written = [e for e in state["body"]["trace"] if e["type"] == "artifact_written"]
    assert [e["artifact"]["version"] for e in written] == list(range(1, acknowledged + 1))


async def test_a_deleted_database_directory_refuses_writes_and_fails_the_health_check(tmp_path: Path) -> None:
    """Deleting (or replacing) the database file while serving: open connections would keep writing into
    the unlinked file and answer OK; instead every write is STORAGE_UNAVAILABLE and /healthz is 503.
    Reads are refused too (the WAL index went with the directory)."""
    directory = tmp_path / "data"
    directory.mkdir()
    config = server_config(tmp_path, db_path=directory / "workbench.db")
    async with running_server(config) as url, httpx.AsyncClient(base_url=url, timeout=HANG_GUARD_S) as http:
        run_id = (await call_tool(http, "start_run", {"workflowId": "jobSearchWorkflow"}))["body"]["runId"]
        assert (await http.get("/healthz")).status_code == 200
        shutil.rmtree(directory)
        write = {"runId": run_id, "artifactKey": "notes", "typeId": "t.v1", "data": {"n": 1}}
        async with asyncio.timeout(HANG_GUARD_S):
            refused = [
                await call_tool(http, "write_artifact", write),
                await call_tool(http, "start_run", {"workflowId": "jobSearchWorkflow"}),
            ]
            rest = await http.delete(f"/api/runs/{run_id}", headers=auth_headers())
            health = await http.get("/healthz")
            # A new file at the same path does not make the old connections write to it.
            directory.mkdir()
            sqlite3.connect(directory / "workbench.db").close()
            still_refused = await call_tool(http, "write_artifact", write)
            exported = await call_tool(http, "export_bundle", {"runId": run_id})
    assert [r["body"]["code"] for r in refused] == ["STORAGE_UNAVAILABLE", "STORAGE_UNAVAILABLE"]
    assert "deleted" in refused[0]["body"]["error"]
    assert rest.status_code == 503
    assert rest.json()["code"] == "STORAGE_UNAVAILABLE"
    assert health.status_code == 503
    assert health.json()["code"] == "STORAGE_UNAVAILABLE"
    assert still_refused["body"]["code"] == "STORAGE_UNAVAILABLE"
    assert exported["body"]["code"] == "STORAGE_UNAVAILABLE"
    assert "restarted" in exported["body"]["error"]
