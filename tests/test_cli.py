"""The command line: token, verify, serve (a real subprocess) and stdio/serve configuration errors."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import SECRET, free_port
from workbench_mcp.auth import dev_secret_path
from workbench_mcp.cli import config_from, main
from workbench_mcp.config import JwtConfig, ServerConfig, Toolset
from workbench_mcp.principal import Principal
from workbench_mcp.wiring import open_service

REPO = Path(__file__).resolve().parents[1]


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(list(argv))
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    return {**env, "PYTHONPATH": str(REPO), **extra}


# --- token -----------------------------------------------------------------------------------------


async def test_token_uses_the_dev_secret_beside_the_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [k for k in os.environ if k.startswith("WORKBENCH_")]:
        monkeypatch.delenv(name)
    db = tmp_path / "w.db"
    code, out, _ = run_main(capsys, "token", "--user", "ann", "--org", "org_7", "--db", str(db), "--ttl", "120")
    assert code == 0
    from workbench_mcp.auth import JwtVerifier

    secret = dev_secret_path(db).read_text().strip()
    who = await JwtVerifier(JwtConfig(secret=secret)).verify(out.strip())
    assert who == Principal("org_7", "ann")


async def test_token_uses_the_configured_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_JWT_SECRET", SECRET)
    monkeypatch.setenv("WORKBENCH_JWT_ISSUER", "https://iss.test")
    code, out, _ = run_main(capsys, "token", "--user", "bo")
    from workbench_mcp.auth import JwtVerifier

    who = await JwtVerifier(JwtConfig(secret=SECRET, issuer="https://iss.test")).verify(out.strip())
    assert code == 0
    assert who.tenant_id == "user:bo"


# --- verify ----------------------------------------------------------------------------------------


@pytest.fixture
async def bundle_file(tmp_path: Path) -> Path:
    config = ServerConfig(db_path=tmp_path / "b.db")
    who = Principal("acme", "tester")
    async with open_service(config) as service:
        run = await service.start_run(who, "jobSearchWorkflow")
        await service.write_artifact(who, run["runId"], artifact_key="k", type_id="t", data={"a": [1, 2]})
        bundle = await service.export_bundle(who, run["runId"])
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    return path


def test_verify_accepts_an_exported_bundle(bundle_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, "verify", str(bundle_file))
    assert code == 0
    assert out.startswith("OK: run run_")


@pytest.mark.parametrize(
    ("tamper", "expected"),
    [
        (lambda b: b["artifacts"][0].__setitem__("data", {"a": [1, 3]}), "FAIL INTEGRITY_MISMATCH"),
        (lambda b: b.pop("integrity"), "FAIL MISSING_INTEGRITY"),
        (lambda b: b.__setitem__("protocolVersion", "0.1"), "FAIL UNSUPPORTED_PROTOCOL_VERSION"),
        (lambda b: b["trace"][0].__setitem__("runId", "run_other"), "FAIL INVALID_RUN_BUNDLE"),
    ],
)
def test_verify_rejects_tampered_bundles(
    bundle_file: Path, capsys: pytest.CaptureFixture[str], tamper: Any, expected: str
) -> None:
    bundle = json.loads(bundle_file.read_text())
    tamper(bundle)
    bundle_file.write_text(json.dumps(bundle))
    code, out, _ = run_main(capsys, "verify", str(bundle_file))
    assert code == 1
    assert out.startswith(expected)


def test_verify_reports_unreadable_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, out, _ = run_main(capsys, "verify", str(bad))
    assert code == 1
    assert out.startswith("FAIL INVALID_JSON")
    code, _, err = run_main(capsys, "verify", str(tmp_path / "missing.json"))
    assert code == 2
    assert "cannot read" in err


# --- configuration -----------------------------------------------------------------------------------


def test_flags_override_environment(tmp_path: Path) -> None:
    from workbench_mcp.cli import _parser

    env = {"WORKBENCH_PORT": "9000", "WORKBENCH_TOOLSETS": "core", "WORKBENCH_DB": "env.db"}
    args = _parser().parse_args(["serve", "--toolsets", "all", "--read-only", "--db", str(tmp_path / "x.db")])
    config = config_from(args, env)
    assert (config.port, config.toolsets, config.read_only) == (9000, frozenset(Toolset), True)
    assert config.db_path == tmp_path / "x.db"


@pytest.mark.parametrize(
    ("argv", "env", "synchronous"),
    [
        (["serve"], {}, 1),  # NORMAL
        (["serve"], {"WORKBENCH_DURABILITY": "full"}, 2),  # FULL: an fsync per commit
        (["serve", "--durability", "FULL"], {"WORKBENCH_DURABILITY": "normal"}, 2),
        (["stdio", "--durability", "normal"], {"WORKBENCH_DURABILITY": "full"}, 1),
    ],
)
async def test_durability_reaches_the_store(
    tmp_path: Path, argv: list[str], env: dict[str, str], synchronous: int
) -> None:
    from workbench_mcp.cli import _parser
    from workbench_mcp.wiring import build_service

    config = config_from(_parser().parse_args([*argv, "--db", str(tmp_path / "d.db")]), env)
    _, store = build_service(config)
    async with store:
        mode = await store._on(store._writer, lambda conn: conn.execute("PRAGMA synchronous").fetchone()[0])
    assert mode == synchronous


def test_unknown_durability_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "serve", "--durability", "paranoid")
    assert code == 2
    assert "durability must be one of normal, full, got 'paranoid'" in err


def test_unknown_toolset_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "stdio", "--toolsets", "core,admin")
    assert code == 2
    assert "unknown toolset 'admin'" in err


def test_serve_refuses_single_tenant_mode_off_loopback(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_main(capsys, "serve", "--single-tenant", "t", "--host", "0.0.0.0")
    assert code == 2
    assert "loopback" in err


def test_bad_workflow_file_fails_startup_naming_the_file(tmp_path: Path) -> None:
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    (workflows / "good.json").write_text(json.dumps({"id": "w1", "version": 1, "steps": [{"id": "a"}], "edges": []}))
    (workflows / "broken.json").write_text(json.dumps({"id": "w2", "version": 1, "steps": [], "edges": [{"x": 1}]}))
    result = subprocess.run(
        [sys.executable, "-m", "workbench_mcp", "serve", "--workflows", str(workflows), "--db", str(tmp_path / "d.db")],
        env=cli_env(WORKBENCH_PORT=str(free_port())),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "broken.json" in result.stderr
    assert "INVALID_WORKFLOW" not in result.stdout


# --- serve (a real process) --------------------------------------------------------------------------


def test_serve_with_no_config_prints_a_working_dev_token(tmp_path: Path) -> None:
    port = free_port()
    workflows = tmp_path / "workflows"
    workflows.mkdir()
    spec = {"id": "review", "version": 2, "steps": [{"id": "draft", "gatePolicy": "PAUSE_AFTER"}], "edges": []}
    (workflows / "review.json").write_text(json.dumps(spec))
    log = tmp_path / "serve.log"
    with (
        log.open("w") as stderr,
        subprocess.Popen(
            [sys.executable, "-m", "workbench_mcp", "serve", "--port", str(port), "--workflows", str(workflows)],
            env=cli_env(),
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            cwd=tmp_path,
        ) as process,
    ):
        try:
            token = _read_dev_token(process, log)
            ledger_line = _read_ledger_line(process)
            base = f"http://127.0.0.1:{port}"
            _wait_healthy(base)
            headers = {
                "Authorization": f"Bearer {token}",
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
            }
            call = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "tools/call",
                "params": {"name": "list_workflows", "arguments": {}},
            }
            response = httpx.post(base + "/api/mcp", json=call, headers=headers, timeout=30)
            anonymous = httpx.post(base + "/api/mcp", json=call, headers={**headers, "Authorization": ""}, timeout=30)
        finally:
            process.terminate()
            process.wait(timeout=30)
    workflows_listed = response.json()["result"]["structuredContent"]["workflows"]
    assert [w["id"] for w in workflows_listed] == ["jobSearchWorkflow", "review"]
    assert anonymous.status_code == 401
    assert (tmp_path / "workbench.db").exists()
    assert dev_secret_path(tmp_path / "workbench.db").exists()
    key_file = tmp_path / "workbench.db.signing-key"
    assert f"from {key_file.name} (just created, mode 0600)" in ledger_line
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def _read_dev_token(process: subprocess.Popen[str], log: Path) -> str:
    """The banner: the dev token line, then copy-paste client configuration."""
    assert process.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not any(line.startswith("More tokens:") for line in lines):
        line = process.stdout.readline()
        if not line:
            raise AssertionError("no banner: " + "".join(lines) + log.read_text())
        lines.append(line)
    banner = "".join(lines)
    assert "claude mcp add --transport http workbench http://127.0.0.1:" in banner
    assert '"mcpServers"' in banner
    assert '"servers"' in banner
    return lines[lines.index("Dev token (tenant user:dev, valid 30 days):\n") + 1].strip()


def _read_ledger_line(process: subprocess.Popen[str]) -> str:
    """The startup line naming the ledger's signing key (printed after the banner)."""
    assert process.stdout is not None
    for _ in range(5):
        line = process.stdout.readline()
        if line.startswith("Ledger:"):
            return line
    raise AssertionError("no ledger line after the banner")


def _wait_healthy(base: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("server did not become healthy")
