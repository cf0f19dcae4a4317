"""Results are declared once (workbench_mcp/results.py): the service returns them, the tools advertise them."""

from __future__ import annotations

import json
import typing
from pathlib import Path

from workbench_mcp import results
from workbench_mcp.commands import BeginStep, CompleteStep, EndRun, RequestGate, WriteArtifact
from workbench_mcp.config import ServerConfig
from workbench_mcp.mcp_server.toolsets import all_tools
from workbench_mcp.principal import Principal
from workbench_mcp.review.links import LinkSigner
from workbench_mcp.review.service import ReviewService
from workbench_mcp.service import RunService
from workbench_mcp.wiring import open_service

WHO = Principal("acme", "alice")


def _advertised(service: RunService) -> dict[str, type]:
    """Each tool's output model: the metadata of its `Annotated[CallToolResult, Model]` return annotation."""
    models = {}
    for spec in all_tools():
        hints = typing.get_type_hints(
            spec.make(service, ReviewService(service, LinkSigner.ephemeral())), include_extras=True
        )
        models[spec.name] = hints["return"].__metadata__[0]
    return models


async def test_every_tool_advertises_a_result_model_of_the_service(tmp_path: Path) -> None:
    async with open_service(ServerConfig(db_path=tmp_path / "w.db")) as service:
        models = _advertised(service)
    assert {m.__module__ for m in models.values()} == {"workbench_mcp.results"}
    assert all(issubclass(m, results.Result) for m in models.values())


async def test_the_service_returns_the_models_the_tools_advertise(tmp_path: Path) -> None:
    async with open_service(ServerConfig(db_path=tmp_path / "w.db")) as service:
        models = _advertised(service)
        started = await service.start_run(WHO, "jobSearchWorkflow")
        run_id = started.runId
        returned = {
            "start_run": started,
            "write_artifact": await service.execute(WHO, run_id, WriteArtifact("k", "t", {"n": 1})),
            "request_gate": await service.execute(WHO, run_id, RequestGate("parser1", "PAUSE_BEFORE")),
            "resolve_gate": await service.resolve_gate(
                WHO, run_id, step_id="parser1", gate="PAUSE_BEFORE", decision="approved"
            ),
            "begin_step": await service.execute(WHO, run_id, BeginStep("parser1")),
            "complete_step": await service.execute(WHO, run_id, CompleteStep("parser1")),
            "next_actions": await service.reads.next_actions(WHO, run_id),
            "audit_log": await service.reads.audit_log(WHO, run_id),
            "cancel_run": await service.execute(WHO, run_id, EndRun("cancelled")),
        }
        bundle = await service.bundles.export_bundle(WHO, run_id)
        returned["verify_run_integrity"] = await service.bundles.verify_bundle(bundle)
        returned["validate_run_bundle"] = await service.bundles.validate_bundle(bundle)
    assert {tool: type(result) for tool, result in returned.items()} == {tool: models[tool] for tool in returned}


async def test_a_result_keeps_the_members_and_order_it_was_built_with(tmp_path: Path) -> None:
    """The text item is unchanged by typing: no null for an unset optional member, members in built order."""
    async with open_service(ServerConfig(db_path=tmp_path / "w.db")) as service:
        run_id = (await service.start_run(WHO, "jobSearchWorkflow")).runId
        blocked = await service.execute(WHO, run_id, BeginStep("parser1"))
        ended = await service.execute(WHO, run_id, EndRun("cancelled"))
    assert list(blocked.wire()) == ["ok", "reason", "runId", "stepId", "revision"]
    assert json.dumps(ended.wire()) == json.dumps({"ok": True, "runId": run_id, "status": "cancelled", "revision": 2})
    assert (blocked["ok"], "stepsNeverRun" in ended, ended.get("stepsNeverRun")) == (False, False, None)
    assert {**ended} == dict(ended) == ended.wire()


def test_the_service_itself_holds_only_mutations() -> None:
    """Reads and bundle operations live in reads.py and bundles.py; per-mutation methods became commands,
    except the ones with a path of their own (service.py says why) and request_gate, kept by name."""
    public = {name for name in vars(RunService) if not name.startswith("_")}
    assert public == {
        "execute",
        "store",  # for the review layer's own rows beside the runs (workbench_mcp.review)
        "request_gate",
        "start_run",
        "resolve_gate",
        "raise_budget",
        "record_denial",
        "save_serialized",
        "delete_run",
    }
