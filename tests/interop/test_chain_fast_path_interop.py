"""The ledger's fast chain path against the reference: where `chain.plain_canonical` answers, its orjson
bytes are exactly what `serializeRunBundle` writes (the exact writer is compared in
test_canonical_json_interop.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.interop.node_process import NodeOracle
from tests.interop.test_canonical_json_interop import as_javascript_sees_it, ask, first_difference
from tests.ledger.test_chain_fast_path import events
from workbench_mcp.ledger import chain
from workbench_mcp.store.row_codec import dump_json

pytestmark = pytest.mark.interop

MIN_COMPARED = 300


@pytest.fixture(scope="module")
def oracle() -> Iterator[NodeOracle]:
    node = NodeOracle("canon_oracle.mjs")
    yield node
    node.close()


def test_fast_path_bytes_equal_serialize_run_bundle(oracle: NodeOracle) -> None:
    compared = 0

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(events, min_size=25, max_size=25))
    def batch(values: list[dict[str, Any]]) -> None:
        nonlocal compared
        plain: list[tuple[dict[str, Any], bytes]] = []
        for value in [as_javascript_sees_it(v) for v in values]:
            data = chain.plain_canonical(value, dump_json(value))
            if data is not None:
                plain.append((value, data))
        if not plain:
            return
        theirs = ask(oracle, {"op": "canonical", "values": [value for value, _ in plain]})
        ours = [data.decode("utf-8") for _, data in plain]
        assert ours == theirs, first_difference(ours, theirs, [value for value, _ in plain])
        compared += len(plain)

    batch()
    assert compared >= MIN_COMPARED
