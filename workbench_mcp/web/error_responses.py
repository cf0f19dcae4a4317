"""JSON error bodies for HTTP responses: always `{"error", "code"}`, with the status taken from one table."""

from __future__ import annotations

from types import MappingProxyType

from starlette.responses import JSONResponse

from workbench_mcp.errors import ErrorCode, WorkbenchError

HTTP_STATUS: MappingProxyType[ErrorCode, int] = MappingProxyType(
    {
        ErrorCode.UNAUTHORIZED: 401,
        ErrorCode.READ_ONLY: 403,
        ErrorCode.INSUFFICIENT_SCOPE: 403,
        ErrorCode.NOT_AUTHORIZED: 403,
        ErrorCode.BUDGET_EXCEEDED: 409,
        ErrorCode.UNKNOWN_RUN: 404,
        ErrorCode.REVISION_CONFLICT: 409,
        ErrorCode.RUN_ID_COLLISION: 409,
        ErrorCode.LEDGER_MISMATCH: 409,
        ErrorCode.LIMIT_EXCEEDED: 413,
        ErrorCode.RATE_LIMITED: 429,
        ErrorCode.INTERNAL_ERROR: 500,
        ErrorCode.STORAGE_UNAVAILABLE: 503,
    }
)
"""WorkbenchError code -> HTTP status. Every code not listed is a problem with the request: 400.
(A failed If-Match precondition is 412; the route decides that, because only it knows the header was sent.)"""


def status_for(code: ErrorCode) -> int:
    return HTTP_STATUS.get(code, 400)


def error_response(code: ErrorCode, message: str, status: int, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "code": code.value}, status_code=status, headers=headers)


def workbench_error_response(exc: WorkbenchError, headers: dict[str, str] | None = None) -> JSONResponse:
    return error_response(exc.code, exc.message, status_for(exc.code), headers)
