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
import jwt
import pytest

from tests.servers import SECRET, free_port
from workbench_mcp.auth import JwtVerifier, dev_secret_path, load_or_create_dev_secret
from workbench_mcp.cli import config_from, dev_token_ttl, main
from workbench_mcp.commands import WriteArtifact
from workbench_mcp.config import JwtConfig, ServerConfig, Toolset, from_env
from workbench_mcp.principal import Principal
from workbench_mcp.protocol.bundle import MAX_BUNDLE_BYTES
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


@pytest.fixture
def no_workbench_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No WORKBENCH_* variables, and an empty current directory (returned)."""
    for name in [k for k in os.environ if k.startswith("WORKBENCH_")]:
        monkeypatch.delenv(name)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


@pytest.mark.parametrize("with_db", [True, False])
def test_token_without_any_secret_refuses_and_creates_nothing(
    tmp_path: Path, no_workbench_env: Path, capsys: pytest.CaptureFixture[str], with_db: bool
) -> None:
    """A secret made up here would sign tokens that no server accepts."""
    db = tmp_path / "w.db" if with_db else Path("workbench.db")
    code, out, err = run_main(capsys, "token", "--user", "ann", *(["--db", str(db)] if with_db else []))
    assert (code, out) == (2, "")
    assert f"no JWT secret: none is configured and {dev_secret_path(db)} does not exist" in err
    assert err.count("\n") == 1
    assert list(no_workbench_env.iterdir()) == []
    assert not dev_secret_path(tmp_path / "w.db").exists()


async def test_token_uses_the_dev_secret_beside_the_database(
    tmp_path: Path, no_workbench_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "w.db"
    secret, _ = load_or_create_dev_secret(db)  # as `serve --db w.db` left it
    code, out, err = run_main(capsys, "token", "--user", "ann", "--org", "org_7", "--db", str(db), "--ttl", "120")
    assert code == 0
    used = f"signed with the development secret {dev_secret_path(db)}"
    assert err == f"workbench-mcp: token for tenant org_7, valid 2 minutes, {used}\n"
    who = await JwtVerifier(JwtConfig(secret=secret)).verify(out.strip())
    assert who == Principal("org_7", "ann")


async def test_token_uses_a_secret_file_like_serve(
    tmp_path: Path, no_workbench_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret_file = tmp_path / "hs256.key"
    secret_file.write_text(SECRET + "\n")
    secret_file.chmod(0o600)
    code, out, err = run_main(
        capsys, "token", "--user", "ann", "--jwt-secret-file", str(secret_file), "--jwt-audience", "wb"
    )
    assert code == 0
    assert f"signed with the secret file {secret_file}" in err
    assert "tenant user:ann, valid 30 days" in err
    assert (await JwtVerifier(JwtConfig(secret=SECRET, audience="wb")).verify(out.strip())).tenant_id == "user:ann"
    secret_file.chmod(0o644)
    code, out, err = run_main(capsys, "token", "--user", "ann", "--jwt-secret-file", str(secret_file))
    assert (code, out) == (2, "")
    refusal = f"refusing the JWT secret file {secret_file}: mode 0644 lets other users read or change it (chmod 600)"
    assert err == f"workbench-mcp: {refusal}\n"


async def test_token_uses_the_configured_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_JWT_SECRET", SECRET)
    monkeypatch.setenv("WORKBENCH_JWT_ISSUER", "https://iss.test")
    code, out, err = run_main(capsys, "token", "--user", "bo")
    who = await JwtVerifier(JwtConfig(secret=SECRET, issuer="https://iss.test")).verify(out.strip())
    assert code == 0
    assert who.tenant_id == "user:bo"
    assert "signed with WORKBENCH_JWT_SECRET" in err


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--org", "user:alice"], {}, "--org may not start with 'user:'"),
        (["--org", "user:"], {}, "--org may not start with 'user:'"),
        (["--ttl", "31d"], {}, "--ttl 2678400 s exceeds the maximum token lifetime 2592000 s"),
        (["--ttl", "2h"], {"WORKBENCH_JWT_MAX_LIFETIME": "1h"}, "--ttl 7200 s exceeds the maximum token lifetime 3600"),
        (["--ttl", "0"], {}, "--ttl must be a positive duration"),
        (["--org", ""], {}, "--org must be non-empty"),
        ([], {"WORKBENCH_JWT_SECRET": "too-short"}, "is 9 bytes; at least 32 are required"),
    ],
)
def test_token_refuses_what_the_server_would_refuse(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    env: dict[str, str],
    message: str,
) -> None:
    monkeypatch.setenv("WORKBENCH_JWT_SECRET", SECRET)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, out, err = run_main(capsys, "token", "--user", "alice", *argv)
    assert (code, out) == (2, "")
    assert message in err
    assert err.count("\n") == 1


async def test_token_lifetime_defaults_to_the_configured_maximum_when_shorter(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WORKBENCH_JWT_SECRET", SECRET)
    monkeypatch.setenv("WORKBENCH_JWT_MAX_LIFETIME", "1h")
    code, out, err = run_main(capsys, "token", "--user", "bo")
    assert code == 0
    assert "valid 1 hour" in err
    claims = jwt.decode(out.strip(), SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 3600
    config = from_env({"WORKBENCH_JWT_SECRET": SECRET, "WORKBENCH_JWT_MAX_LIFETIME": "1h"})
    assert dev_token_ttl(config) == 3600  # the dev token serve prints: accepted by that same server
    assert dev_token_ttl(ServerConfig()) == 30 * 86400


# --- verify ----------------------------------------------------------------------------------------


@pytest.fixture
async def bundle_file(tmp_path: Path) -> Path:
    config = ServerConfig(db_path=tmp_path / "b.db")
    who = Principal("acme", "tester")
    async with open_service(config) as service:
        run = await service.start_run(who, "jobSearchWorkflow")
        await service.execute(who, run["runId"], WriteArtifact(artifact_key="k", type_id="t", data={"a": [1, 2]}))
        bundle = await service.bundles.export_bundle(who, run["runId"])
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


def test_verify_refuses_a_bundle_over_the_bundle_limit(bundle_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The same 25 MiB ceiling and code as verify_run_integrity (offload.check_bundle), not a second rule.
    bundle = json.loads(bundle_file.read_text())
    bundle["run"]["metadata"] = {"pad": "x" * MAX_BUNDLE_BYTES}
    bundle_file.write_text(json.dumps(bundle))
    code, out, _ = run_main(capsys, "verify", str(bundle_file))
    assert code == 1
    assert out.startswith(f"FAIL LIMIT_EXCEEDED: bundle exceeds maximum size ({MAX_BUNDLE_BYTES} bytes")


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
    from workbench_mcp.store.sqlite_store import SqliteRunStore
    from workbench_mcp.wiring import build_service

    config = config_from(_parser().parse_args([*argv, "--db", str(tmp_path / "d.db")]), env)
    _, store = build_service(config)
    assert isinstance(store, SqliteRunStore)
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
            # The operator's token holds every scope, whatever WORKBENCH_DEFAULT_SCOPES says (README "Governance").
            scopes = jwt.decode(token, options={"verify_signature": False})["scope"].split()
            assert sorted(scopes) == ["gates:approve", "runs:admin", "runs:read", "runs:write"]
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


# --- serve refuses secrets it cannot trust (a real process: one line on stderr, no traceback) ----------


def _secret_file(path: Path, content: str, mode: int = 0o600) -> Path:
    path.write_text(content)
    path.chmod(mode)
    return path


@pytest.mark.parametrize(
    ("prepare", "message"),
    [
        (lambda d: ([], _secret_file(d / "w.db.jwt-secret", "x" * 64, 0o644)), "mode 0644 lets other users read"),
        (lambda d: ([], _secret_file(d / "w.db.jwt-secret", "")), "w.db.jwt-secret is empty"),
        (
            lambda d: (["--jwt-secret-file", str(_secret_file(d / "k", SECRET, 0o640))], None),
            "mode 0640 lets other users read",
        ),
        (
            lambda d: (["--jwt-secret-file", str(_secret_file(d / "k", "s" * 31))], None),
            "is 31 bytes; at least 32 are required",
        ),
        (lambda d: (["--jwt-secret-file", str(d / "missing")], None), "cannot read the JWT secret file"),
        (lambda d: (["--jwt-max-lifetime", "forever"], None), "--jwt-max-lifetime must be a positive duration"),
    ],
)
def test_serve_refuses_an_untrustworthy_secret_in_one_line(tmp_path: Path, prepare: Any, message: str) -> None:
    argv, _ = prepare(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "workbench_mcp", "serve", "--db", str(tmp_path / "w.db"), *argv],
        env=cli_env(WORKBENCH_PORT=str(free_port())),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stdout == ""  # no banner, no token
    assert result.stderr.startswith("workbench-mcp: ")
    assert result.stderr.count("\n") == 1
    assert message in result.stderr


def test_serve_refuses_a_short_secret_in_the_environment(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "workbench_mcp", "serve", "--db", str(tmp_path / "w.db")],
        env=cli_env(WORKBENCH_PORT=str(free_port()), WORKBENCH_JWT_SECRET="hunter2"),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "workbench-mcp: the HS256 secret from WORKBENCH_JWT_SECRET / --jwt-secret-file is 7 bytes; at least 32 "
        "are required (e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')\n"
    )


def test_the_token_command_serve_prints_mints_tokens_that_serve_accepts(tmp_path: Path) -> None:
    """Run from another directory, as a user would: the printed command finds serve's secret via --db."""
    port = free_port()
    db = tmp_path / "data" / "w.db"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "workbench_mcp", "serve", "--port", str(port), "--db", str(db)]
    with (
        log.open("w") as stderr,
        subprocess.Popen(command, env=cli_env(), stdout=subprocess.PIPE, stderr=stderr, text=True) as process,
    ):
        try:
            assert process.stdout is not None
            printed = ""
            while not printed.startswith("More tokens:"):
                printed = process.stdout.readline()
                assert printed, log.read_text()
            argv = printed.removeprefix("More tokens: workbench-mcp ").replace("USER", "zed").split()
            assert argv[:3] == ["token", "--db", str(db.resolve())]  # absolute: works from any directory
            minted = subprocess.run(
                [sys.executable, "-m", "workbench_mcp", *argv[:5]],
                env=cli_env(),
                capture_output=True,
                text=True,
                timeout=60,
                cwd=elsewhere,
            )
            assert minted.returncode == 0, minted.stderr
            assert f"signed with the development secret {dev_secret_path(db)}" in minted.stderr
            base = f"http://127.0.0.1:{port}"
            _wait_healthy(base)
            listed = httpx.get(
                base + "/api/runs", headers={"Authorization": f"Bearer {minted.stdout.strip()}"}, timeout=30
            )
        finally:
            process.terminate()
            process.wait(timeout=30)
    assert (listed.status_code, listed.json()) == (200, [])
    assert list(elsewhere.iterdir()) == []  # no stray secret
