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
import re
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


_PLAIN_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_STRICT_INTEGER  # integers beyond +-(2^53-1) raise


def _plain(stored: str) -> bool:
    """Whether orjson writes canonical JSON for the value whose `row_codec.dump_json` text is `stored`.

    That text is compact and ASCII-only, with Python's float repr: a float JavaScript writes differently
    has an exponent there ("1e-05", "1.5e+300"; orjson too) or is integral ("5.0", "-0.0"; JavaScript
    writes "5", "0"); any other float is in [1e-4, 2^52) and not integral, where orjson, Python and
    JavaScript write the same shortest digits. A key beyond U+FFFF (or a lone surrogate) shows as
    "\\udXXX": there orjson's code-point order is not JavaScript's UTF-16 order. A match inside a
    string only costs the exact path."""
    # '+' and '\\' are rare, and memchr finds one char fast; a regex with a literal prefix (".0", "e-")
    # scans faster than `in` with a 3-character needle. Together ~0.8 us for a 600-byte event.
    if ("+" in stored and "e+" in stored) or ("\\" in stored and "\\ud" in stored):
        return False
    return _INTEGRAL_FLOAT.search(stored) is None and _NEGATIVE_EXPONENT.search(stored) is None


_INTEGRAL_FLOAT = re.compile(r"\.0[,\]}]")
# Python writes 2 or 3 exponent digits; a UUID's "...e-4f3a-" never matches (hex follows, then "-").
_NEGATIVE_EXPONENT = re.compile(r"e-[0-9]{2,3}[,\]}]")


def plain_canonical(value: Any, stored: str) -> bytes | None:
    """The canonical JSON of `value` as UTF-8, written by orjson, given `stored` =
    `row_codec.dump_json(value)`; None when orjson might write it otherwise (see `_plain`)."""
    if type(value) is not dict or not _plain(stored):
        return None
    try:
        return orjson.dumps(value, option=_PLAIN_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: an unsafe integer, a lone surrogate, deep nesting
        return None


def event_link(previous: str, event: Any, stored: str) -> str:
    """`link(previous, event)`, given `stored` = `row_codec.dump_json(event)` (the event row's text).

    For the usual event orjson's sorted bytes are its canonical JSON (`plain_canonical`), hashed as they
    come: ~2 us against ~5 us for the exact writer on a 600-byte event. tests/ledger/test_chain_fast_path.py
    checks both give the same links, tests/interop/test_chain_fast_path_interop.py the bytes against the
    reference's serializeRunBundle."""
    data = plain_canonical(event, stored)
    if data is None:
        return link(previous, event)
    digest = hashlib.sha256(previous.encode("utf-8"))
    digest.update(data)
    return digest.hexdigest()


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
