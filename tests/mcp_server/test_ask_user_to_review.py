"""ask_user_to_review over real HTTP with the official Python client: a 2026-07-28 client's elicitation callback
answers, the decision lands under the token's subject with channel `elicitation`; decline and cancel change
nothing; clients that cannot be asked (2025-11-25 over stateless HTTP, no elicitation capability) get a tool
error naming the alternatives; an agent-only token is refused before anything is asked."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp.types import ElicitRequest, ElicitRequestParams, ElicitResult, ErrorData, InputRequiredResult

from tests.mcp_server.test_stdio import stdio_params
from tests.servers import ALL_TOOLSETS, error_code, mcp_client, payload, running_server, server_config, token
from workbench_mcp.scopes import APPROVE, READ, WRITE

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "workflows"
ORG = "org_acme"
MODERN = "2026-07-28"
Answer = Callable[[ElicitRequestParams], Awaitable[ElicitResult]]


@pytest.fixture
async def url(tmp_path: Path) -> AsyncIterator[str]:
    config = server_config(tmp_path, toolsets=ALL_TOOLSETS, workflows_dir=EXAMPLES)
    async with running_server(config) as base:
        yield base + "/api/mcp"


class Human:
    """The elicitation callback: records every question and answers with the queued replies."""

    def __init__(self, *replies: ElicitResult) -> None:
        self.replies = list(replies)
        self.questions: list[ElicitRequestParams] = []

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult | ErrorData:
        self.questions.append(params)
        return self.replies.pop(0)


def accept(decision: str, note: str | None = None) -> ElicitResult:
    content: dict[str, str | int | float | bool | list[str] | None] = {"decision": decision}
    if note is not None:
        content["note"] = note
    return ElicitResult(action="accept", content=content)


async def ok(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, f"{tool}: {result.structured_content}"
    return payload(result)


async def pending_parser_gate(agent: Client) -> dict[str, str]:
    """A jobSearchWorkflow run whose parser1 PAUSE_BEFORE gate is under review, with a reason and an artifact."""
    run_id = (await ok(agent, "start_run", {"workflowId": "jobSearchWorkflow"}))["runId"]
    await ok(
        agent,
        "write_artifact",
        {"runId": run_id, "artifactKey": "parserInputs", "typeId": "cv", "data": {"resumeText": "Ten years"}},
    )
    gate = {"runId": run_id, "stepId": "parser1", "gate": "PAUSE_BEFORE"}
    await ok(agent, "request_gate", {**gate, "reason": "check the CV\nbefore parsing"})
    return gate


async def mutations(client: Client, run_id: str) -> list[tuple[str, str]]:
    records = (await ok(client, "audit_log", {"runId": run_id}))["records"]
    return [(r["principal"], r["tool"]) for r in records if r["kind"] == "mutation"]


async def test_approve_in_the_client_opens_the_gate_as_the_tokens_subject(url: str) -> None:
    human = Human(accept("approve"))
    async with (
        mcp_client(url, token("agent", ORG, scopes=[READ, WRITE])) as agent,
        mcp_client(url, token("carol", ORG), mode=MODERN, elicitation_callback=human) as reviewer,
    ):
        assert reviewer.protocol_version == MODERN
        gate = await pending_parser_gate(agent)
        result = await ok(reviewer, "ask_user_to_review", gate)
        assert result | {"revision": 0} == {
            "ok": True,
            **gate,
            "decision": "approved",
            "changed": True,
            "answer": "accept",
            "revision": 0,
        }
        (question,) = human.questions
        assert question.mode == "form"
        message = question.message
        for shown in (gate["runId"], "jobSearchWorkflow", "parser1", "PAUSE_BEFORE", "parserInputs v1 (cv)"):
            assert shown in message
        assert "Reason given: check the CV before parsing" in message  # agent text cannot add lines
        schema = question.requested_schema
        assert schema["properties"]["decision"]["enum"] == ["approve", "reject", "edit"]
        assert schema["required"] == ["decision"]

        todo = await ok(agent, "next_actions", {"runId": gate["runId"]})
        assert todo["pendingGates"] == []
        assert todo["readySteps"] == ["parser1"]
        assert (await mutations(reviewer, gate["runId"]))[-1] == ("carol", "elicitation")
        waited = await ok(agent, "wait_for_decision", {**gate, "timeoutSeconds": 0})
        assert (waited["decision"], waited["principal"], waited["channel"]) == ("approved", "carol", "elicitation")


async def test_edit_with_a_note_is_recorded_with_the_note(url: str) -> None:
    async with (
        mcp_client(url, token("agent", ORG, scopes=[READ, WRITE])) as agent,
        mcp_client(url, token("carol", ORG), mode=MODERN, elicitation_callback=Human(accept("edit", "trim it"))) as me,
    ):
        gate = await pending_parser_gate(agent)
        result = await ok(me, "ask_user_to_review", gate)
        assert (result["decision"], result["changed"]) == ("edited", True)
        trace = (await ok(agent, "get_run", {"runId": gate["runId"]}))["trace"]
        resolved = [e for e in trace if e["type"] == "human_gate_resolved"]
        assert [(e["decision"], e.get("note")) for e in resolved] == [("edited", "trim it")]


@pytest.mark.parametrize("action", ["decline", "cancel"])
async def test_decline_or_cancel_changes_nothing_and_says_so(url: str, action: str) -> None:
    human = Human(ElicitResult(action=action))
    async with (
        mcp_client(url, token("agent", ORG, scopes=[READ, WRITE])) as agent,
        mcp_client(url, token("carol", ORG), mode=MODERN, elicitation_callback=human) as reviewer,
    ):
        gate = await pending_parser_gate(agent)
        before = await ok(agent, "get_run", {"runId": gate["runId"]})
        result = await ok(reviewer, "ask_user_to_review", gate)
        assert len(human.questions) == 1
        assert (result["answer"], result["changed"], result["revision"]) == (action, False, before["revision"])
        assert "no decision was recorded" in result["message"]
        assert "decision" not in result
        assert await ok(agent, "get_run", {"runId": gate["runId"]}) == before
        assert (await ok(agent, "next_actions", {"runId": gate["runId"]}))["pendingGates"] == [
            {"stepId": "parser1", "gate": "PAUSE_BEFORE"}
        ]


async def test_a_2025_11_25_client_gets_a_clear_tool_error(url: str) -> None:
    human = Human(accept("approve"))
    async with (
        mcp_client(url, token("agent", ORG, scopes=[READ, WRITE])) as agent,
        mcp_client(url, token("carol", ORG), mode="legacy", elicitation_callback=human) as old,
    ):
        assert old.protocol_version == "2025-11-25"
        gate = await pending_parser_gate(agent)
        before = await ok(agent, "get_run", {"runId": gate["runId"]})
        result = await old.call_tool("ask_user_to_review", gate)
        assert error_code(result) == "ELICITATION_UNAVAILABLE"
        message = payload(result)["error"]
        assert "request_review" in message
        assert "2026-07-28" in message
        assert human.questions == []
        assert await ok(agent, "get_run", {"runId": gate["runId"]}) == before


@pytest.mark.parametrize("mode", [MODERN, "legacy"])
async def test_a_client_without_elicitation_gets_the_same_error(url: str, mode: str) -> None:
    async with (
        mcp_client(url, token("agent", ORG, scopes=[READ, WRITE])) as agent,
        mcp_client(url, token("carol", ORG), mode=mode) as plain,  # no callback: no elicitation capability
    ):
        gate = await pending_parser_gate(agent)
        result = await plain.call_tool("ask_user_to_review", gate)
        assert error_code(result) == "ELICITATION_UNAVAILABLE"
        assert "request_review" in payload(result)["error"]
        assert (await ok(agent, "next_actions", {"runId": gate["runId"]}))["pendingGates"] != []


async def test_an_agent_only_token_is_refused_before_anything_is_asked(url: str) -> None:
    human = Human(accept("approve"))
    async with (
        mcp_client(url, token("agent", ORG, scopes=[READ, WRITE]), mode=MODERN, elicitation_callback=human) as agent,
        mcp_client(url, token("carol", ORG, scopes=[READ, APPROVE])) as reviewer,
    ):
        gate = await pending_parser_gate(agent)
        assert "ask_user_to_review" not in {t.name for t in (await agent.list_tools()).tools}
        result = await agent.call_tool("ask_user_to_review", gate)
        assert error_code(result) == "INSUFFICIENT_SCOPE"
        assert human.questions == []
        records = (await ok(reviewer, "audit_log", {"runId": gate["runId"]}))["records"]
        denied = [r for r in records if r["kind"] == "denied"]
        assert [(r["principal"], r["tool"]) for r in denied] == [("agent", "ask_user_to_review")]
        assert (await ok(agent, "next_actions", {"runId": gate["runId"]}))["pendingGates"] != []


async def test_a_gate_not_under_review_is_refused_before_asking(url: str) -> None:
    human = Human(accept("approve"))
    async with (
        mcp_client(url, token("agent", ORG, scopes=[READ, WRITE])) as agent,
        mcp_client(url, token("carol", ORG), mode=MODERN, elicitation_callback=human) as reviewer,
    ):
        gate = await pending_parser_gate(agent)
        after = await reviewer.call_tool("ask_user_to_review", {**gate, "gate": "PAUSE_AFTER"})
        assert error_code(after) == "GATE_NOT_APPLICABLE"
        missing = await reviewer.call_tool("ask_user_to_review", {**gate, "runId": "run_nope"})
        assert error_code(missing) == "UNKNOWN_RUN"
        assert human.questions == []


async def test_the_runs_approval_policy_applies(url: str) -> None:
    """governedRelease: draft's PAUSE_AFTER needs two of reviewer-1..3, none of them its completer."""
    outsider_human = Human(accept("approve"))
    first_human, second_human = Human(accept("approve", "fine")), Human(accept("approve"))
    async with (
        mcp_client(url, token("agent", ORG, scopes=[READ, WRITE])) as agent,
        mcp_client(url, token("carol", ORG), mode=MODERN, elicitation_callback=outsider_human) as outsider,
        mcp_client(url, token("reviewer-1", ORG), mode=MODERN, elicitation_callback=first_human) as reviewer1,
        mcp_client(url, token("reviewer-2", ORG), mode=MODERN, elicitation_callback=second_human) as reviewer2,
    ):
        run_id = (await ok(agent, "start_run", {"workflowId": "governedRelease"}))["runId"]
        await ok(agent, "begin_step", {"runId": run_id, "stepId": "draft"})
        await ok(agent, "complete_step", {"runId": run_id, "stepId": "draft"})
        gate = {"runId": run_id, "stepId": "draft", "gate": "PAUSE_AFTER"}

        assert error_code(await outsider.call_tool("ask_user_to_review", gate)) == "NOT_AUTHORIZED"
        first = await ok(reviewer1, "ask_user_to_review", gate)
        assert (first["changed"], first["pending"]) == (False, {"approvals": ["reviewer-1"], "quorum": 2})
        second = await ok(reviewer2, "ask_user_to_review", gate)
        assert (second["changed"], second["approvers"]) == (True, ["reviewer-1", "reviewer-2"])
        assert (await ok(agent, "next_actions", {"runId": run_id}))["readySteps"] == ["publish"]

        records = (await ok(reviewer1, "audit_log", {"runId": run_id}))["records"]
        governed = [(r["kind"], r["principal"], r["tool"]) for r in records if r["kind"] not in ("mutation", "policy")]
        assert governed == [
            ("denied", "carol", "elicitation"),
            ("approval", "reviewer-1", "elicitation"),
            ("approval", "reviewer-2", "elicitation"),
            ("gate_opened", "reviewer-2", "elicitation"),
        ]
        assert records[-1]["detail"]["approvers"] == ["reviewer-1", "reviewer-2"]


