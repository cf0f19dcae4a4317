"""`workbench-mcp review-link` (a real process): mints a link the server's ReviewService opens, for the dev
token's tenant by default; a run it cannot see is a one-line error, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.test_cli import cli_env
from workbench_mcp.config import ServerConfig
from workbench_mcp.principal import Principal
from workbench_mcp.review.links import LinkSigner, load_or_create_key
from workbench_mcp.review.service import ReviewService
from workbench_mcp.wiring import build_review, open_service

DEV = Principal("user:dev", "dev")


async def _started(db: Path, who: Principal = DEV) -> str:
    async with open_service(ServerConfig(db_path=db)) as service:
        run_id: str = (await service.start_run(who, "jobSearchWorkflow"))["runId"]
    return run_id


def _exists(path: Path) -> bool:
    return path.exists()


def _review_link(db: Path, run_id: str, *extra: str, **env: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "workbench_mcp", "review-link", "--db", str(db), "--run", run_id]
    command += ["--step", "parser1", "--gate", "PAUSE_BEFORE", "--reviewer", "bob", *extra]
    return subprocess.run(command, env=cli_env(**env), capture_output=True, text=True, timeout=60, cwd=db.parent)


async def test_review_link_prints_a_link_the_server_opens(tmp_path: Path) -> None:
    db = tmp_path / "workbench.db"
    run_id = await _started(db)

    result = _review_link(db, run_id, "--public-url", "https://wb.example", "--reason", "check the parser")

    assert result.returncode == 0, result.stderr
    link = result.stdout.strip()
    assert link.startswith("https://wb.example/review/v1.")
    assert f"for bob on run {run_id}" in result.stderr
    config = ServerConfig(db_path=db)
    async with open_service(config) as service:
        review = build_review(config, service)
        context = await review.open_link(link.rsplit("/", 1)[1])
        actions = await service.reads.next_actions(DEV, run_id)
    assert (context.tenant_id, context.reviewer, context.reason) == ("user:dev", "bob", "check the parser")
    assert context.requested_by.startswith("cli:")
    assert actions["pendingGates"][0]["review"]["reviewers"] == ["bob"]


async def test_a_run_of_another_tenant_is_a_one_line_error(tmp_path: Path) -> None:
    db = tmp_path / "workbench.db"
    run_id = await _started(db, Principal("org_other", "eve"))

    default_tenant = _review_link(db, run_id)
    missing = _review_link(db, "run_missing", "--tenant", "org_other")

    for result in (default_tenant, missing):
        assert result.returncode == 2
        assert result.stdout == ""
        assert result.stderr.startswith("workbench-mcp: No run named")
        assert "Traceback" not in result.stderr


async def test_the_configured_key_file_signs_the_link(tmp_path: Path) -> None:
    db = tmp_path / "workbench.db"
    run_id = await _started(db)
    key_file = tmp_path / "shared.key"
    key, _ = load_or_create_key(key_file)

    result = _review_link(db, run_id, WORKBENCH_REVIEW_LINK_KEY_FILE=str(key_file))

    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().rsplit("/", 1)[1]
    async with open_service(ServerConfig(db_path=db)) as service:
        context = await ReviewService(service, LinkSigner(key, "")).open_link(token)
    assert context.reviewer == "bob"
    assert not _exists(Path(f"{db}.review-link-key"))
