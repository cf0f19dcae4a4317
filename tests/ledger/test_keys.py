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
from workbench_mcp.ledger.keys import SigningKey, keys_by_id, load_key, write_key
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


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    with pytest.raises(SystemExit) as done:
        main(list(argv))
    return int(done.value.code or 0), capsys.readouterr().out


async def test_rotate_key_retires_the_old_key_and_keeps_it_published(
    any_ledger: Ledger, capsys: pytest.CaptureFixture[str]
) -> None:
    """On either backend: the old private key moved aside, a new one (0600) in its place, both published in the
    database (the old retired), a store opened with the new file signs with it, and an attestation made before
    the rotation still verifies against the published keys. SQLite defaults the key file beside the database;
    PostgreSQL has none to default from, so it is named."""
    ledger = any_ledger
    run_id = await gated_run(ledger.service)
    before = await ledger.service.bundles.export_attestation(BOB, run_id)
    await ledger.store.close()
    old_kid = ledger.key.kid
    key_file = ledger.db_path.with_name("ledger.db.signing-key")
    write_key(key_file, ledger.key)
    named = [] if ledger.database_url is None else ["--key-file", str(key_file)]

    rotated = _cli(capsys, "ledger", "rotate-key", "--db", ledger.db, *named)
    new = load_key(key_file)
    published = json.loads(_cli(capsys, "ledger", "keys", "--db", ledger.db)[1])
    current = ledger.current_kids()
    await ledger.reopen(new)  # what a server started afterwards does: it loads the key file
    after = await ledger.service.bundles.export_attestation(BOB, run_id)
    checked = _cli(capsys, "ledger", "check", "--db", ledger.db)

    assert rotated[0] == 0
    assert new.kid != old_kid
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_key(key_file.with_name(f"ledger.db.signing-key.retired-{old_kid}")).kid == old_kid
    assert [k["kid"] for k in published["keys"]] == [new.kid, old_kid]
    assert current == [new.kid]  # the old one retired
    assert verify_attestation(*before, keys_by_id(published)).key_id == old_kid
    assert verify_attestation(*after, keys_by_id(published)).key_id == new.kid
    assert checked[0] == 0, checked  # old checkpoints verify with the retired key