@pytest.mark.parametrize(("mode", "version"), [("legacy", "2025-11-25"), ("auto", MODERN)])
async def test_stdio_asks_mid_call_or_in_the_call(tmp_path: Path, mode: str, version: str) -> None:
    """stdio keeps a session, so a 2025-11-25 client is asked with a mid-call elicitation/create; a 2026-07-28
    one through input-required round trips. The decision is the stdio operator's."""
    human = Human(ElicitResult(action="decline"), accept("reject", "not yet"))
    params = stdio_params(tmp_path, "--tenant", "acme", "--toolsets", "core,steps")
    async with Client(params, mode=mode, elicitation_callback=human) as client:
        assert client.protocol_version == version
        gate = await pending_parser_gate(client)
        declined = await ok(client, "ask_user_to_review", gate)
        assert (declined["answer"], declined["changed"]) == ("decline", False)
        rejected = await ok(client, "ask_user_to_review", gate)
        assert (rejected["answer"], rejected["decision"], rejected["changed"]) == ("accept", "rejected", True)
        assert len(human.questions) == 2
        assert "parser1" in human.questions[0].message
        principal, channel = (await mutations(client, gate["runId"]))[-1]
    assert principal.startswith("stdio:")
    assert channel == "elicitation"


async def test_the_second_round_trip_may_land_on_another_process(tmp_path: Path) -> None:
    """`serve --workers N`: two servers on one database (as the workers are) share the requestState key, so
    the answer sent to the other one is accepted; the SDK's default per-process key refused it (-32602)."""
    db = tmp_path / "shared.db"
    first, second = (server_config(tmp_path, db_path=db, workflows_dir=EXAMPLES) for _ in range(2))
    human = Human(accept("approve", "ok"))
    async with (
        running_server(first) as base1,
        running_server(second) as base2,
        mcp_client(base1 + "/api/mcp", token("agent", ORG, scopes=[READ, WRITE])) as agent,
        mcp_client(base1 + "/api/mcp", token("carol", ORG), mode=MODERN, elicitation_callback=human) as here,
        mcp_client(base2 + "/api/mcp", token("carol", ORG), mode=MODERN, elicitation_callback=human) as there,
    ):
        gate = await pending_parser_gate(agent)
        asked = await here.session.call_tool("ask_user_to_review", gate, allow_input_required=True)
        assert isinstance(asked, InputRequiredResult)
        assert asked.input_requests is not None
        assert asked.request_state is not None
        ((key, request),) = asked.input_requests.items()
        assert isinstance(request, ElicitRequest)
        assert "parser1" in request.params.message
        answered = await there.session.call_tool(
            "ask_user_to_review",
            gate,
            input_responses={key: accept("approve", "ok")},
            request_state=asked.request_state,
        )
        assert (payload(answered)["decision"], payload(answered)["changed"]) == ("approved", True)
        assert (await mutations(agent, gate["runId"]))[-1] == ("carol", "elicitation")


