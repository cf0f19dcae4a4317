"""Differential tests: our JSON writers and collation against the real @llm-workbench/runtime.

Every comparison is byte-for-byte against what Node produces with the reference's own functions
(`serializeRunBundle`, `encodeArtifactPayloadBytes`, `computeRunBundleIntegrity`) or the V8/ICU
primitives the reference calls (`JSON.stringify`, `localeCompare`, `crypto.subtle`).
"""

from __future__ import annotations

import base64
import json
import unicodedata
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.interop.node_process import NodeOracle
from workbench_mcp.protocol.canonical_json import (
    MAX_SAFE_INTEGER,
    artifact_canonical_json,
    canonical_json,
    compact_json,
    parse_json,
    pretty_json,
    sha256_hex,
)
from workbench_mcp.protocol.collation import sort_by_locale

pytestmark = pytest.mark.interop

MIN_COMPARED = 2_000
BATCH = 25


@pytest.fixture(scope="module")
def oracle() -> Iterator[NodeOracle]:
    node = NodeOracle("canon_oracle.mjs")
    yield node
    node.close()


def ask(oracle: NodeOracle, request: dict[str, Any]) -> Any:
    answer = oracle.ask(request)
    assert answer["ok"], answer
    return answer["result"]


# --- value generators -----------------------------------------------------------------------

_EDGE_FLOATS = [
    1e21, 1e20, 1e16, 1e-7, 1e-6, 1e-4, 9.99e-5, 5e-324, -5e-324, -0.0, 0.0, 1.7976931348623157e308,
    -1.7976931348623157e308, 2.0**53, 2.0**60, 0.1, 123e-20, 1.5, 5.0, 999999999999999900000.0,
]  # fmt: skip
_EDGE_CHARS = list('\x00\x01\x1f\x7f\u2028\u2029"\\/\b\f\n\r\t\ud800\udbff\udc00\udfff\ue000\uffff😀𐀀é')
_chars = st.one_of(
    st.characters(max_codepoint=0x7F),
    st.characters(),  # any code point except surrogates
    st.characters(min_codepoint=0x10000),
    st.sampled_from(_EDGE_CHARS),
)
_strings = st.text(alphabet=_chars, max_size=8)
_keys = st.one_of(
    _strings,
    st.integers(0, 2**32 + 5).map(str),
    st.sampled_from(["__proto__", "4294967294", "4294967295", "01", "-1", "0", "1.5", "", "\uffff", "😀", "\ud800"]),
)
_numbers = st.one_of(
    st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER),
    st.integers(-1000, 1000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=-1e-3, max_value=1e-3, allow_nan=False),
    st.floats(min_value=1e15, max_value=1e22),
    st.sampled_from(_EDGE_FLOATS),
)
_leaves = st.one_of(st.none(), st.booleans(), _numbers, _strings)
json_values = st.recursive(
    _leaves,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(_keys, children, max_size=5),
    max_leaves=12,
)


def as_javascript_sees_it(value: Any) -> Any:
    """The value JSON.parse builds in Node from our request (surrogate-pair code points merge)."""
    return json.loads(json.dumps(value, ensure_ascii=True))


