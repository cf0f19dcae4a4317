"""Tool results, success and failure alike: structured content plus the same JSON as a text item.

Failures are `isError` results carrying `{"error": message, "code": CODE}` (D9 fixed): an agent can
tell an idempotency conflict from a gate error, and a program can branch on `code`. Nothing here
ever includes a stack trace or the rejected input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mcp.types import CallToolResult, TextContent
from pydantic import ValidationError

from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.canonical_json import pretty_json
from workbench_mcp.protocol.validation import format_issues
from workbench_mcp.results import Result


def tool_result(value: Mapping[str, Any] | Result, *, text: str | None = None) -> CallToolResult:
    """Success: `structuredContent` = value (a result model's members as built, workbench_mcp/results.py);
    text = `JSON.stringify(value, null, 2)` like the reference."""
    body = value.wire() if isinstance(value, Result) else dict(value)
    return CallToolResult(
        content=[TextContent(type="text", text=pretty_json(body) if text is None else text)],
        structured_content=body,
    )


def error_result(code: ErrorCode, message: str) -> CallToolResult:
    body = {"error": message, "code": code.value}
    return CallToolResult(
        content=[TextContent(type="text", text=pretty_json(body))],
        structured_content=body,
        is_error=True,
    )


def from_workbench_error(exc: WorkbenchError) -> CallToolResult:
    return error_result(exc.code, exc.message)


def invalid_arguments(tool: str, exc: ValidationError) -> CallToolResult:
    """Schema-invalid arguments: field paths and pydantic's messages, never the offending values."""
    return error_result(ErrorCode.INVALID_INPUT, f"Invalid arguments for tool {tool}: {format_issues(exc)}")


def unknown_tool(tool: str) -> CallToolResult:
    return error_result(ErrorCode.INVALID_INPUT, f"Unknown tool: {tool[:128]}")


def internal_error(tool: str) -> CallToolResult:
    return error_result(ErrorCode.INTERNAL_ERROR, f"Tool {tool} failed unexpectedly; the server log has details")


def error_code_of(result: CallToolResult) -> str:
    """The outcome code written to the audit log: OK, or the error's code."""
    if not result.is_error:
        return "OK"
    content = result.structured_content or {}
    code = content.get("code")
    return code if isinstance(code, str) else ErrorCode.INTERNAL_ERROR.value
