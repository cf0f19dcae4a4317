"""The order of Node's `a.localeCompare(b)` (ICU, en-US), used to sort bundle artifacts and rule sets.

docs/protocol.md 5.3: the reference sorts `artifacts` by `artifactKey` and `ruleSets` by `id` with
`localeCompare`, and the integrity hash covers that order. Two tiers:

1. Printable ASCII (the usual case) needs no dependency: ICU's order there equals sorting by
   (primary, tertiary), primary being each character's rank in `_ASCII_ORDER` after case folding,
   tertiary the "is uppercase" flags, lowercase first (verified against Node on random strings).
2. Anything else goes to an ICU collator (PyICU; the `pyicu-wheels` distribution bundles ICU, a
   hard dependency). It matches Node 20's ICU for every character both ICU versions know; only
   code points assigned after the older one's Unicode version can differ.

Ties: `localeCompare` returns 0 for distinct strings that differ only in completely ignorable
characters (most C0 controls: "a" vs "a\\x01") or by canonical equivalence ("\\u00e9" vs
"e\\u0301"). JavaScript's sort is stable, so tied items keep their input order; `sort_by_locale`
sorts stably on equal keys and so does the same.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, Final, TypeVar

import icu  # type: ignore[import-untyped]  # PyICU ships without type information

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
def _icu_collator() -> Any:
    return icu.Collator.createInstance(icu.Locale(ICU_LOCALE))


def icu_version() -> str:
    """The ICU version used for non-ASCII strings."""
    return str(icu.ICU_VERSION)


def locale_compare(a: str, b: str) -> int:
    """Sign of `a.localeCompare(b)` in Node: -1, 0 or 1."""
    if _is_printable_ascii(a) and _is_printable_ascii(b):
        ka, kb = _ascii_key(a), _ascii_key(b)
        return (ka > kb) - (ka < kb)
    return int(_icu_collator().compare(a, b))


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
    return [collator.getSortKey(t) for t in texts]
