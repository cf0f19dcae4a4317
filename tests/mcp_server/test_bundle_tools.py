"""The export text cache keeps memory bounded whatever is exported."""

from __future__ import annotations

from workbench_mcp.mcp_server.bundle_tools import _PrettyTexts


def _retained(texts: _PrettyTexts) -> int:
    return sum(len(text) for _, text in texts._entries.values())


def test_exports_of_many_big_bundles_retain_a_bounded_amount_of_text() -> None:
    texts = _PrettyTexts()
    for i in range(40):  # 40 different big bundles: a big run is a new object on every export
        texts.of({"run": i, "blob": "x" * 2_000_000})
    assert _retained(texts) <= 16_000_000  # was 32 entries x 2 MB = 64 MB, each pinning its bundle too


def test_a_repeated_bundle_is_rendered_once_and_a_huge_one_not_kept() -> None:
    texts = _PrettyTexts(max_chars=4_000)
    small = {"a": 1}
    assert texts.of(small) is texts.of(small)
    texts.of({"blob": "x" * 2_000})
    assert _retained(texts) == len(texts.of(small))
