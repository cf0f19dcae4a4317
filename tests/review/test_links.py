"""Signed review links: bound to what they name, tamper-evident, expiring, keyed by a file all processes share."""

from __future__ import annotations

import os
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from workbench_mcp.config import ConfigError
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.review.links import (
    KEY_BYTES,
    LinkClaims,
    LinkSigner,
    default_key_path,
    load_or_create_key,
    read_key,
)

CLAIMS = LinkClaims("org_a", "run_1", "draft", "PAUSE_BEFORE", "bob", "rr_1", expires_at=2_000_000_000)
KEY = bytes(range(KEY_BYTES))


def _code(signer: LinkSigner, token: str, now: float = 1_900_000_000) -> ErrorCode:
    with pytest.raises(WorkbenchError) as caught:
        signer.verify(token, now=now)
    return caught.value.code


def test_a_minted_token_verifies_to_its_claims_and_its_url_is_under_the_base_url() -> None:
    signer = LinkSigner(KEY, "https://wb.example/")
    token = signer.mint(CLAIMS)

    assert signer.verify(token, now=1_900_000_000) == CLAIMS
    assert signer.url(token) == f"https://wb.example/review/{token}"
    assert token.startswith("v1.")
    assert all(c.isalnum() or c in "-_." for c in token)  # safe in a URL path as it is


def test_every_changed_character_makes_the_token_invalid() -> None:
    signer = LinkSigner(KEY, "")
    token = signer.mint(CLAIMS)
    for index in range(len(token)):
        if token[index] == ".":
            continue
        changed = token[:index] + ("A" if token[index] != "A" else "B") + token[index + 1 :]
        assert _code(signer, changed) is ErrorCode.REVIEW_LINK_INVALID, index


@pytest.mark.parametrize(
    "claims",
    [replace(CLAIMS, reviewer="mallory"), replace(CLAIMS, run_id="run_2"), replace(CLAIMS, tenant_id="org_b")],
)
def test_a_payload_swapped_under_another_signature_is_invalid(claims: LinkClaims) -> None:
    signer = LinkSigner(KEY, "")
    genuine, other = signer.mint(CLAIMS), signer.mint(claims)
    spliced = ".".join([*other.split(".")[:2], genuine.split(".")[2]])
    assert _code(signer, spliced) is ErrorCode.REVIEW_LINK_INVALID


@pytest.mark.parametrize(
    "token", ["", "v1", "v1..", "v2.e30.AAAA", "v1.e30.AAAA", "v1.!!!.AAAA", "x" * 5000, "v1.é.AAAA", "a.b.c.d"]
)
def test_malformed_tokens_are_invalid(token: str) -> None:
    assert _code(LinkSigner(KEY, ""), token) is ErrorCode.REVIEW_LINK_INVALID


def test_another_key_and_expiry_give_their_codes() -> None:
    token = LinkSigner(KEY, "").mint(CLAIMS)
    assert _code(LinkSigner(bytes(KEY_BYTES), ""), token) is ErrorCode.REVIEW_LINK_INVALID
    assert _code(LinkSigner(KEY, ""), token, now=CLAIMS.expires_at) is ErrorCode.REVIEW_LINK_EXPIRED
    assert LinkSigner(KEY, "").verify(token, now=CLAIMS.expires_at - 1) == CLAIMS


def test_an_expired_and_tampered_token_is_invalid_not_expired() -> None:
    """The signature is checked first: a forger learns nothing from the expiry."""
    token = LinkSigner(KEY, "").mint(CLAIMS)
    changed = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    assert _code(LinkSigner(KEY, ""), changed, now=CLAIMS.expires_at + 10) is ErrorCode.REVIEW_LINK_INVALID


def test_the_key_file_is_created_private_once_and_shared(tmp_path: Path) -> None:
    path = default_key_path(tmp_path / "workbench.db")
    key, created = load_or_create_key(path)
    again, created_again = load_or_create_key(path)

    assert path.name == "workbench.db.review-link-key"
    assert (created, created_again) == (True, False)
    assert key == again == read_key(path)
    assert len(key) == KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = LinkSigner(key, "").mint(CLAIMS)
    assert LinkSigner(again, "").verify(token, now=0) == CLAIMS  # another process with the same file


@pytest.mark.parametrize(("content", "mode"), [("00" * KEY_BYTES, 0o644), ("00" * 8, 0o600), ("not hex", 0o600)])
def test_a_key_file_that_is_readable_by_others_short_or_garbled_is_refused(
    tmp_path: Path, content: str, mode: int
) -> None:
    path = tmp_path / "key"
    path.write_text(content)
    os.chmod(path, mode)
    with pytest.raises(ConfigError):
        read_key(path)
    with pytest.raises(ConfigError):
        load_or_create_key(path)
