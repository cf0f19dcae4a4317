"""Rule sets (docs/protocol.md 3.2): stored and snapshotted, never evaluated by the runtime."""

from __future__ import annotations

from pydantic import MISSING

from workbench_mcp.protocol.wire_model import Bool, JsInt, JsonAny, NonEmptyStr, Str, WireModel


class RuleRecord(WireModel):
    id: NonEmptyStr
    priority: JsInt
    enabled: Bool
    label: Str | MISSING = MISSING
    payload: JsonAny  # the key is required; null is a valid payload


class RuleSet(WireModel):
    id: NonEmptyStr
    rule_schema_id: NonEmptyStr
    rules: list[RuleRecord]