def run_batches(check: Callable[[list[Any]], None], *, examples: int = MIN_COMPARED // BATCH + 10) -> int:
    """Run `check` on hypothesis-drawn batches of JSON values; return how many values were compared."""
    compared = 0

    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(st.lists(json_values, min_size=BATCH, max_size=BATCH))
    def batch(values: list[Any]) -> None:
        nonlocal compared
        values = [as_javascript_sees_it(v) for v in values]
        check(values)
        compared += len(values)

    batch()
    return compared


def first_difference(ours: list[str], theirs: list[str], values: list[Any]) -> str:
    for mine, ref, value in zip(ours, theirs, values, strict=True):
        if mine != ref:
            return f"value={value!r}\nours  ={mine!r}\nnode  ={ref!r}"
    return ""


# --- JSON writers ---------------------------------------------------------------------------


def test_canonical_json_equals_serialize_run_bundle(oracle: NodeOracle) -> None:
    def check(values: list[Any]) -> None:
        theirs = ask(oracle, {"op": "canonical", "values": values})
        ours = [canonical_json(v) for v in values]
        assert ours == theirs, first_difference(ours, theirs, values)

    assert run_batches(check) >= MIN_COMPARED


def test_artifact_encoding_equals_encode_artifact_payload_bytes(oracle: NodeOracle) -> None:
    def check(values: list[Any]) -> None:
        theirs = ask(oracle, {"op": "artifact", "values": values})
        ours = [artifact_canonical_json(v) for v in values]
        ref_texts = [base64.b64decode(r["base64"]).decode("utf-8") for r in theirs]
        assert [o.encode("utf-8") for o in ours] == [base64.b64decode(r["base64"]) for r in theirs], first_difference(
            ours, ref_texts, values
        )
        assert [sha256_hex(o) for o in ours] == [r["sha256"] for r in theirs]

    assert run_batches(check) >= MIN_COMPARED


def test_pretty_and_compact_equal_json_stringify(oracle: NodeOracle) -> None:
    def check(values: list[Any]) -> None:
        pretty = ask(oracle, {"op": "pretty", "values": values})
        ours = [pretty_json(v) for v in values]
        assert ours == pretty, first_difference(ours, pretty, values)
        compact = ask(oracle, {"op": "compact", "values": values})
        ours = [compact_json(v) for v in values]
        assert ours == compact, first_difference(ours, compact, values)

    assert run_batches(check) >= MIN_COMPARED


def test_spec_examples_against_the_reference(oracle: NodeOracle) -> None:
    value = {"b": 1, "10": 2, "2": 3, "a": 4}
    assert ask(oracle, {"op": "canonical", "values": [value]}) == [canonical_json(value)]
    artifact = ask(oracle, {"op": "artifact", "values": [value, {"__proto__": {"x": 1}, "b": 2}]})
    assert [base64.b64decode(a["base64"]).decode() for a in artifact] == [
        '{"2":3,"10":2,"a":4,"b":1}',
        '{"b":2}',
    ]


def test_integrity_hash_equals_compute_run_bundle_integrity(oracle: NodeOracle) -> None:
    sections = st.lists(json_values, max_size=4)
    payload = st.fixed_dictionaries(
        {
            "run": st.dictionaries(_keys, json_values, max_size=4),
            "trace": sections,
            "artifacts": sections,
            "ruleSets": sections,
        },
        optional={"engine": st.dictionaries(_keys, json_values, max_size=3)},
    )
    compared = 0

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(payload, min_size=4, max_size=4))
    def check(payloads: list[dict[str, Any]]) -> None:
        nonlocal compared
        payloads = [as_javascript_sees_it(p) for p in payloads]
        theirs = ask(oracle, {"op": "integrity", "payloads": payloads})
        assert [sha256_hex(canonical_json(p)) for p in payloads] == theirs
        compared += len(payloads)

    check()
    assert compared >= 200


def test_sha256_equals_crypto_subtle(oracle: NodeOracle) -> None:
    texts = ["", "abc", "é😀\u2028", "x" * 100_000] + [canonical_json(["\ud800", i, 1e-7 * i]) for i in range(50)]
    assert ask(oracle, {"op": "sha256", "texts": texts}) == [sha256_hex(t) for t in texts]


def test_parsed_numbers_render_like_javascript(oracle: NodeOracle) -> None:
    literals = [
        "0", "-0", "1.0", "1e2", "1E-7", "0.1e1", "123456789012345.6789", "1.00000000000000011102230246251565",
        "2.2250738585072011e-308", "4.9e-324", "1e-400", "9007199254740991", "9007199254740992",
        "100000000000000000000", "1152921504606847000", "1e21", "123e18", "0.000001", "0.0000001",
        "1.7976931348623157e308", "-1.5e-10", "12345678901234567e-5",
    ]  # fmt: skip
    literals += [repr(float(n) / 7.0**k) for n in range(1, 40) for k in (-30, -3, 0, 5, 40)]
    texts = [f'{{"v":[{lit}]}}' for lit in literals]
    theirs = ask(oracle, {"op": "parse", "texts": texts})
    assert all(t["ok"] for t in theirs)
    assert [compact_json(parse_json(t)) for t in texts] == [t["compact"] for t in theirs]


