"""RunService behaviour that belongs to no single adapter."""

from __future__ import annotations

from pathlib import Path

from workbench_mcp.commands import WriteArtifact
from workbench_mcp.config import ServerConfig
from workbench_mcp.principal import Principal
from workbench_mcp.wiring import open_service

WHO = Principal("acme", "alice")


async def test_a_user_export_does_not_apply_the_demo_registrys_redactions(tmp_path: Path) -> None:
    # The demo registry's redaction paths (protocol/reference_workflow.DEMO_REDACTIONS) describe the demo,
    # not every tenant's data: a production export of an artifact of the same type keeps its values.
    inputs = {"resumeText": "ten years of Rust", "profiles": [{"label": "gh", "url": "https://github.com/a"}]}
    async with open_service(ServerConfig(db_path=tmp_path / "w.db")) as service:
        run_id = (await service.start_run(WHO, "jobSearchWorkflow"))["runId"]
        await service.execute(WHO, run_id, WriteArtifact(artifact_key="in", type_id="parserInputs", data=inputs))
        user = await service.bundles.export_bundle(WHO, run_id, profile="user")
    assert [a["data"] for a in user["artifacts"]] == [inputs]
    written = [e["artifact"]["data"] for e in user["trace"] if e["type"] == "artifact_written"]
    assert written == [inputs]
    assert "metadata" not in user["run"]  # still the user profile
