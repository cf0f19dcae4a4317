"""Text PostgreSQL cannot hold, made storable: NUL.

Protocol strings may contain U+0000 (D22) and SQLite stores it in any TEXT column; PostgreSQL's text
refuses it. JSON columns never carry one (their JSON is ASCII-escaped, `\\u0000`), but ids and keys are
plain columns: an artifact key "k\\x00" must round-trip. So every string sent to the database has NUL
written as ESC "0" and ESC itself as ESC "1", and every text read back is decoded: a bijection, applied by
the connection's own str dumper and text loader, so no query needs to know. ESC is U+FDD0, a Unicode
noncharacter, so the rewrite touches (and costs a scan of) almost nothing else. Lone surrogates have no
UTF-8 form at all; as with SQLite, an id holding one is refused (INVALID_INPUT).
"""

from __future__ import annotations

import re
from typing import Any

import psycopg
from psycopg.adapt import Buffer
from psycopg.types.string import StrDumperUnknown, TextLoader

ESC = "\ufdd0"
_ESCAPED = re.compile(ESC + "([01])")


def escape(text: str) -> str:
    if "\x00" not in text and ESC not in text:
        return text
    return text.replace(ESC, ESC + "1").replace("\x00", ESC + "0")


def unescape(text: str) -> str:
    if ESC not in text:
        return text
    return _ESCAPED.sub(lambda m: "\x00" if m.group(1) == "0" else ESC, text)


class _NulSafeDumper(StrDumperUnknown):
    def dump(self, obj: str) -> Buffer | None:
        return super().dump(escape(obj))


class _NulSafeLoader(TextLoader):
    def load(self, data: Buffer) -> Any:
        text = super().load(data)
        return unescape(text) if isinstance(text, str) else text


def use_nul_safe_text(conn: psycopg.Connection[Any]) -> None:
    conn.adapters.register_dumper(str, _NulSafeDumper)
    conn.adapters.register_loader("text", _NulSafeLoader)
