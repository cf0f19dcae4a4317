"""Hypothesis settings for the fuzz suite: fixed and derandomized in CI, random (and scalable) locally."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "150"))
_IN_CI = os.environ.get("CI", "").lower() == "true"

FUZZ = settings(
    max_examples=_EXAMPLES,
    deadline=None,  # a live server on a shared 2-core machine: latency is not what is tested
    derandomize=_IN_CI,  # the same examples on every CI run; new ones on every local run
    database=None if _IN_CI else settings().database,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
"""Decorator for the fuzz tests (`@FUZZ @given(...)`)."""