async def test_tools_list_offers_it_only_to_clients_that_can_be_asked(url: str) -> None:
    bearer = token("carol", ORG)
    async with (
        mcp_client(url, bearer, mode=MODERN, elicitation_callback=Human()) as asks,
        mcp_client(url, bearer, mode=MODERN) as plain,
        mcp_client(url, bearer, mode="legacy", elicitation_callback=Human()) as old,  # no back-channel
    ):
        listed = {t.name: t for t in (await asks.list_tools()).tools}
        assert "ask_user_to_review" not in {t.name for t in (await plain.list_tools()).tools}
        assert "ask_user_to_review" not in {t.name for t in (await old.list_tools()).tools}
    tool = listed["ask_user_to_review"]
    assert tool.input_schema["required"] == ["runId", "stepId", "gate"]
    assert tool.annotations is not None
    assert (tool.annotations.read_only_hint, tool.annotations.destructive_hint) == (False, False)


async def test_every_answer_and_error_fits_the_advertised_output_schema(url: str) -> None:
    human = Human(ElicitResult(action="cancel"), accept("approve"))
    async with (
        mcp_client(url, token("agent", ORG, scopes=[READ, WRITE])) as agent,
        mcp_client(url, token("carol", ORG), mode=MODERN, elicitation_callback=human) as reviewer,
    ):
        schema = {t.name: t for t in (await reviewer.list_tools()).tools}["ask_user_to_review"].output_schema
        gate = await pending_parser_gate(agent)
        bodies = [payload(await reviewer.call_tool("ask_user_to_review", gate)) for _ in range(2)]
        bodies.append(payload(await reviewer.call_tool("ask_user_to_review", {**gate, "runId": "run_nope"})))
        bodies.append(payload(await agent.call_tool("ask_user_to_review", gate)))
    assert [b.get("answer", b.get("code")) for b in bodies] == ["cancel", "accept", "UNKNOWN_RUN", "INSUFFICIENT_SCOPE"]
    for body in bodies:
        jsonschema.validate(body, schema or {})
