"""Command objects through RunService.execute: one path for a mutation, audited under the command's tool."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench_mcp.commands import Annotate, BeginSpan, EndSpan
from workbench_mcp.config import ServerConfig
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.principal import Principal
from workbench_mcp.wiring import open_service

WHO = Principal("acme", "alice")


async def test_commands_record_their_events_under_their_tool(tmp_path: Path) -> None:
    async with open_service(ServerConfig(db_path=tmp_path / "w.db")) as service:
        run_id = (await service.start_run(WHO, "jobSearchWorkflow"))["runId"]
        span = await service.execute(WHO, run_id, BeginSpan(name="s", kind="client"), correlation_id="c1")
        ended = await service.execute(WHO, run_id, EndSpan(span_id=span["spanId"], status="ok"))
        note = await service.execute(WHO, run_id, Annotate(text="hi", tags=["t"]))
        run = await service.reads.get_run(WHO, run_id)
        audit = await service.reads.audit_log(WHO, run_id)
    assert (span["revision"], ended["revision"], note["revision"]) == (2, 3, 4)
    started, finished, annotated = run["trace"][-3:]
    assert (started["type"], started["spanId"], started["correlationId"]) == ("span_started", span["spanId"], "c1")
    assert (finished["type"], finished["correlationId"]) == ("span_ended", "c1")  # the start's, as documented
    assert (annotated["type"], annotated["text"], annotated["tags"]) == ("annotation", "hi", ["t"])
    tools = [r.get("tool") for r in audit["records"]]
    assert tools[-3:] == ["begin_span", "end_span", "annotate"]


async def test_a_command_on_a_stale_revision_changes_nothing(tmp_path: Path) -> None:
    async with open_service(ServerConfig(db_path=tmp_path / "w.db")) as service:
        run_id = (await service.start_run(WHO, "jobSearchWorkflow"))["runId"]
        await service.execute(WHO, run_id, Annotate(text="first"))
        with pytest.raises(WorkbenchError) as refused:
            await service.execute(WHO, run_id, Annotate(text="late"), expected_revision=1)
        run = await service.reads.get_run(WHO, run_id)
    assert refused.value.code is ErrorCode.REVISION_CONFLICT
    assert (run["revision"], run["trace"][-1]["text"]) == (2, "first")
