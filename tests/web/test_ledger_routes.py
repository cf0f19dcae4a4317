"""The ledger over HTTP, on a live server: the public JWKS, linked from mcp.json; the attestation route,
tenant-scoped; `workbench-mcp verify --keys URL` against the live JWKS."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from tests.web.rest import RunFactory, rest_client
from workbench_mcp.cli import main
from workbench_mcp.ledger.keys import keys_by_id
from workbench_mcp.ledger.verify import verify_attestation


async def test_attest_a_run_and_verify_it_with_the_published_keys(
    base_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = RunFactory().new(writes=2)
    run_id = state["run"]["id"]
    async with rest_client(base_url) as api:
        assert (await api.put(f"/api/runs/{run_id}", json=state)).status_code == 204
        attested = (await api.get(f"/api/runs/{run_id}/attestation")).json()
    async with rest_client(base_url, user="mallory") as other:
        refused = await other.get(f"/api/runs/{run_id}/attestation")
    async with httpx.AsyncClient(base_url=base_url) as public:
        keys_response = await public.get("/.well-known/workbench-keys.json")
        descriptor = (await public.get("/.well-known/mcp.json")).json()

    assert refused.status_code == 404
    assert refused.json()["code"] == "UNKNOWN_RUN"
    assert descriptor["signingKeys"] == base_url + "/.well-known/workbench-keys.json"
    keys = keys_response.json()
    assert [k["kty"] for k in keys["keys"]] == ["OKP"]
    verified = verify_attestation(attested["bundle"], attested["attestation"], keys_by_id(keys))
    assert verified.run_id == run_id

    bundle = tmp_path / "bundle.json"
    envelope = tmp_path / "attestation.json"
    bundle.write_text(json.dumps(attested["bundle"]))
    envelope.write_text(json.dumps(attested["attestation"]))
    argv = ["verify", str(bundle), "--attestation", str(envelope), "--keys", descriptor["signingKeys"]]
    with pytest.raises(SystemExit) as done:
        await asyncio.to_thread(main, argv)  # the server answers the JWKS request from this loop
    assert done.value.code == 0, capsys.readouterr().out
