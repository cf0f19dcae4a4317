"""The hash chain: `link_n = SHA-256(link_{n-1} ‖ canonical JSON of record n)`, hex, from 64 zeros.

Two chains per run. The event chain covers the trace exactly as a RunBundle carries it, so anyone
holding a bundle can recompute it. The audit chain covers the audit rows (who made each change),
which never leave the server; `ledger check` recomputes it from the database.

An audit record is the audit row's columns except the run's key and NULLs, under their column
names: a column added later (governance: denials, quorum) joins the chain as soon as it holds a
value, with no change here, provided its writer also passes it to `audit_link`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from workbench_mcp.protocol.canonical_json import MAX_SAFE_INTEGER, canonical_json, sha256_hex

GENESIS = "0" * 64
"""The link before the first record."""

ALGORITHM = "sha256(previous-link-hex || canonical-json(record)), hex; genesis 64 zeros"

_AUDIT_KEY_COLUMNS = frozenset({"tenant_id", "run_id", "link"})


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


def audit_link(previous: str, columns: Mapping[str, Any]) -> str:
    """`link(previous, audit_record(columns))`, faster for the usual row of short strings and ints.

    For such a flat object orjson's sorted output is byte-identical to canonical JSON (same escapes,
    integers below 2^53); anything else (floats, lone surrogates, big integers) takes the exact path.
    The bytes are hashed as orjson returns them, after the previous link (no text joined or re-encoded)."""
    record = audit_record(columns)
    for value in record.values():
        if not (type(value) is str or (type(value) is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER)):
            return link(previous, record)
    try:
        data = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # orjson.JSONEncodeError: a lone surrogate
        return link(previous, record)
    digest = hashlib.sha256(previous.encode("utf-8"))
    digest.update(data)
    return digest.hexdigest()
