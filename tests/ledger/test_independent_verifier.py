"""An independent DSSE implementation (securesystemslib, a dev dependency) agrees with ours."""

from __future__ import annotations

import base64
import json

import pytest
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import Key, SSlibKey

from tests.ledger.conftest import BOB, Ledger, gated_run
from workbench_mcp.ledger.keys import keys_by_id


async def _published_sslib_keys(ledger: Ledger) -> list[Key]:
    return [SSlibKey.from_crypto(key, keyid=kid) for kid, key in keys_by_id(await ledger.jwks()).items()]


async def test_securesystemslib_accepts_our_attestation_and_rejects_a_modified_payload(ledger: Ledger) -> None:
    run_id = await gated_run(ledger.service)
    _, envelope = await ledger.service.bundles.export_attestation(BOB, run_id)
    keys = await _published_sslib_keys(ledger)

    accepted = Envelope.from_dict(json.loads(json.dumps(envelope))).verify(keys, 1)
    assert list(accepted) == [ledger.key.kid]

    statement = json.loads(base64.b64decode(envelope["payload"]))
    statement["predicate"]["status"] = "failed"
    modified = {**envelope, "payload": base64.b64encode(json.dumps(statement).encode()).decode()}
    with pytest.raises(VerificationError):
        Envelope.from_dict(json.loads(json.dumps(modified))).verify(keys, 1)
