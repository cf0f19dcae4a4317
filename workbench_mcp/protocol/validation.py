"""Turn pydantic validation failures into WorkbenchErrors with the protocol's codes."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from workbench_mcp.errors import ErrorCode, WorkbenchError

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

_MAX_ISSUES = 5


def format_issues(error: ValidationError) -> str:
    """`path: issue; path: issue` like the reference's formatZodError, `(root)` for the top level."""
    parts = []
    for issue in error.errors(include_url=False)[:_MAX_ISSUES]:
        path = ".".join(str(p) for p in issue["loc"]) or "(root)"
        parts.append(f"{path}: {issue['msg']}")
    hidden = error.error_count() - _MAX_ISSUES
    if hidden > 0:
        parts.append(f"... and {hidden} more")
    return "; ".join(parts)


def parse_model(model: type[M], data: Any, code: ErrorCode, prefix: str = "") -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise WorkbenchError(code, prefix + format_issues(exc)) from None


def parse_with(adapter: TypeAdapter[T], data: Any, code: ErrorCode, prefix: str = "") -> T:
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        raise WorkbenchError(code, prefix + format_issues(exc)) from None