def realistic_bundle(events: int) -> dict[str, Any]:
    """A bundle shaped like a real export: artifact writes and model calls with nested data."""
    run_id = "run_8f9fbb0d-3a61-4264-b9f4-3b81e7dc6b44"
    trace: list[dict[str, Any]] = []
    for i in range(events):
        common = {"id": f"evt_{i:08d}-3a61-4264-b9f4-3b81e7dc6b44", "runId": run_id, "ts": "2026-11-22T04:25:40.105Z"}
        if i % 2:
            data = {
                "name": "Ada Lovelace",
                "city": "Zürich 東京 😀",
                "skills": ["py", "ts"],
                "score": i / 7,
                "years": i % 40,
                "remote": i % 3 == 0,
                "notes": None,
                "10": "x",
                "2": "y",
            }
            artifact = {
                "artifactKey": f"key{i % 20}",
                "typeId": "demo.profile",
                "version": i // 20 + 1,
                "createdAt": "2026-11-22T04:25:40.105Z",
                "data": data,
            }
            trace.append({**common, "stepId": "parser1", "type": "artifact_written", "artifact": artifact})
        else:
            cost = {"amount": i * 3e-7, "currency": "USD"}
            usage = {"inputTokens": i, "outputTokens": 2 * i}
            trace.append(
                {
                    **common,
                    "type": "model_io",
                    "direction": "response",
                    "usage": usage,
                    "cost": cost,
                    "durationMs": i * 1.25,
                    "payload": {"text": "\u2028 line\nbreak", "n": 1e21 + i},
                }
            )
    run = {
        "id": run_id,
        "workflowId": "wf",
        "workflowVersion": 1,
        "startedAt": "2026-11-22T04:25:40.105Z",
        "status": "running",
        "workflowSnapshot": {"id": "wf", "version": 1, "steps": [], "edges": []},
    }
    return {"protocolVersion": "1.0.0", "run": run, "trace": trace, "artifacts": [], "ruleSets": []}


def test_realistic_bundle_is_byte_identical(oracle: NodeOracle) -> None:
    bundle = realistic_bundle(2_000)
    assert ask(oracle, {"op": "canonical", "values": [bundle]}) == [canonical_json(bundle)]
    assert ask(oracle, {"op": "pretty", "values": [bundle]}) == [pretty_json(bundle)]
    body = {k: bundle[k] for k in ("run", "trace", "artifacts", "ruleSets")}
    assert ask(oracle, {"op": "integrity", "payloads": [body]}) == [sha256_hex(canonical_json(body))]


# --- collation ------------------------------------------------------------------------------

_PRINTABLE = [chr(c) for c in range(0x20, 0x7F)]
# Characters assigned in Python's Unicode database: both Node's ICU and ours know them (ICU
# versions differ only on code points assigned later).
_ASSIGNED = st.characters(exclude_categories=["Cn", "Co", "Cs"])
_collation_strings = st.one_of(
    st.text(alphabet=st.sampled_from(_PRINTABLE), max_size=8),
    st.text(alphabet=st.sampled_from(list("aAbB_-. 019")), max_size=4),  # dense near-ties
)
_unicode_strings = st.one_of(
    _collation_strings,
    st.text(alphabet=_ASSIGNED, max_size=6),
    st.builds(
        lambda a, b: a + b, st.sampled_from(["a", "A", "e", "é", "e\u0301", "ab", ""]), st.text(_ASSIGNED, max_size=3)
    ),
    st.sampled_from(["a\x01", "a", "\u00e9", "e\u0301", "\ud800", "a\udc00", "😀", "\t", "\n"]),
)


def _collation_differential(oracle: NodeOracle, strings: st.SearchStrategy[str]) -> int:
    compared = 0

    @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(strings, min_size=200, max_size=200))
    def check(texts: list[str]) -> None:
        nonlocal compared
        theirs = ask(oracle, {"op": "sort", "strings": texts})
        ours = sort_by_locale(list(range(len(texts))), texts.__getitem__)
        if ours != theirs:
            at = next(i for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b)
            pytest.fail(f"order differs at {at}: ours {texts[ours[at]]!r}, node {texts[theirs[at]]!r}")
        compared += len(texts)

    check()
    return compared


def test_ascii_collation_equals_locale_compare(oracle: NodeOracle) -> None:
    assert _collation_differential(oracle, _collation_strings) >= MIN_COMPARED


def test_unicode_collation_equals_locale_compare(oracle: NodeOracle) -> None:
    assert _collation_differential(oracle, _unicode_strings) >= MIN_COMPARED


def test_spec_collation_examples_against_node(oracle: NodeOracle) -> None:
    for expected in (["_k", "10", "9", "a", "A", "b", "B"], ["a b", "a_b", "a-b", "a.b", "ab", "aB", "Ab"]):
        shuffled = list(reversed(expected))
        order = ask(oracle, {"op": "sort", "strings": shuffled})
        assert [shuffled[i] for i in order] == expected
        assert sort_by_locale(shuffled, lambda s: s) == expected


def test_python_unicode_database_is_not_newer_than_nodes(oracle: NodeOracle) -> None:
    # _ASSIGNED relies on Python's database being a subset of what Node's ICU knows.
    versions = ask(oracle, {"op": "versions"})
    node_unicode = tuple(int(p) for p in versions["unicode"].split("."))
    assert tuple(int(p) for p in unicodedata.unidata_version.split(".")) <= node_unicode + (0,) * 3
