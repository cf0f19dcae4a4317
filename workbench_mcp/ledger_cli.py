"""The ledger's commands: `verify BUNDLE --attestation ENVELOPE --keys KEYS`, `ledger check|keys|rotate-key`.

Exit codes like the rest of the CLI: 0 all checks hold, 1 a check failed (named on stdout), 2 a usage
or input error.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from workbench_mcp.config import ServerConfig
from workbench_mcp.ledger.keys import (
    KEYS_PATH,
    SigningKey,
    SigningKeyError,
    default_key_path,
    jwks,
    keys_by_id,
    load_key,
    write_key,
)
from workbench_mcp.ledger.scan import scan
from workbench_mcp.ledger.store_rows import published_keys, register_key
from workbench_mcp.ledger.verify import CheckFailed, verify_attestation
from workbench_mcp.store.pg_snapshot import ledger_snapshot, migrated_database
from workbench_mcp.store.schema import bundled_migrations, migrate

_DB_HELP = "SQLite database file (default ./workbench.db) or postgresql://user@host:port/dbname (WORKBENCH_DB)"


def add_arguments(verify: argparse.ArgumentParser, commands: Any) -> None:
    verify.add_argument("--attestation", type=Path, help="DSSE envelope from export_bundle(attestation=true)")
    verify.add_argument("--keys", help=f"JWKS file or URL of the signing keys (the server's {KEYS_PATH})")
    ledger = commands.add_parser("ledger", help="the signed ledger: tamper scan, published keys, key rotation")
    actions = ledger.add_subparsers(dest="ledger_command", required=True)
    check = actions.add_parser("check", help="recompute every run's hash chain; exit 1 naming tampered runs")
    check.add_argument("--db", help=_DB_HELP)
    check.add_argument("--keys", help="trust only this JWKS (file or URL) for checkpoint signatures")
    keys = actions.add_parser("keys", help="print the JWKS of every key the database's checkpoints were signed with")
    keys.add_argument("--db", help=_DB_HELP)
    rotate = actions.add_parser("rotate-key", help="create a new signing key; the old public key stays published")
    rotate.add_argument("--db", help=_DB_HELP)
    rotate.add_argument(
        "--key-file",
        type=Path,
        help="key file to replace (default WORKBENCH_SIGNING_KEY_FILE, else on SQLite <db>.signing-key)",
    )


def read_json_source(source: str) -> Any:
    """A JSON document from a file path or an http(s) URL."""
    if source.startswith(("https://", "http://")):
        with urllib.request.urlopen(source, timeout=15) as response:
            return json.loads(response.read())
    return json.loads(Path(source).read_bytes())


def load_trusted_keys(source: str) -> dict[str, Ed25519PublicKey]:
    try:
        return keys_by_id(read_json_source(source))
    except (SigningKeyError, AttributeError) as exc:
        raise ValueError(f"{source} is not a JWKS of Ed25519 keys: {exc}") from None


def verify_command(bundle_path: Path, attestation_path: Path, keys_source: str | None) -> int:
    if keys_source is None:
        raise ValueError("--attestation needs --keys (a JWKS file or URL)")
    bundle = json.loads(bundle_path.read_bytes())
    envelope = json.loads(attestation_path.read_bytes())
    keys = load_trusted_keys(keys_source)
    try:
        verified = verify_attestation(bundle, envelope, keys)
    except CheckFailed as failed:
        print(f"FAIL {failed.check}: {failed.message}")
        return 1
    print(
        f"OK: run {verified.run_id}, {verified.event_count} trace events, chain head {verified.chain_head}, "
        f"signed by key {verified.key_id}"
    )
    return 0


@contextmanager
def _database(config: ServerConfig) -> Iterator[sqlite3.Connection]:
    """The configured store's rows, read-only: the SQLite file, or one snapshot of the PostgreSQL database."""
    if config.database_url is not None:
        with ledger_snapshot(config.database_url) as snapshot:
            yield snapshot
        return
    conn = _open_existing(config.db_path)
    try:
        yield conn
    finally:
        conn.close()


