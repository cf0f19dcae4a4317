"""The order of Node's `a.localeCompare(b)` (ICU, en-US), used to sort bundle artifacts and rule sets.

docs/protocol.md 5.3: the reference sorts `artifacts` by `artifactKey` and `ruleSets` by `id` with
`localeCompare`, and the integrity hash covers that order. Three tiers:

1. Printable ASCII (the usual case) needs no dependency: ICU's order there equals sorting by
   (primary, tertiary), primary being each character's rank in `_ASCII_ORDER` after case folding,
   tertiary the "is uppercase" flags, lowercase first (verified against Node on random strings).
2. Anything else goes to an ICU collator when the `icu` module (PyICU; the `pyicu-wheels`
   distribution bundles ICU) is importable. It matches Node 20's ICU for every character both
   ICU versions know; only code points assigned after the older one's Unicode version can differ.
3. Without ICU, `_fallback_key` approximates (NFD base letters, marks, case); documented as inexact.

Ties: `localeCompare` returns 0 for distinct strings that differ only in completely ignorable
characters (most C0 controls: "a" vs "a\\x01") or by canonical equivalence ("\\u00e9" vs
"e\\u0301"). JavaScript's sort is stable, so tied items keep their input order; `sort_by_locale`
sorts stably on equal keys and so does the same.
"""

from __future__ import annotations

import functools
import importlib
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

T = TypeVar("T")

ICU_LOCALE: Final = "en_US"

# docs/protocol.md 5.3; the first character is a space. Uppercase letters share their lowercase rank.
_ASCII_ORDER: Final = " _-,;:!?.'\"()[]{}@*/\\&#%`^+<=>|~$0123456789abcdefghijklmnopqrstuvwxyz"
_PRIMARY: Final = str.maketrans(
    {c: chr(0x41 + i) for i, c in enumerate(_ASCII_ORDER)}
    | {c.upper(): chr(0x41 + i) for i, c in enumerate(_ASCII_ORDER) if c.isalpha()}
)
_TERTIARY: Final = str.maketrans({chr(c): "1" if chr(c).isupper() else "0" for c in range(0x20, 0x7F)})

AsciiKey = tuple[str, str]


def _is_printable_ascii(text: str) -> bool:
    return text.isascii() and text.isprintable()


def _ascii_key(text: str) -> AsciiKey:
    return text.translate(_PRIMARY), text.translate(_TERTIARY)


@functools.cache
def _icu_collator() -> Any | None:
    # Imported by name: ICU is optional, and PyICU ships without type information.
    try:
        icu = importlib.import_module("icu")
    except ImportError:
        return None
    return icu.Collator.createInstance(icu.Locale(ICU_LOCALE))


def icu_version() -> str | None:
    """The ICU version used for non-ASCII strings, or None when the approximation is in use."""
    if _icu_collator() is None:
        return None
    return str(importlib.import_module("icu").ICU_VERSION)


def locale_compare(a: str, b: str) -> int:
    """Sign of `a.localeCompare(b)` in Node: -1, 0 or 1."""
    if _is_printable_ascii(a) and _is_printable_ascii(b):
        ka, kb = _ascii_key(a), _ascii_key(b)
        return (ka > kb) - (ka < kb)
    collator = _icu_collator()
    if collator is not None:
        return int(collator.compare(a, b))
    fa, fb = _fallback_key(a), _fallback_key(b)
    return (fa > fb) - (fa < fb)


class LocaleKey:
    """Sort key in `localeCompare` order; equal means `localeCompare` would return 0.

    Unhashable on purpose: equality is collation equality ("a" == "a\\x01"), not string identity.
    """

    __slots__ = ("_ascii", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._ascii = _ascii_key(text) if _is_printable_ascii(text) else None

    def _compare(self, other: LocaleKey) -> int:
        if self._ascii is not None and other._ascii is not None:
            return (self._ascii > other._ascii) - (self._ascii < other._ascii)
        return locale_compare(self.text, other.text)

    def __lt__(self, other: LocaleKey) -> bool:
        return self._compare(other) < 0

    def __le__(self, other: LocaleKey) -> bool:
        return self._compare(other) <= 0

    def __gt__(self, other: LocaleKey) -> bool:
        return self._compare(other) > 0

    def __ge__(self, other: LocaleKey) -> bool:
        return self._compare(other) >= 0

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LocaleKey):
            return NotImplemented
        return self._compare(other) == 0

    def __repr__(self) -> str:
        return f"LocaleKey({self.text!r})"


def locale_sort_key(text: str) -> LocaleKey:
    """A key for `sorted()` that orders strings like `localeCompare`."""
    return LocaleKey(text)


def sort_by_locale(items: Sequence[T], key: Callable[[T], str]) -> list[T]:
    """`[...items].sort((a, b) => key(a).localeCompare(key(b)))`, stable like JavaScript's sort."""
    texts = [key(item) for item in items]
    keys = _sort_keys(texts)
    order = sorted(range(len(items)), key=keys.__getitem__)
    return [items[i] for i in order]


def _sort_keys(texts: list[str]) -> list[Any]:
    # One key kind for the whole list: ASCII table keys and ICU byte keys are not comparable.
    if all(_is_printable_ascii(t) for t in texts):
        return [_ascii_key(t) for t in texts]
    collator = _icu_collator()
    if collator is not None:
        return [collator.getSortKey(t) for t in texts]
    return [_fallback_key(t) for t in texts]


# ---------------------------------------------------------------------------------------------
# Approximation without ICU: right for printable ASCII, plausible elsewhere, not exact.
# ---------------------------------------------------------------------------------------------

_ASCII_RANK: Final = {c: i for i, c in enumerate(_ASCII_ORDER)}
_SPACE_LIKE_CONTROLS: Final = "\t\n\v\f\r"  # they have primary weights below space in ICU
_FIRST_DIGIT_RANK: Final = _ASCII_RANK["0"]
_FIRST_LETTER_RANK: Final = _ASCII_RANK["a"]

FallbackKey = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]


def _fallback_key(text: str) -> FallbackKey:
    primary: list[int] = []
    secondary: list[int] = []
    tertiary: list[int] = []
    for char in unicodedata.normalize("NFD", text):
        weight = _fallback_primary(char)
        if weight is None:
            if unicodedata.combining(char):
                secondary.append(ord(char))
            continue
        primary.append(weight)
        tertiary.append(1 if char.isupper() else 0)
    return tuple(primary), tuple(secondary), tuple(tertiary)


def _fallback_primary(char: str) -> int | None:
    # Bands mirror ICU's groups: whitespace < punctuation/symbols < digits < letters.
    rank = _ASCII_RANK.get(char.lower()) if char.isascii() else None
    if rank is not None:
        band = 2 if rank < _FIRST_DIGIT_RANK else 4 if rank < _FIRST_LETTER_RANK else 5
        return (band << 24) + rank
    if char in _SPACE_LIKE_CONTROLS:
        return (1 << 24) + _SPACE_LIKE_CONTROLS.index(char)
    category = unicodedata.category(char)
    if category[0] in "CM" and category not in ("Co", "Cs"):
        return None  # controls, format characters and marks: ignorable at the primary level
    folded = ord(char.lower()[0])
    if category[0] == "L":
        return (6 << 24) + folded
    if category[0] == "N":
        return (4 << 24) + 0x100 + folded
    return (3 << 24) + folded
