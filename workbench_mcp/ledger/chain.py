"""The hash chain: `link_n = SHA-256(link_{n-1} ‖ canonical JSON of record n)`, hex, from 64 zeros.

Two chains per run. The event chain covers the trace exactly as a RunBundle carries it, so anyone
holding a bundle can recompute it. The audit chain covers the audit rows (who made each change),
which never leave the server; `ledger check` recomputes it from the database.

An audit record is the audit row's columns except the run's key and NULLs, under their column
names: a column added later (governance: denials, quorum) joins the chain as soon as it holds a
value, with no change here, provided its writer also passes it to `audit_link`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from workbench_mcp.protocol.canonical_json import canonical_json, sha256_hex

GENESIS = "0" * 64
"""The link before the first record."""

ALGORITHM = "sha256(previous-link-hex || canonical-json(record)), hex; genesis 64 zeros"

_AUDIT_KEY_COLUMNS = frozenset({"tenant_id", "run_id"})


def link(previous: str, record: Any) -> str:
    return sha256_hex(previous + canonical_json(record))


def links(records: Iterable[Any], previous: str = GENESIS) -> list[str]:
    """Every link, in order."""
    out: list[str] = []
    for record in records:
        previous = link(previous, record)
        out.append(previous)
    return out


def head(records: Iterable[Any], previous: str = GENESIS) -> str:
    for record in records:
        previous = link(previous, record)
    return previous


def audit_record(columns: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in columns.items() if value is not None and name not in _AUDIT_KEY_COLUMNS}
