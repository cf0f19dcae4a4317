"""Differential test: `workbench_mcp.engine.json_patch` against the REAL fast-json-patch (6.7).

`tests/interop/patch_oracle.mjs` runs `applyPatch(structuredClone(doc), patch, true, false)` exactly as
`patchArtifact` in @llm-workbench/runtime 0.3.3 does. Hypothesis generates documents with a small key
alphabet (so paths hit), and 1-4 operations per document built from the document's own paths and their
near misses (index = length, length + 1, `-`, `01`, missing keys, `~0`/`~1`, `""`, `__proto__`,
`constructor`, `length`, ...). Every pair is compared on outcome (same document, member order included,
or both failed) and, since the module reproduces them, on the exact error message. (The library also
leaves the patch changed: op values are inserted by reference, so later ops can change them, and the
reference records that changed patch; `patchArtifact` records the patch as sent, D28, so that is not
compared here: `scenarios/20_patch_recorded_as_sent_d28.json` states the difference.)

The only pairs not compared are our deliberate deviations (`PatchError.reference_differs`, listed in the
module docstring): there the reference puts `undefined`, a function or a cycle into the document. They
are counted, and the converse is asserted: whenever the reference produces such a non-JSON document,
we must be in a deliberate deviation.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.interop.node_process import NodeOracle
from workbench_mcp.engine.json_patch import PatchError, apply_patch
from workbench_mcp.protocol.js import object_keys

pytestmark = pytest.mark.interop

# Pairs per oracle request. Hypothesis caps the choices one example may make: 200 cases per example
# overrun that cap (nearly every example is discarded, minutes spent), 100 fit comfortably.
BATCH = 100
BATCHES = 24  # hypothesis examples; each is one batch
MIN_PAIRS = 2_000


@pytest.fixture(scope="module")
def oracle() -> Iterator[NodeOracle]:
    node = NodeOracle("patch_oracle.mjs")
    yield node
    node.close()
    # NodeOracle.close() leaves stdout open; with filterwarnings=error the ResourceWarning would fail.
    stdout = getattr(getattr(node, "_proc", None), "stdout", None)
    if stdout is not None and not stdout.closed:
        stdout.close()


# --------------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------------


def js_shape(value: Any) -> Any:
    """A comparable form with JavaScript semantics: member order as JS enumerates it, numbers as doubles."""
    if isinstance(value, dict):
        return ("object", [(k, js_shape(value[k])) for k in object_keys(value)])
    if isinstance(value, list):
        return ("array", [js_shape(v) for v in value])
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        try:
            return ("number", float(value))
        except OverflowError:
            return ("number", float("inf") if value > 0 else float("-inf"))
    return (type(value).__name__, value)


@dataclass
class Tally:
    compared: int = 0
    both_ok: int = 0
    both_failed: int = 0
    deviations: Counter[str] = field(default_factory=Counter)
    differences: list[str] = field(default_factory=list)


def ours(doc: Any, patch: list[Any]) -> dict[str, Any]:
    before = json.dumps([doc, patch])
    try:
        result: dict[str, Any] = {"ok": True, "doc": apply_patch(doc, patch)}
    except PatchError as error:
        result = {"ok": False, "message": str(error), "deviation": error.reference_differs, "name": error.name}
    assert json.dumps([doc, patch]) == before, "apply_patch mutated its input"
    return result


def compare(case: dict[str, Any], theirs: dict[str, Any], tally: Tally) -> None:
    mine = ours(case["doc"], case["patch"])
    tally.compared += 1
    if not mine["ok"] and mine["deviation"]:
        tally.deviations[mine["name"]] += 1
        return
    problem = None
    if theirs["ok"] and "nonJson" in theirs:
        problem = f"reference produced a non-JSON document ({theirs['nonJson']}) but we did not deviate"
    elif mine["ok"] != theirs["ok"]:
        problem = "outcome differs"
    elif mine["ok"]:
        if js_shape(mine["doc"]) != js_shape(theirs["doc"]):
            problem = "document differs"
        else:
            tally.both_ok += 1
    elif mine["message"] != theirs["message"]:
        problem = "message differs"
    else:
        tally.both_failed += 1
    if problem:
        tally.differences.append(
            f"{problem}\n  case: {json.dumps(case)}\n  ours: {json.dumps(mine)}\n  node: {json.dumps(theirs)}"
        )


def run_batch(oracle: NodeOracle, cases: list[dict[str, Any]], tally: Tally) -> None:
    answer = oracle.ask({"cases": cases})
    assert "harnessError" not in answer, answer
    results = answer["results"]
    assert len(results) == len(cases)
    for case, theirs in zip(cases, results, strict=True):
        compare(case, theirs, tally)


# --------------------------------------------------------------------------------------------------
# Generators
# --------------------------------------------------------------------------------------------------

KEYS = ["a", "b", "c", "", "0", "1", "01", "-", "~", "/", "a~b", "x/y", "length", "toString", "constructor"]
KEYS += ["hasOwnProperty", "__proto__", "prototype", "undefined", "é"]
MISSING_OBJECT_KEYS = ["zz", "constructor", "toString", "valueOf", "hasOwnProperty", "__proto__", "length", ""]
MISSING_OBJECT_KEYS += ["~", "/", "constructor/prototype", "a/b", "undefined"]
# A handful of unescaped raw segments: `~0`, `~1` and invalid escapes survive as literal text.
RAW_SEGMENTS = ["~0", "~1", "a~1b", "~01", "~2", "~"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 12),
    st.sampled_from([2**31, 2**32 + 1, 2**53, 2**53 + 1, -(2**53), 10**21]),
    st.sampled_from([0.5, 1.0, -0.0, 0.0, 1e21, 1.5e-7, -2.5, 3.0]),
    st.sampled_from(["", "a", "b", "abc", "é", "😀", "0", "length", "x~y/z"]),
    st.text(alphabet="ab~/0", max_size=3),
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=3),
    max_leaves=8,
)
documents = st.one_of(
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=5),
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=5),
    st.dictionaries(st.sampled_from(KEYS), json_values, max_size=5),
    st.lists(json_values, max_size=4),
    scalars,
)


def escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def nodes(doc: Any, pointer: str = "") -> Iterator[tuple[str, Any]]:
    yield pointer, doc
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from nodes(value, f"{pointer}/{escape(key)}")
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            yield from nodes(value, f"{pointer}/{i}")


def near_misses(pointer: str, value: Any) -> list[str]:
    if isinstance(value, dict):
        tails = [escape(k) for k in MISSING_OBJECT_KEYS] + RAW_SEGMENTS + ["zz/a", "constructor/prototype"]
    elif isinstance(value, list):
        n = len(value)
        tails = [str(n), str(n + 1), "-", "01", "00", "", "4294967296", "4294967297", "4294967295", "length"]
        tails += ["-1", "1.0", "map", "0/x", "-/x", "length/x"]
    else:
        tails = ["x", "0", "length", "toString"]
    return [f"{pointer}/{tail}" for tail in tails]


@dataclass
class Paths:
    existing: list[str]  # every node of the document, root included
    misses: list[str]  # near misses around every node

    def strategy(self) -> st.SearchStrategy[str]:
        # Mostly real targets, so that whole patches often succeed; near misses otherwise.
        return st.one_of(st.sampled_from(self.existing), st.sampled_from(self.existing), st.sampled_from(self.misses))

    def for_move_or_copy(self) -> st.SearchStrategy[str]:
        # The root is rarer here: a root target with a missing source, and a move from the root, are
        # deliberate deviations, which would otherwise take up a tenth of the comparisons.
        inner = [p for p in self.existing if p] or [""]
        return st.one_of(st.sampled_from(inner), st.sampled_from(inner), st.sampled_from(self.misses), st.just(""))


def candidate_paths(doc: Any) -> Paths:
    paths = Paths([], [])
    for pointer, value in nodes(doc):
        paths.existing.append(pointer)
        paths.misses.extend(near_misses(pointer, value))
    return paths


@st.composite
def operations(draw: st.DrawFn, paths: Paths, values: list[Any], earlier: list[str]) -> dict[str, Any]:
    kind = draw(st.sampled_from(["add", "add", "remove", "replace", "replace", "move", "copy", "test", "test"]))
    path_choices = paths.for_move_or_copy() if kind in ("move", "copy") else paths.strategy()
    if earlier:  # build on paths earlier ops created or touched
        path_choices = path_choices | st.builds(
            lambda base, key: f"{base}/{key}", st.sampled_from(earlier), st.sampled_from(["a", "0", "-", "x", "1"])
        )
    op: dict[str, Any] = {"op": kind, "path": draw(path_choices)}
    if kind in ("add", "replace", "test"):
        op["value"] = copy.deepcopy(draw(st.sampled_from(values) | json_values))
    if kind in ("move", "copy"):
        odd = draw(st.integers(0, 19))
        if odd == 18:  # no leading "/": the first segment is skipped
            op["from"] = "x" + draw(st.sampled_from(paths.existing + paths.misses))
        elif odd == 19:  # no "/" at all: property "undefined"
            op["from"] = draw(st.sampled_from(["abc", "a", "undefined"]))
        else:
            op["from"] = draw(paths.for_move_or_copy())
    # About one op in ten is malformed (the reference checks shapes too); 0 shrinks to well-formed.
    malformed = draw(st.integers(0, 39))
    if malformed == 36:
        op["op"] = draw(st.sampled_from(["foo", "ADD", "", None, 1]))
    elif malformed == 37:
        op["path"] = draw(st.sampled_from(["a", "a/b", "~1", None, 3]))
    elif malformed == 38:
        op.pop("value", None)
        op.pop("from", None)
    elif malformed == 39:
        del op["path"]
    return op


@st.composite
def cases(draw: st.DrawFn) -> dict[str, Any]:
    doc = draw(documents)
    paths = candidate_paths(doc)
    values = [value for _, value in nodes(doc)]
    patch: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 4))):
        op = draw(operations(paths, values, [o["path"] for o in patch if isinstance(o.get("path"), str)]))
        patch.append(op)
    return {"doc": doc, "patch": patch}


# --------------------------------------------------------------------------------------------------
# Tests
# --------------------------------------------------------------------------------------------------


def test_random_patches_match_the_reference(oracle: NodeOracle) -> None:
    tally = Tally()

    @settings(
        max_examples=BATCHES,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(st.lists(cases(), min_size=BATCH, max_size=BATCH))
    def batch(generated: list[dict[str, Any]]) -> None:
        before = len(tally.differences)
        run_batch(oracle, generated, tally)
        new = tally.differences[before:]
        assert not new, f"{len(new)} difference(s); first ones:\n" + "\n".join(new[:5])

    batch()
    assert tally.differences == []
    assert tally.compared >= MIN_PAIRS
    # The comparison must stay meaningful: both outcomes well represented, deviations rare (about 4% of
    # pairs on average; Hypothesis correlates the cases of one batch, so single runs vary up to ~7%).
    assert tally.both_ok >= tally.compared // 5, tally
    assert tally.both_failed >= tally.compared // 10, tally
    assert sum(tally.deviations.values()) <= tally.compared // 10, tally


# Hand-picked quirks (the module docstring's list), each checked against the real library.
# A patch is any JSON list here: some entries are deliberately not operation objects.
QUIRKS: list[tuple[Any, list[Any]]] = [
    ({"a": [1, 2, 3]}, [{"op": "add", "path": "/a/01", "value": 9}]),
    ({"a": [1, 2, 3]}, [{"op": "add", "path": "/a/", "value": 9}]),
    ({"a": [1, 2, 3]}, [{"op": "add", "path": "/a/4294967297", "value": 9}]),
    ({"a": [1, 2, 3]}, [{"op": "add", "path": "/a/4294967295", "value": 9}]),
    ({"a": [1, 2, 3]}, [{"op": "add", "path": "/a/4", "value": 9}]),
    ({"a": [1, 2, 3]}, [{"op": "add", "path": "/a/-", "value": 9}]),
    ({"a": [1, 2, 3]}, [{"op": "remove", "path": "/a/01"}]),
    ({"a": [1, 2, 3]}, [{"op": "replace", "path": "/a/3", "value": 0}]),
    ({"a": [1, 2, 3]}, [{"op": "test", "path": "/a/01", "value": 2}]),
    ({"a": [1, 2, 3]}, [{"op": "test", "path": "/a/x", "value": 2}]),
    ({"a": [1, 2, 3]}, [{"op": "copy", "from": "/a/length", "path": "/n"}]),
    ({"a": [1, 2, 3]}, [{"op": "move", "from": "/a/length", "path": "/n"}]),
    ({"a": [1, 2, 3]}, [{"op": "move", "from": "/a/map", "path": "/n"}]),
    ({"a": [1, 2, 3]}, [{"op": "copy", "from": "/a/0", "path": "/a/9"}]),
    ({"a": [1, 2, 3]}, [{"op": "move", "from": "/a/0", "path": "/a/-"}]),
    ({"a": {}}, [{"op": "replace", "path": "/a/toString", "value": 1}]),
    ({"a": {}}, [{"op": "remove", "path": "/a/toString"}]),
    ({"a": {}}, [{"op": "remove", "path": "/a/missing"}]),
    ({"a": {"b": None}}, [{"op": "remove", "path": "/a/b"}]),
    ({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/b"}]),
    ({"a": {"b": 1}, "c": 2}, [{"op": "move", "from": "/a", "path": "/a"}]),
    ({"a": {"b": 1}}, [{"op": "copy", "from": "", "path": "/x"}]),
    ({"a": {"b": 1}}, [{"op": "copy", "from": "x/a", "path": "/y"}]),
    ({"a": {"b": 1}}, [{"op": "copy", "from": "x/q", "path": "/y"}]),
    ({"a": {"b": 1}, "undefined": 5}, [{"op": "move", "from": "abc", "path": "/y"}]),
    ({"a": {"b": 1}}, [{"op": "test", "path": "/a", "value": {"hasOwnProperty": 1}}]),
    ({"a": {"b": 1}}, [{"op": "test", "path": "/a", "value": {"b": 1.0}}]),
    ({"a": [{"b": 1}, 2]}, [{"op": "test", "path": "/a", "value": [{"hasOwnProperty": 1}, 3]}]),
    ({"a": 2**53}, [{"op": "test", "path": "/a", "value": 2**53 + 1}]),
    ({"a": True}, [{"op": "test", "path": "/a", "value": 1}]),
    ("abc", [{"op": "add", "path": "/x", "value": 1}]),
    ("abc", [{"op": "test", "path": "/0", "value": "a"}]),
    ("abc", [{"op": "test", "path": "/length", "value": 3}]),
    ("abc", [{"op": "remove", "path": "/a/b"}]),
    (0, [{"op": "replace", "path": "/x", "value": 1}]),
    (None, [{"op": "add", "path": "/x", "value": 1}]),
    ({"a": [{}, {}, 7]}, [{"op": "move", "from": "/a/0", "path": "/a/1/x"}]),
    ({"a": {"b": 1}}, [{"op": "remove", "path": ""}, {"op": "add", "path": "/a", "value": 1}]),
    ({"a": {"b": 1}}, [{"op": "remove", "path": ""}, {"op": "test", "path": "", "value": None}]),
    ({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": ""}]),
    ({"a": "xyz"}, [{"op": "copy", "from": "/a/1", "path": ""}]),
    ({"x": 1}, [{"op": "add", "path": "/y", "value": 1}, {"op": "copy", "from": "/q", "path": "/x"}]),
    ({"a": [1, 2]}, [{"op": "add", "path": "/a/-/x", "value": 1}]),
    ({"a": [1, 2]}, [{"op": "move", "from": "x/a/ 1.5 ", "path": "/b"}]),
    ({"constructor": {"prototype": 1}}, [{"op": "test", "path": "/constructor/prototype", "value": 1}]),
    ({}, [{"op": "add", "path": "/__proto__", "value": {"polluted": True}}]),
    ({}, [{"op": "add", "path": "/a~1b", "value": 1}, {"op": "add", "path": "/a~0b", "value": 2}]),
    ({}, [{"op": "add", "path": "/constructor/prototype", "value": 1}]),
    ({"constructor": {}}, [{"op": "add", "path": "/constructor/prototype", "value": 1}]),
    ("a😀", [{"op": "test", "path": "/length", "value": 3}]),
    ("a😀", [{"op": "test", "path": "/1", "value": "\ud83d"}]),
    ([1, 2], [{"op": "test", "path": "/", "value": 1}]),
    ({"a": [1, 2, 3]}, [{"op": "add", "path": "/a/4294967296", "value": 9}]),
    ("abc", [{"op": "move", "from": "", "path": "/x"}]),
    ({"b": 1, "10": [1.5e-7, 1e21], "2": True}, [{"op": "remove", "path": "/zz"}]),
    ({}, [{"op": "foo", "path": "/a"}]),
    ({}, [{"op": "add", "path": "a", "value": 1}]),
    ({}, [{"op": "add", "path": "/a"}]),
    ({}, [{"op": "copy", "path": "/a"}]),
    ({}, [1]),
]


def test_known_quirks_match_the_reference(oracle: NodeOracle) -> None:
    tally = Tally()
    run_batch(oracle, [{"doc": doc, "patch": patch} for doc, patch in QUIRKS], tally)
    assert tally.differences == []
    assert tally.compared == len(QUIRKS)
    assert not tally.deviations


# Each deliberate deviation, with what the reference does instead: a non-JSON document ("nonJson"),
# or, for the op-table and array-length cases, a plain result.
DEVIATIONS: list[tuple[Any, list[dict[str, Any]], dict[str, Any]]] = [
    ({"a": {}}, [{"op": "copy", "from": "/a/toString", "path": "/b"}], {"ok": True, "nonJson": "function"}),
    ({"a": {}}, [{"op": "move", "from": "/a/toString", "path": "/b"}], {"ok": True, "nonJson": "function"}),
    ({"a": []}, [{"op": "move", "from": "/a/length", "path": "/n"}], {"ok": True, "nonJson": "undefined"}),
    ({"a": 1}, [{"op": "move", "from": "x/q", "path": "/n"}], {"ok": True, "nonJson": "undefined"}),
    ({"a": {"b": 1}}, [{"op": "move", "from": "", "path": "/x"}], {"ok": True, "nonJson": "cycle"}),
    ({"a": {"b": 1}}, [{"op": "copy", "from": "/a/b/c", "path": ""}], {"ok": True, "nonJson": "undefined"}),
    ({"a": {"b": 1}}, [{"op": "move", "from": "/q", "path": ""}], {"ok": True, "nonJson": "undefined"}),
    ({"a": 1}, [{"op": "toString", "path": "/a"}], {"ok": True, "nonJson": "undefined"}),
    ({"a": 1}, [{"op": "_get", "path": "/a"}], {"ok": True, "doc": {"a": 1}}),
    (
        {"a": [1, {}, [5, 6, 7]]},
        [{"op": "move", "from": "/a/0", "path": "/a/1/length"}],
        {"ok": True, "doc": {"a": [{}, [5]]}},
    ),
    (
        {"a": [{}, []]},
        [{"op": "move", "from": "/a/0", "path": "/a/0/x"}],
        {"ok": True, "nonJson": "hidden array property or hole"},
    ),
]


@pytest.mark.parametrize(("doc", "patch", "reference"), DEVIATIONS)
def test_deviations_are_exactly_where_the_reference_leaves_json(
    oracle: NodeOracle, doc: Any, patch: list[dict[str, Any]], reference: dict[str, Any]
) -> None:
    with pytest.raises(PatchError) as raised:
        apply_patch(doc, patch)
    assert raised.value.reference_differs
    theirs = oracle.ask({"cases": [{"doc": doc, "patch": patch}]})["results"][0]
    theirs.pop("patch", None)
    assert theirs == reference
