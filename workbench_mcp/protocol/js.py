"""JavaScript semantics the reference runtime's output depends on, each defined once.

- `array_index`: the ECMAScript "array index" a property name denotes ("1", not "01" or "").
- `object_keys`: `Object.keys` order (array indices ascending, then insertion order), the order
  `JSON.stringify` writes members in.
- `WHITESPACE` and `to_number`: what `String.prototype.trim` strips and what `Number(text)` parses.

Rendering a number as `JSON.stringify` does is `canonical_json.js_number`; parsing text as
`Number()` does is `to_number` here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Final

MAX_ARRAY_INDEX: Final = 2**32 - 2
"""The largest array index: canonical integer strings below 2^32 - 1."""

WHITESPACE: Final = (
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000\ufeff"
)
"""ECMA-262 WhiteSpace and LineTerminator: what `trim()` (and so `Number()`) strips."""

# [0-9], not \d: Python's \d also matches other scripts' digits, which Number() refuses.
_DECIMAL: Final = re.compile(r"[+-]?(?:Infinity|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)")
_PREFIXED: Final = re.compile(r"0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+")
_DIGIT_AT_KEY_START: Final = re.compile(r"(?:\A|\x00)[0-9]")


def array_index(key: str) -> int | None:
    """The array index `key` denotes, else None."""
    if not key or len(key) > 10 or not (key.isascii() and key.isdigit()) or (key[0] == "0" and key != "0"):
        return None
    index = int(key)
    return index if index <= MAX_ARRAY_INDEX else None


def may_reorder(keys_joined: str) -> bool:
    """False when no key of `"\\x00".join(keys)` can be an array index, so `object_keys` keeps them as they are."""
    return _DIGIT_AT_KEY_START.search(keys_joined) is not None


def object_keys(obj: Mapping[str, object] | Iterable[str]) -> list[str]:
    """`Object.keys` order: array-index keys ascending, then the others in insertion order."""
    keys = list(obj)
    if not may_reorder("\x00".join(keys)):
        return keys
    indices = sorted((k for k in keys if array_index(k) is not None), key=int)
    if not indices:
        return keys
    index_set = set(indices)
    return indices + [k for k in keys if k not in index_set]


def to_number(text: str) -> float:
    """JavaScript's `Number(text)`: trimmed, "" is 0, hex/octal/binary prefixes, Infinity; else NaN."""
    stripped = text.strip(WHITESPACE)
    if not stripped:
        return 0.0
    try:
        if _PREFIXED.fullmatch(stripped):
            return float(int(stripped, 0))
        if _DECIMAL.fullmatch(stripped):
            return float(stripped.replace("Infinity", "inf"))
    except OverflowError:  # an integer literal beyond the double range
        return math.inf
    return math.nan
