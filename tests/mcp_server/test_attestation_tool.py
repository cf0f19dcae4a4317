"""export_bundle(attestation=true) over Streamable HTTP with the official client: the structured content is
the unchanged bundle; the envelope comes as a second text item and in `_meta`, and verifies."""

from __future__ import annotations

import json

import httpx

from tests.mcp_server.conftest import ClientFactory
from tests.mcp_server.scenario import caller, run_job_search
from workbench_mcp.ledger.export import ATTESTATION_META
from workbench_mcp.ledger.keys import keys_by_id
from workbench_mcp.ledger.verify import verify_attestation


async def test_export_bundle_with_attestation(http_client: ClientFactory, base_url: str) -> None:
    async with http_client("alice") as client:
        outcome = await run_job_search(caller(client))
        plain = await client.call_tool("export_bundle", {"runId": outcome["runId"]})
        attested = await client.call_tool("export_bundle", {"runId": outcome["runId"], "attestation": True})
    async with httpx.AsyncClient(base_url=base_url) as public:
        keys = keys_by_id((await public.get("/.well-known/workbench-keys.json")).json())

    assert not attested.is_error
    assert attested.structured_content == plain.structured_content
    assert len(plain.content) == 1
    bundle_text, envelope_text = attested.content
    envelope = json.loads(envelope_text.text)  # type: ignore[union-attr]
    assert json.loads(bundle_text.text) == plain.structured_content  # type: ignore[union-attr]
    assert attested.meta is not None
    assert attested.meta[ATTESTATION_META] == envelope
    verified = verify_attestation(attested.structured_content, envelope, keys)
    assert verified.run_id == outcome["runId"]


async def test_attestation_of_a_user_profile_is_refused_with_a_code(http_client: ClientFactory) -> None:
    async with http_client("alice") as client:
        started = await caller(client)("start_run", {"workflowId": "jobSearchWorkflow"})
        refused = await client.call_tool(
            "export_bundle", {"runId": started["runId"], "profile": "user", "attestation": True}
        )
    assert refused.is_error
    assert refused.structured_content is not None
    assert refused.structured_content["code"] == "INVALID_INPUT"
