"""RunState + trace -> RunBundle (docs/protocol.md 5.3), profiles `full` and `user`."""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from workbench_mcp.engine.hydrate import Trace, engine_entries
from workbench_mcp.engine.run_state import RunState
from workbench_mcp.protocol.bundle import PROTOCOL_VERSION, Bundle, attach_integrity
from workbench_mcp.protocol.collation import sort_by_locale

Profile = Literal["full", "user"]
REDACTED = "[REDACTED]"
RedactionPaths = Mapping[str, Sequence[str]]
"""typeId -> RFC 6901 pointers whose values a `user` export replaces by "[REDACTED]"."""


def export_bundle(
    state: RunState,
    trace: Trace,
    *,
    profile: Profile = "full",
    include_engine: bool | None = None,
    redactions: RedactionPaths | None = None,
) -> Bundle:
    """A normalized bundle with its integrity hash.

    Artifacts and rule sets are ordered like the reference's `localeCompare` (ICU en-US), so the
    same state hashes the same in both implementations (D15).
    """
    artifacts = sort_by_locale([a.model_dump() for a in state.artifacts.values()], _artifact_key)
    rule_sets = sort_by_locale([rs.model_dump() for rs in state.rule_sets.values()], _rule_set_id)
    bundle: Bundle = {
        "protocolVersion": PROTOCOL_VERSION,
        "run": state.run.model_dump(),
        "trace": trace,
        "artifacts": artifacts,
        "ruleSets": rule_sets,
    }
    if profile == "user":
        bundle = _user_profile(bundle, redactions or {})  # never carries an engine, as in the reference
    elif include_engine is None or include_engine:
        bundle["engine"] = engine_entries(state)
    return attach_integrity(bundle)


def _artifact_key(artifact: dict[str, Any]) -> str:
    return str(artifact["artifactKey"])


def _rule_set_id(rule_set: dict[str, Any]) -> str:
    return str(rule_set["id"])


def _user_profile(bundle: Bundle, redactions: RedactionPaths) -> Bundle:
    """The reference's user profile, minus its leaks (D14): redaction never creates members,
    and a redacted artifact loses the pointer hash that described its unredacted bytes."""
    run = {k: v for k, v in bundle["run"].items() if k != "metadata"}
    return {
        "protocolVersion": bundle["protocolVersion"],
        "run": run,
        "trace": [_redact_event(e, redactions) for e in bundle["trace"]],
        "artifacts": [_redact_artifact(a, redactions) for a in bundle["artifacts"]],
        "ruleSets": bundle["ruleSets"],
    }


def _redact_event(event: dict[str, Any], redactions: RedactionPaths) -> dict[str, Any]:
    kind = event["type"]
    if kind == "model_io":
        return {k: v for k, v in event.items() if k != "payload"}
    if kind == "tool_call":
        return {k: v for k, v in event.items() if k not in ("args", "result")}
    if kind == "artifact_written":
        return {**event, "artifact": _redact_artifact(event["artifact"], redactions)}
    return event


def _redact_artifact(artifact: dict[str, Any], redactions: RedactionPaths) -> dict[str, Any]:
    paths = redactions.get(artifact["typeId"], ())
    if not paths or "data" not in artifact:
        return artifact
    data = copy.deepcopy(artifact["data"])
    changed = False
    for pointer in paths:
        data, hit = _redact_at(data, pointer)
        changed = changed or hit
    if not changed:
        return artifact
    redacted = {**artifact, "data": data}
    if "pointer" in artifact:
        redacted["pointer"] = {"kind": artifact["pointer"]["kind"], **_ref_of(artifact["pointer"])}
    return redacted


def _ref_of(pointer: dict[str, Any]) -> dict[str, Any]:
    return {"ref": pointer["ref"]} if "ref" in pointer else {}


def _redact_at(document: Any, pointer: str) -> tuple[Any, bool]:
    """Replace the value at an existing RFC 6901 location; a missing one is left alone."""
    if pointer == "":
        return REDACTED, True
    parts = [p.replace("~1", "/").replace("~0", "~") for p in pointer.split("/")[1:]]
    parent = document
    for part in parts[:-1]:
        parent = _child(parent, part)
        if parent is None:
            return document, False
    last = parts[-1]
    if isinstance(parent, dict) and last in parent:
        parent[last] = REDACTED
        return document, True
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        parent[int(last)] = REDACTED
        return document, True
    return document, False


def _child(node: Any, part: str) -> Any:
    if isinstance(node, dict):
        return node.get(part)
    if isinstance(node, list) and part.isdigit() and int(part) < len(node):
        return node[int(part)]
    return None
