"""The OpenAPI 3.1 document of the REST run repository, generated from the protocol's pydantic models.

Nothing here is hand-maintained schema: request and response bodies are `SerializedRun`, `SavedRunMeta`
and `ErrorBody` as pydantic describes them, so the document cannot drift from what the routes validate
(D10). The error statuses come from the same table the routes answer with.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import models_json_schema

from workbench_mcp.errors import ErrorCode
from workbench_mcp.protocol.bundle import PROTOCOL_VERSION
from workbench_mcp.protocol.run import SavedRunMeta
from workbench_mcp.protocol.serialized_run import SerializedRun
from workbench_mcp.settings import Limits
from workbench_mcp.web.run_routes import MAX_RUN_ID_LENGTH, RUN_ID_PATTERN, RUN_PATH, RUNS_PATH

REF_TEMPLATE = "#/components/schemas/{model}"
READ_ONLY_NOTE = (
    " This server is read-only (--read-only): it lists and reads runs; PUT and DELETE answer 403 `READ_ONLY`."
)
RUN_ID_EXAMPLE = "run_8f9fbb0d-3a61-4264-b9f4-3b81e7dc6b44"


class ErrorBody(BaseModel):
    """Every error response of this server: a message for people and a stable code for programs."""

    model_config = ConfigDict(extra="forbid", title="ErrorBody")

    error: str
    code: ErrorCode


# pydantic leaves constraints it could not push into a core schema (our JavaScript-integer validator
# wraps `int`) as their Python names; JSON Schema knows them under these.
_KEYWORDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}
_NAME_MAPS = frozenset({"properties", "$defs", "patternProperties", "mapping"})


def _standard_keywords(node: Any) -> Any:
    if isinstance(node, list):
        return [_standard_keywords(item) for item in node]
    if not isinstance(node, dict):
        return node
    fixed: dict[str, Any] = {}
    for key, value in node.items():
        if key in _NAME_MAPS and isinstance(value, dict):
            fixed[key] = {name: _standard_keywords(sub) for name, sub in value.items()}
        else:
            fixed[_KEYWORDS.get(str(key), str(key))] = _standard_keywords(value)
    return fixed


def component_schemas() -> dict[str, Any]:
    _, schema = models_json_schema(
        [(SerializedRun, "validation"), (SavedRunMeta, "validation"), (ErrorBody, "validation")],
        ref_template=REF_TEMPLATE,
    )
    defs: dict[str, Any] = _standard_keywords(schema.get("$defs", {}))
    return dict(sorted(defs.items()))


def _ref(model: str) -> dict[str, str]:
    return {"$ref": REF_TEMPLATE.format(model=model)}


_DESCRIBED_BY = {"$ref": "#/components/headers/DescribedBy"}


def _error(description: str, *, extra_headers: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"Link": _DESCRIBED_BY, **(extra_headers or {})},
        "content": {"application/json": {"schema": _ref("ErrorBody")}},
    }


def _common_errors() -> dict[str, Any]:
    return {
        "400": _error("Invalid run id, cursor or request (code INVALID_INPUT, ...)"),
        "401": _error(
            "Missing or invalid bearer token (code UNAUTHORIZED)",
            extra_headers={"WWW-Authenticate": {"schema": {"type": "string"}, "required": True}},
        ),
        "403": _error(
            "The token lacks the scope this method needs (code INSUFFICIENT_SCOPE): runs:read for GET, runs:admin"
            ' for PUT and DELETE; WWW-Authenticate: Bearer error="insufficient_scope", scope="..."',
            extra_headers={"WWW-Authenticate": {"schema": {"type": "string"}, "required": True}},
        ),
        "429": _error(
            "Too many requests (code RATE_LIMITED); retry after Retry-After seconds",
            extra_headers={"Retry-After": {"schema": {"type": "integer", "minimum": 0}}},
        ),
    }


def _precondition_errors() -> dict[str, Any]:
    return {
        "409": _error("The run changed meanwhile (code REVISION_CONFLICT)"),
        "412": _error("If-Match names no current revision of the run (code REVISION_CONFLICT)"),
    }


def _operations(limits: Limits, read_only: bool) -> dict[str, Any]:
    run_id = {
        "name": "runId",
        "in": "path",
        "required": True,
        "description": "A run id: `run_` followed by letters, digits, `-` or `_`; at most 128 characters.",
        "schema": {"type": "string", "pattern": RUN_ID_PATTERN, "maxLength": MAX_RUN_ID_LENGTH},
        "example": RUN_ID_EXAMPLE,
    }
    if_match = {
        "name": "If-Match",
        "in": "header",
        "required": False,
        "description": 'Only act if the run is at this revision: the ETag of a GET (`"7"`), or `*`.',
        "schema": {"type": "string"},
    }
    etag = {
        "description": 'The run\'s revision as a strong entity tag, e.g. `"7"`',
        "required": True,
        "schema": {"type": "string"},
    }
    list_runs = {
        "operationId": "listRuns",
        "summary": "List your runs, newest first",
        "description": (
            "Returns a bare `SavedRunMeta[]` array (what HttpRunRepository.list expects). When more runs exist, "
            'a `Link: <...>; rel="next"` header holds the URL of the next page.'
        ),
        "parameters": [
            {
                "name": "limit",
                "in": "query",
                "required": False,
                "description": (
                    f"Page size, clamped to 1..{limits.list_limit_max}; absent, empty or not a number means "
                    f"{limits.list_limit_default} (read like JavaScript `Number()`, as the reference does)."
                ),
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": limits.list_limit_max,
                    "default": limits.list_limit_default,
                },
            },
            {
                "name": "cursor",
                "in": "query",
                "required": False,
                "description": 'Opaque cursor from a previous page\'s `rel="next"` link.',
                "schema": {"type": "string"},
            },
        ],
        "responses": {
            "200": {
                "description": "One page of run summaries, newest first",
                "headers": {
                    "Link": {
                        "description": 'rel="describedby" (this document) and, if more runs exist, rel="next"',
                        "required": True,
                        "schema": {"type": "string"},
                    }
                },
                "content": {"application/json": {"schema": {"type": "array", "items": _ref("SavedRunMeta")}}},
            },
            **_common_errors(),
        },
    }
    get_run = {
        "operationId": "getRun",
        "summary": "Load a run's serialized state",
        "parameters": [run_id],
        "responses": {
            "200": {
                "description": "The serialized RunStoreState (maps as [key, value] arrays)",
                "headers": {"ETag": etag, "Link": _DESCRIBED_BY},
                "content": {"application/json": {"schema": _ref("SerializedRun")}},
            },
            **_common_errors(),
            "404": _error("No such run for this tenant (code UNKNOWN_RUN); another tenant's run looks the same"),
        },
    }
    put_run = {
        "operationId": "saveRun",
        "summary": "Create or replace a run from its serialized state",
        "description": (
            "The body is schema-checked and must satisfy the state invariants; `run.id` must equal the URL's "
            f"run id. Bodies over {limits.max_bundle_bytes} bytes are refused (413) before they are parsed. "
            "Runs belong to the caller's tenant: another tenant's run with the same id is never touched."
        ),
        "parameters": [run_id, if_match],
        "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("SerializedRun")}}},
        "responses": {
            "204": {"description": "Saved", "headers": {"ETag": etag, "Link": _DESCRIBED_BY}},
            **_common_errors(),
            **_precondition_errors(),
            "413": _error(f"Body larger than {limits.max_bundle_bytes} bytes, or a quota (code LIMIT_EXCEEDED)"),
        },
    }
    delete_run = {
        "operationId": "deleteRun",
        "summary": "Delete a run (204 also when there was nothing to delete)",
        "parameters": [run_id, if_match],
        "responses": {
            "204": {"description": "Deleted, or never existed", "headers": {"Link": _DESCRIBED_BY}},
            **_common_errors(),
            **_precondition_errors(),
        },
    }
    get_attestation = {
        "operationId": "getRunAttestation",
        "summary": "Export a run's bundle with a signed attestation (README: Verifying a run)",
        "description": (
            "`bundle` is the full RunBundle, unchanged; `attestation` a DSSE envelope (payloadType "
            "application/vnd.in-toto+json) holding an in-toto Statement v1 about it, signed with a key published "
            "at /.well-known/workbench-keys.json. Signs an `export` checkpoint."
        ),
        "parameters": [run_id],
        "responses": {
            "200": {
                "description": "The bundle and its attestation",
                "headers": {"Link": _DESCRIBED_BY},
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["bundle", "attestation"],
                            "properties": {
                                "bundle": {"type": "object"},
                                "attestation": {
                                    "type": "object",
                                    "required": ["payload", "payloadType", "signatures"],
                                    "properties": {
                                        "payload": {"type": "string"},
                                        "payloadType": {"type": "string"},
                                        "signatures": {"type": "array", "items": {"type": "object"}},
                                    },
                                },
                            },
                        }
                    }
                },
            },
            **_common_errors(),
            "404": _error("No such run for this tenant (code UNKNOWN_RUN); another tenant's run looks the same"),
            "409": _error("The run's stored rows no longer match its hash chain (code LEDGER_MISMATCH)"),
        },
    }
    item = {"get": get_run} if read_only else {"get": get_run, "put": put_run, "delete": delete_run}
    return {
        RUNS_PATH: {"get": list_runs},
        RUN_PATH.replace("{run_id}", "{runId}"): item,
        RUN_PATH.replace("{run_id}", "{runId}") + "/attestation": {"get": get_attestation},
    }


def openapi_document(base_url: str, limits: Limits | None = None, *, read_only: bool = False) -> dict[str, Any]:
    """The document of a server with this configuration: a `--read-only` one lists no write operation."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "workbench-mcp run repository",
            "version": PROTOCOL_VERSION,
            "description": (
                "REST persistence for LLM Workbench runs, compatible with HttpRunRepository of "
                "@llm-workbench/runtime (baseUrl = <server>/api). Every request needs `Authorization: Bearer <JWT>`;"
                " runs are scoped to the token's tenant. Errors are `{error, code}`. Agents: see /agents.md."
                + READ_ONLY_NOTE
                * read_only
            ),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": base_url}],
        "security": [{"bearerAuth": []}],
        "paths": _operations(limits or Limits(), read_only),
        "components": {
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "The same token as for MCP (`workbench-mcp token --user U [--org O]`).",
                }
            },
            "headers": {
                "DescribedBy": {
                    "description": 'Link: </api/openapi.json>; rel="describedby"',
                    "required": True,
                    "schema": {"type": "string"},
                }
            },
            "schemas": component_schemas(),
        },
    }
