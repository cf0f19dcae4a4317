"""The signing key: created beside the database (0600), published as a JWKS, rotated without
invalidating earlier attestations."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from tests.ledger.conftest import BOB, Ledger, gated_run
from workbench_mcp.cli import main
from workbench_mcp.config import ServerConfig
from workbench_mcp.ledger.keys import SigningKey, keys_by_id, load_key
from workbench_mcp.ledger.verify import verify_attestation
from workbench_mcp.wiring import signing_key


def test_a_development_key_is_created_beside_the_database_once(tmp_path: Path) -> None:
    config = ServerConfig(db_path=tmp_path / "w.db")
    key, created = signing_key(config)
    path = tmp_path / "w.db.signing-key"
    assert created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again, created_again = signing_key(config)
    assert not created_again
    assert again.kid == key.kid


def test_a_configured_key_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read the signing key"):
        signing_key(ServerConfig(db_path=tmp_path / "w.db", signing_key_file=tmp_path / "missing.pem"))


async def test_an_attestation_made_before_rotation_still_verifies_after_it(ledger: Ledger) -> None:
    run_id = await gated_run(ledger.service)
    before = await ledger.service.bundles.export_attestation(BOB, run_id)
    old_kid = ledger.key.kid

    await ledger.reopen(SigningKey.generate())  # rotation: a new key signs from now on
    after = await ledger.service.bundles.export_attestation(BOB, run_id)
    published = await ledger.jwks()

    assert [k["kid"] for k in published["keys"]] == [ledger.key.kid, old_kid]
    assert verify_attestation(*before, keys_by_id(published)).key_id == old_kid
    assert verify_attestation(*after, keys_by_id(published)).key_id == ledger.key.kid


async def test_rotate_key_retires_the_old_key_and_keeps_it_published(
    ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    await gated_run(ledger.service)
    await ledger.store.close()
    key_file = ledger.db_path.with_name("ledger.db.signing-key")
    from workbench_mcp.ledger.keys import write_key

    write_key(key_file, ledger.key)
    with pytest.raises(SystemExit) as done:
        main(["ledger", "rotate-key", "--db", str(ledger.db_path)])
    assert done.value.code == 0
    new = load_key(key_file)
    assert new.kid != ledger.key.kid
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["ledger", "keys", "--db", str(ledger.db_path)])
    published = json.loads(capsys.readouterr().out)
    assert [k["kid"] for k in published["keys"]] == [new.kid, ledger.key.kid]
    await ledger.reopen(new)  # the check still passes: old checkpoints verify with the retired key
    with pytest.raises(SystemExit) as checked:
        main(["ledger", "check", "--db", str(ledger.db_path)])
    assert checked.value.code == 0
