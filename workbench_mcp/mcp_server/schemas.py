"""The tool schemas as advertised: what pydantic generates, minus what costs an agent context and says nothing.

`tools/list` is read into a model's context on every session, so every byte in it is paid for
many times. pydantic's schemas carry three kinds of noise, removed here once, when a tool is
registered:

- auto-generated titles ("Runid" for `runId`, "begin_stepArguments" for the argument model),
  which repeat the property name in a worse spelling;
- `anyOf: [X, {"type": "null"}]` plus `default: null` for every optional argument: an optional
  argument is one that is not `required`; the server still accepts an explicit `null`;
- `additionalProperties: true` on result objects, which is JSON Schema's default.

Results follow the same rule: an optional member is left out, never sent as `null` (the reference's
JSON.stringify drops `undefined` the same way), so their schemas need no `null` branch either;
tests/mcp_server/test_tool_schemas.py validates real results against the advertised schemas.
Result schemas also carry no descriptions: hosts show a model the tool's description and input
schema, and the description already says what comes back; the output schema is for programs.
"""

from __future__ import annotations

from typing import Any

JSON_VALUE: dict[str, Any] = {
    "anyOf": [
        {"type": "object"},
        {"type": "array"},
        {"type": "string"},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "null"},
    ]
}
"""Any JSON value, spelled so that every branch declares a `type` (a bare `{}` constrains nothing, and a
`type` array is not portable to single-type dialects such as Gemini's)."""

_NAME_MAPS = frozenset({"properties", "$defs", "patternProperties", "definitions"})
"""Keywords whose members are names, not keywords: a property called `title` is not a title."""


def _is_null(node: Any) -> bool:
    return isinstance(node, dict) and node == {"type": "null"}


def _without_null_branch(node: dict[str, Any]) -> dict[str, Any]:
    """`{anyOf: [X, null], default: null, description}` -> X with the description (an optional argument)."""
    branches = node.get("anyOf")
    if not isinstance(branches, list) or len(branches) != 2 or node.get("default", ...) is not None:
        return node
    kept = [b for b in branches if not _is_null(b)]
    if len(kept) != 1 or not isinstance(kept[0], dict):
        return node
    merged = {k: v for k, v in node.items() if k not in ("anyOf", "default")}
    return {**kept[0], **merged}


def lean_schema(node: Any, *, optional_nulls: bool, descriptions: bool = True) -> Any:
    """The schema without auto titles and redundant keywords; `optional_nulls` folds optional arguments."""
    if isinstance(node, list):
        return [lean_schema(item, optional_nulls=optional_nulls, descriptions=descriptions) for item in node]
    if not isinstance(node, dict):
        return node
    if optional_nulls:
        node = _without_null_branch(node)
    lean: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" and isinstance(value, str):
            continue
        if key == "description" and isinstance(value, str) and not descriptions:
            continue
        if key == "additionalProperties" and value is True:
            continue
        if key == "default" and value is None:
            continue
        if key in _NAME_MAPS and isinstance(value, dict):
            lean[key] = {
                name: lean_schema(sub, optional_nulls=optional_nulls, descriptions=descriptions)
                for name, sub in value.items()
            }
        else:
            lean[key] = lean_schema(value, optional_nulls=optional_nulls, descriptions=descriptions)
    return lean


def input_schema(schema: dict[str, Any]) -> dict[str, Any]:
    lean: dict[str, Any] = lean_schema(schema, optional_nulls=True)
    return lean


ERROR_BODY_SCHEMA: dict[str, Any] = {"required": ["error", "code"]}
"""What an isError result carries: `{"error": message, "code": CODE}`. This branch only has to admit it;
the body and its codes are described once, in the server instructions and /agents.md, and each tool's
description names the codes only it returns (all 26 codes in every output schema cost 17 KB of tools/list)."""


def output_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The advertised output schema: the success model OR the error body.

    The TypeScript SDK (1.x, what agents built on the reference use) validates `structuredContent`
    against `outputSchema` even on `isError` results, so a schema that admitted only successes would
    turn every coded error into a client-side exception there. `$defs` stay at the root so the
    success branch's `$ref`s keep resolving.
    """
    lean: dict[str, Any] = lean_schema(schema, optional_nulls=True, descriptions=False)
    # The root says "object" once; the branches need not repeat it.
    success = {k: v for k, v in lean.items() if k not in ("$defs", "type")}
    combined: dict[str, Any] = {"type": "object", "anyOf": [success, ERROR_BODY_SCHEMA]}
    if "$defs" in lean:
        combined["$defs"] = lean["$defs"]
    return combined
