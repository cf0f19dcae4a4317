"""The verified-token cache never outlives a token's `exp` (+ leeway) or its own max age, and stays bounded."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.servers import SECRET
from workbench_mcp.auth import AuthError, JwtVerifier, VerifiedTokens, mint_token
from workbench_mcp.config import JwtConfig
from workbench_mcp.principal import Principal

WHO = Principal("acme", "alice")


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_ends_at_exp_plus_leeway() -> None:
    clock = Clock()
    cache = VerifiedTokens(clock=clock, max_age_s=3600)
    cache.put("t", WHO, exp=clock.now + 10, leeway_s=5)
    assert cache.get("t") == WHO
    clock.now += 14.9
    assert cache.get("t") == WHO
    clock.now += 0.2
    assert cache.get("t") is None


def test_an_entry_ends_at_max_age_even_for_a_long_lived_token() -> None:
    clock = Clock()
    cache = VerifiedTokens(clock=clock, max_age_s=60)
    cache.put("t", WHO, exp=clock.now + 86_400, leeway_s=30)
    clock.now += 61
    assert cache.get("t") is None


def test_tokens_without_exp_or_too_long_are_not_kept_and_memory_is_bounded() -> None:
    cache = VerifiedTokens(capacity=3)
    cache.put("no-exp", WHO, exp=None, leeway_s=0)
    cache.put("x" * 10_000, WHO, exp=time.time() + 60, leeway_s=0)
    for n in range(10):
        cache.put(f"t{n}", WHO, exp=time.time() + 60, leeway_s=0)
    assert cache.get("no-exp") is None
    assert cache.get("x" * 10_000) is None
    assert [cache.get(f"t{n}") is not None for n in range(10)] == [False] * 7 + [True] * 3


async def test_an_expired_token_is_refused_although_it_verified_before() -> None:
    verifier = JwtVerifier(JwtConfig(secret=SECRET, leeway_seconds=0))
    token = mint_token(SECRET, user="alice", ttl_s=1)
    assert (await verifier.verify(token)).subject == "alice"
    await asyncio.sleep(2.1)  # real clock: exp is whole seconds
    with pytest.raises(AuthError, match="expired"):
        await verifier.verify(token)
