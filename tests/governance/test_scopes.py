"""Scopes (README "Governance"): every tool and REST route x scope set over real HTTP, allowed exactly where the
table says; a refusal is INSUFFICIENT_SCOPE naming the scope, changes nothing and leaves a denial record."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp.client.context import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult

from tests.mcp_server.tool_calls import run_scoped_calls
from tests.servers import ALL_TOOLSETS, error_code, mcp_client, payload, running_server, server_config, token
from tests.test_cli import no_workbench_env, run_main  # noqa: F401 (a fixture)
from tests.web.rest import RunFactory
from workbench_mcp.auth import JwtVerifier, load_or_create_dev_secret, principal_from_claims
from workbench_mcp.config import ConfigError, JwtConfig, from_env
from workbench_mcp.mcp_server.toolsets import all_tools
from workbench_mcp.scopes import ADMIN, ALL_SCOPES, APPROVE, READ, WRITE, tool_scope

SCOPE_SETS = [(READ,), (WRITE,), (APPROVE,), (ADMIN,), (READ, WRITE)]
EXPECTED = {
    READ: {
        "list_runs", "get_run", "next_actions", "export_bundle", "list_workflows", "validate_run_bundle",
        "verify_run_integrity", "audit_log", "wait_for_decision",
    },
    WRITE: {
        "start_run", "begin_step", "complete_step", "fail_step", "complete_run", "cancel_run", "fail_run",
        "write_artifact", "patch_artifact", "request_gate", "request_review", "annotate", "log_model_io",
        "log_tool_call", "replace_rule_set",
    },
    APPROVE: {"resolve_gate", "resolve_checkpoint", "raise_budget", "ask_user_to_review"},
    ADMIN: set(),
}  # fmt: skip


@pytest.fixture
async def base_url(tmp_path: Path) -> AsyncIterator[str]:
    async with running_server(server_config(tmp_path, toolsets=ALL_TOOLSETS)) as url:
        yield url


def scoped(*scopes: str, user: str = "alice") -> str:
    return token(user, scopes=scopes)


def tool_arguments(run_id: str) -> dict[str, dict[str, Any]]:
    calls = run_scoped_calls(run_id)
    calls.update(
        start_run={"workflowId": "jobSearchWorkflow", "correlationId": "c-start"},
        list_runs={},
        list_workflows={},
        validate_run_bundle={"bundle": {}},
        verify_run_integrity={"bundle": {}},
    )
    return calls


async def decline(context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
    return ElicitResult(action="decline")


def test_the_table_covers_every_tool() -> None:
    names = {spec.name for spec in all_tools()}
    assert set().union(*EXPECTED.values()) == names
    for scope, tools in EXPECTED.items():
        assert {name for name in tools if tool_scope(name) == scope} == tools


@pytest.mark.parametrize("scopes", SCOPE_SETS, ids=" ".join)
async def test_every_tool_is_allowed_exactly_where_the_table_says(
    base_url: str, scopes: tuple[str, ...], tmp_path: Path
) -> None:
    async with mcp_client(base_url + "/api/mcp", scoped(*ALL_SCOPES)) as operator:
        run_id = payload(await operator.call_tool("start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
        # A client that can be asked (and declines), so ask_user_to_review is listed where the scope allows it.
        async with mcp_client(base_url + "/api/mcp", scoped(*scopes), elicitation_callback=decline) as client:
            listed = {tool.name for tool in (await client.list_tools()).tools}
            allowed = set().union(*(EXPECTED[s] for s in scopes))
            assert listed == allowed  # tools/list shows only what the token may call
            for tool, arguments in sorted(tool_arguments(run_id).items()):
                before = payload(await operator.call_tool("get_run", {"runId": run_id}))
                denials = await _denials(operator, run_id)
                result = await client.call_tool(tool, arguments)
                if tool in allowed:
                    assert not result.is_error or error_code(result) != "INSUFFICIENT_SCOPE", tool
                    continue
                body = result.structured_content or {}
                assert (error_code(result), tool) == ("INSUFFICIENT_SCOPE", tool)
                assert tool_scope(tool) in body["error"]
                assert payload(await operator.call_tool("get_run", {"runId": run_id})) == before, tool
                if "runId" in arguments:
                    new = (await _denials(operator, run_id))[len(denials) :]
                    assert [(d["tool"], d["principal"], d["detail"]["code"], d["detail"]["scope"]) for d in new] == [
                        (tool, "alice", "INSUFFICIENT_SCOPE", tool_scope(tool))
                    ]
    # Refusals that name no run are kept under no run ('' in the side table).
    with sqlite3.connect(tmp_path / "workbench.db") as db:
        rows = db.execute("SELECT tool FROM governance WHERE run_id = '' AND kind = 'denied'").fetchall()
    runless = {t for t, a in tool_arguments(run_id).items() if "runId" not in a}
    assert sorted(t for (t,) in rows) == sorted(runless - allowed)


async def _denials(client: Any, run_id: str) -> list[dict[str, Any]]:
    records = payload(await client.call_tool("audit_log", {"runId": run_id}))["records"]
    return [r for r in records if r["kind"] == "denied"]


ROUTES = [("GET", "/api/runs", READ), ("GET", "/api/runs/{id}", READ), ("PUT", "/api/runs/{id}", ADMIN)]
ROUTES.append(("DELETE", "/api/runs/{id}", ADMIN))


@pytest.mark.parametrize("scopes", SCOPE_SETS, ids=" ".join)
@pytest.mark.parametrize(("method", "path", "needed"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES])
async def test_every_rest_route_is_allowed_exactly_where_the_table_says(
    base_url: str, scopes: tuple[str, ...], method: str, path: str, needed: str
) -> None:
    state = RunFactory().new(writes=1)
    run_id = state["run"]["id"]
    admin = {"Authorization": f"Bearer {scoped(*ALL_SCOPES)}"}
    caller = {"Authorization": f"Bearer {scoped(*scopes)}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        assert (await http.put(f"/api/runs/{run_id}", json=state, headers=admin)).status_code == 204
        before = (await http.get(f"/api/runs/{run_id}", headers=admin)).json()
        body = state if method == "PUT" else None
        response = await http.request(method, path.replace("{id}", run_id), json=body, headers=caller)
        if needed in scopes:
            assert response.status_code in (200, 204)
            return
        assert response.status_code == 403
        assert response.json() == {
            "error": f"this token lacks the scope {needed} this call needs",
            "code": "INSUFFICIENT_SCOPE",
        }
        challenge = response.headers["www-authenticate"]
        assert challenge.startswith(f'Bearer error="insufficient_scope", scope="{needed}"')
        assert (await http.get(f"/api/runs/{run_id}", headers=admin)).json() == before
    if "{id}" in path:
        async with mcp_client(base_url + "/api/mcp", scoped(*ALL_SCOPES)) as operator:
            [denial] = await _denials(operator, run_id)
        assert (denial["tool"], denial["detail"]["scope"]) == (f"{method} /api/runs/{{runId}}", needed)


async def test_a_put_that_approves_a_gate_needs_runs_admin(base_url: str) -> None:
    state = RunFactory().new()
    run_id = state["run"]["id"]
    admin = {"Authorization": f"Bearer {scoped(*ALL_SCOPES)}"}
    reviewer = {"Authorization": f"Bearer {scoped(READ, WRITE, APPROVE)}"}
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        assert (await http.put(f"/api/runs/{run_id}", json=state, headers=admin)).status_code == 204
        approving = {**state, "gateState": [[s, {**g, "beforeStart": "approved"}] for s, g in state["gateState"]]}
        refused = await http.put(f"/api/runs/{run_id}", json=approving, headers=reviewer)
        assert (refused.status_code, refused.json()["code"]) == (403, "INSUFFICIENT_SCOPE")
        stored = (await http.get(f"/api/runs/{run_id}", headers=admin)).json()
        assert stored["gateState"] == state["gateState"]
        assert (await http.put(f"/api/runs/{run_id}", json=approving, headers=admin)).status_code == 204


async def test_resources_need_runs_read(base_url: str) -> None:
    async with mcp_client(base_url + "/api/mcp", scoped(WRITE)) as client:
        with pytest.raises(Exception, match="runs:read"):
            await client.read_resource("workflows://jobSearchWorkflow")
    async with mcp_client(base_url + "/api/mcp", scoped(READ)) as client:
        assert (await client.read_resource("workflows://jobSearchWorkflow")).contents


async def test_a_token_without_a_scope_claim_gets_the_default_scopes() -> None:
    verifier = JwtVerifier(JwtConfig(secret="s" * 64))
    assert (await verifier.verify(token(secret="s" * 64))).scopes == ALL_SCOPES
    narrow = JwtVerifier(JwtConfig(secret="s" * 64, default_scopes=(READ, WRITE)))
    assert (await narrow.verify(token(secret="s" * 64))).scopes == {READ, WRITE}
    assert (await narrow.verify(token(secret="s" * 64, scopes=[APPROVE]))).scopes == {APPROVE}
    # `scp` as an array (Azure AD, Okta) counts like `scope`; unknown scopes are kept and grant nothing.
    assert principal_from_claims({"sub": "a", "scp": [READ, "openid"]}, ()).scopes == {READ, "openid"}
    assert principal_from_claims({"sub": "a", "scope": ""}, ()).scopes == frozenset()


def test_default_scopes_from_the_environment() -> None:
    assert from_env({"WORKBENCH_DEFAULT_SCOPES": "runs:read runs:write"}).jwt.default_scopes == (READ, WRITE)
    assert from_env({}).jwt.default_scopes == tuple(sorted(ALL_SCOPES, key=[READ, WRITE, APPROVE, ADMIN].index))
    with pytest.raises(ConfigError, match="unknown scope 'runs:everything'"):
        from_env({"WORKBENCH_DEFAULT_SCOPES": "runs:everything"})


@pytest.mark.usefixtures("no_workbench_env")
async def test_token_scope_flag_mints_a_narrower_token(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "w.db"
    secret, _ = load_or_create_dev_secret(db)
    code, out, _ = run_main(capsys, "token", "--user", "bot", "--db", str(db), "--scope", "runs:read runs:write")
    assert code == 0
    assert (await JwtVerifier(JwtConfig(secret=secret)).verify(out.strip())).scopes == {READ, WRITE}
    code, _, err = run_main(capsys, "token", "--user", "bot", "--db", str(db), "--scope", "runs:all")
    assert code == 2
    assert "unknown scope 'runs:all'" in err
