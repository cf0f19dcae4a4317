"""Opaque list_runs cursors: the (start time, run id) of the last row of a page, base64url-encoded.

Keyset pagination: the next page starts strictly after that position in the listing index, so
a page costs the same however many runs the tenant has, and runs created meanwhile never shift
rows between pages.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from workbench_mcp.errors import ErrorCode, WorkbenchError


@dataclass(frozen=True, slots=True)
class PagePosition:
    started_us: int
    run_id: str


def encode_cursor(position: PagePosition) -> str:
    text = json.dumps([position.started_us, position.run_id], ensure_ascii=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode("ascii")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> PagePosition:
    """INVALID_INPUT for anything encode_cursor did not produce."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        decoded = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, binascii.Error):
        raise _invalid() from None
    if not (
        isinstance(decoded, list)
        and len(decoded) == 2
        and type(decoded[0]) is int
        and _INT64_MIN <= decoded[0] <= _INT64_MAX  # what SQLite can bind
        and isinstance(decoded[1], str)
        and _encodable(decoded[1])
    ):
        raise _invalid()
    return PagePosition(decoded[0], decoded[1])


_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1


def _encodable(run_id: str) -> bool:
    # SQLite binds text as UTF-8, which a lone surrogate does not have; no run id ever holds one.
    try:
        run_id.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _invalid() -> WorkbenchError:
    return WorkbenchError(ErrorCode.INVALID_INPUT, "cursor is not a cursor returned by list_runs")