def _open_existing(db: Path) -> sqlite3.Connection:
    if not db.is_file():
        raise ValueError(f"no database at {db}")
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'ledger_runs'").fetchone() is None:
        conn.close()
        raise ValueError(f"{db} has no ledger yet: start the server on it once (that chains its runs)")
    return conn


def run_command(args: argparse.Namespace, config: ServerConfig) -> int:
    if args.ledger_command == "check":
        trusted = None if args.keys is None else load_trusted_keys(args.keys)
        with _database(config) as conn:
            result = scan(conn, trusted)
        for finding in result.findings:
            print(finding.line())
        verdict = f"{len(result.findings)} tampered" if result.findings else "all intact"
        print(f"{'FAIL' if result.findings else 'OK'}: {result.runs} runs, {result.records} chained records, {verdict}")
        return 1 if result.findings else 0
    if args.ledger_command == "keys":
        with _database(config) as conn:
            print(json.dumps(jwks(published_keys(conn)), indent=2))
        return 0
    key_file = args.key_file or config.signing_key_file
    if config.database_url is None:
        return rotate_key(config.db_path, key_file or default_key_path(config.db_path))
    if key_file is None:
        # A default beside ./workbench.db would be a file no replica reads: the replicas share --signing-key-file.
        raise ValueError(
            "ledger rotate-key --db postgresql://... needs --key-file (or WORKBENCH_SIGNING_KEY_FILE): "
            "the key file the replicas sign with"
        )
    return rotate_key_postgres(config.database_url, key_file)


def rotate_key(db: Path, key_file: Path) -> int:
    """SQLite: migrate the file, then rotate (`_rotate`)."""
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        migrate(conn, bundled_migrations())
        _rotate(conn, key_file)
    finally:
        conn.close()
    return 0


def rotate_key_postgres(url: str, key_file: Path) -> int:
    """PostgreSQL: migrate the database, then rotate (`_rotate`), under the lock a starting replica takes
    to migrate and publish its key (so the two never interleave)."""
    with migrated_database(url) as conn:
        _rotate(conn, key_file)
    return 0


def _rotate(conn: sqlite3.Connection, key_file: Path) -> None:
    """Move the current key aside, create a new one at the same path and publish both in the database (the
    old one retired), in one transaction committed only once the files are in place; if anything fails the
    files are put back as they were. A running server keeps signing with the old key until it restarts."""
    now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    old = load_key(key_file) if key_file.exists() else None
    new = SigningKey.generate()
    retired = None if old is None else key_file.with_name(f"{key_file.name}.retired-{old.kid}")
    moved = writing = False
    conn.execute("BEGIN IMMEDIATE")
    try:
        if old is not None:
            register_key(conn, old, now)
        register_key(conn, new, now)
        if retired is not None:
            key_file.rename(retired)
            moved = True
        writing = True
        write_key(key_file, new)
        conn.execute("COMMIT")
    except BaseException:
        # Not committed (or not known to be: the connection broke): the old key stays the one in use. Had the
        # commit gone through, the next server start publishes that key as current again: consistent either way.
        # The files first: a rollback on a broken connection raises.
        if writing:
            key_file.unlink(missing_ok=True)
        if moved and retired is not None:
            retired.rename(key_file)
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    if old is not None:
        print(f"retired key {old.kid}: its private key moved to {retired} (delete it when you no longer need it)")
    print(f"new signing key {new.kid} in {key_file}; restart the server to sign with it")


def signing_key_line(config: ServerConfig) -> str:
    """The banner's line about the ledger key (creating the development key if needed)."""
    from workbench_mcp.wiring import signing_key

    key, created = signing_key(config)
    where = config.signing_key_file or default_key_path(config.db_path)
    return f"Ledger: checkpoints and attestations signed with key {key.kid} from {where}" + (
        " (just created, mode 0600)" if created else ""
    )
