"""Offline verification of an exported bundle + attestation: all checks hold, and each tampering
fails the check that should catch it, by name (also through `workbench-mcp verify`)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from tests.ledger.conftest import BOB, Ledger, gated_run, write_json
from workbench_mcp.cli import main
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.ledger.dsse import IN_TOTO_PAYLOAD_TYPE, open_envelope, sign_envelope
from workbench_mcp.ledger.keys import SigningKey, keys_by_id
from workbench_mcp.ledger.verify import CheckFailed, verify_attestation
from workbench_mcp.protocol.bundle import attach_integrity
from workbench_mcp.protocol.canonical_json import canonical_json

Attested = tuple[dict[str, Any], dict[str, Any], dict[str, Any]]


@pytest.fixture
async def attested(ledger: Ledger) -> Attested:
    run_id = await gated_run(ledger.service)
    bundle, envelope = await ledger.service.bundles.export_attestation(BOB, run_id)
    return json.loads(json.dumps(bundle)), envelope, await ledger.jwks()


def statement_of(envelope: dict[str, Any]) -> dict[str, Any]:
    statement: dict[str, Any] = json.loads(open_envelope(envelope)[1])
    return statement


def resigned(statement: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    return sign_envelope(IN_TOTO_PAYLOAD_TYPE, canonical_json(statement).encode(), key)


def failed_check(bundle: Any, envelope: Any, keys: dict[str, Any]) -> str:
    with pytest.raises(CheckFailed) as failure:
        verify_attestation(bundle, envelope, keys_by_id(keys))
    return failure.value.check


async def test_an_exported_attestation_verifies_and_describes_the_run(ledger: Ledger, attested: Attested) -> None:
    bundle, envelope, keys = attested
    verified = verify_attestation(bundle, envelope, keys_by_id(keys))
    assert verified.key_id == ledger.key.kid
    statement = statement_of(envelope)
    assert statement["subject"][0]["digest"] == {"sha256": bundle["integrity"]["sha256"]}
    predicate = statement["predicate"]
    assert predicate["status"] == "completed"
    assert predicate["eventCount"] == len(bundle["trace"])
    [decision] = predicate["decisions"]
    assert (decision["principal"], decision["channel"], decision["decision"]) == (
        "user_bob",
        "resolve_gate",
        "approved",
    )
    reasons = [json.loads(open_envelope(c)[1])["reason"] for c in predicate["checkpoints"]]
    assert reasons == ["gate_decision", "run_completed", "export"]
    assert predicate["denials"] == []
    assert "budget" not in predicate


async def test_the_attested_bundle_is_the_plain_export(ledger: Ledger, attested: Attested) -> None:
    bundle, _, _ = attested
    plain = await ledger.service.bundles.export_bundle(BOB, bundle["run"]["id"])
    assert json.loads(json.dumps(plain)) == bundle


def _event_byte(bundle: dict[str, Any]) -> None:
    bundle["trace"][1]["ts"] = bundle["trace"][1]["ts"][:-2] + ("1Z" if bundle["trace"][1]["ts"][-2] != "1" else "2Z")


def _delete_last(bundle: dict[str, Any]) -> None:
    bundle["trace"].pop()


def _reorder(bundle: dict[str, Any]) -> None:
    trace = bundle["trace"]
    trace[2], trace[3] = trace[3], trace[2]


@pytest.mark.parametrize("edit", [_event_byte, _delete_last, _reorder])
@pytest.mark.parametrize("rehash", [False, True], ids=["stale-hash", "recomputed-hash"])
def test_an_edited_bundle_fails_subject_digest(attested: Attested, edit: Any, rehash: bool) -> None:
    bundle, envelope, keys = attested
    edited = copy.deepcopy(bundle)
    edit(edited)
    if rehash:
        edited = attach_integrity({k: v for k, v in edited.items() if k != "integrity"})
    assert failed_check(edited, envelope, keys) == "subject_digest"


def test_a_swapped_approver_fails_signature(attested: Attested) -> None:
    bundle, envelope, keys = attested
    statement = statement_of(envelope)
    statement["predicate"]["decisions"][0]["principal"] = "user_mallory"
    forged = {**envelope, "payload": resigned(statement, SigningKey.generate())["payload"]}
    assert failed_check(bundle, forged, keys) == "signature"


def test_an_attestation_by_an_unpublished_key_fails_signature(attested: Attested) -> None:
    bundle, envelope, keys = attested
    assert failed_check(bundle, resigned(statement_of(envelope), SigningKey.generate()), keys) == "signature"


def test_a_signed_wrong_head_fails_chain_head(ledger: Ledger, attested: Attested) -> None:
    bundle, envelope, keys = attested
    statement = statement_of(envelope)
    statement["predicate"]["chain"]["head"] = "f" * 64
    assert failed_check(bundle, resigned(statement, ledger.key), keys) == "chain_head"


@pytest.mark.parametrize("chain_member", ["f" * 64, {"head": 7}, None, []])
def test_a_signed_wrong_or_malformed_chain_fails_chain_head(
    ledger: Ledger, attested: Attested, chain_member: Any
) -> None:
    bundle, envelope, keys = attested
    statement = statement_of(envelope)
    statement["predicate"]["chain"] = chain_member
    assert failed_check(bundle, resigned(statement, ledger.key), keys) == "chain_head"


@pytest.mark.parametrize(
    "decisions", [[{"seq": "2"}], "none", [7], [{"seq": 2, "eventId": None, "decision": "approved"}]]
)
def test_malformed_signed_decisions_fail_decisions(ledger: Ledger, attested: Attested, decisions: Any) -> None:
    bundle, envelope, keys = attested
    statement = statement_of(envelope)
    statement["predicate"]["decisions"] = decisions
    assert failed_check(bundle, resigned(statement, ledger.key), keys) == "decisions"


def test_a_signed_decision_that_no_event_made_fails_decisions(ledger: Ledger, attested: Attested) -> None:
    bundle, envelope, keys = attested
    statement = statement_of(envelope)
    statement["predicate"]["decisions"][0]["decision"] = "rejected"
    assert failed_check(bundle, resigned(statement, ledger.key), keys) == "decisions"


def test_a_tampered_checkpoint_fails_checkpoints(ledger: Ledger, attested: Attested) -> None:
    bundle, envelope, keys = attested
    statement = statement_of(envelope)
    statement["predicate"]["checkpoints"][0]["payload"] = statement["predicate"]["checkpoints"][1]["payload"][:-4]
    assert failed_check(bundle, resigned(statement, ledger.key), keys) == "checkpoints"


def test_not_an_envelope_fails_envelope(attested: Attested) -> None:
    bundle, envelope, keys = attested
    assert failed_check(bundle, {**envelope, "payloadType": "text/plain"}, keys) == "envelope"
    assert failed_check(bundle, [], keys) == "envelope"


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    return int(done.value.code or 0), capsys.readouterr().out


def test_the_verify_command_exits_0_or_1_naming_the_check(
    attested: Attested, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle, envelope, keys = attested
    files = [write_json(tmp_path / n, v) for n, v in (("b.json", bundle), ("a.json", envelope), ("k.json", keys))]
    code, out = _cli(capsys, "verify", str(files[0]), "--attestation", str(files[1]), "--keys", str(files[2]))
    assert code == 0
    assert out.startswith("OK: run ")
    _delete_last(bundle)
    write_json(files[0], bundle)
    code, out = _cli(capsys, "verify", str(files[0]), "--attestation", str(files[1]), "--keys", str(files[2]))
    assert code == 1
    assert out.startswith("FAIL subject_digest:")


async def test_attestation_needs_the_full_profile_and_a_known_run(ledger: Ledger) -> None:
    run_id = await gated_run(ledger.service, complete=False)
    with pytest.raises(WorkbenchError) as refused:
        await ledger.service.bundles.export_attestation(BOB, run_id, profile="user")
    assert refused.value.code is ErrorCode.INVALID_INPUT
    other_tenant = type(BOB)("org_globex", subject="user_bob")
    with pytest.raises(WorkbenchError) as missing:
        await ledger.service.bundles.export_attestation(other_tenant, run_id)
    assert missing.value.code is ErrorCode.UNKNOWN_RUN
