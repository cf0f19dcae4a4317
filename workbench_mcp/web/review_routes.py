"""`GET /review/{token}` (the decision page) and `POST /review/{token}` (the decision), README "Human review".

These routes authenticate by the link, not by a bearer token: the token is verified by ReviewService (signature,
expiry, not used) and the decision is recorded by `ReviewService.decide_by_link` as the link's reviewer, channel
`link`, the run's approval policy applying. The Host/Origin check runs in front of them like every
non-public route (web/app.py); the per-tenant rate limit applies to them too, keyed on the tenant of the link
(a link this server did not sign shares one bucket). Every refusal is a page with the status and code it is
about; nothing a refused request sends changes anything, and a bad form leaves the link unused.
"""

from __future__ import annotations

import logging
import math

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Route

from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.review.context import load_decision_context
from workbench_mcp.review.service import ReviewContext, ReviewService
from workbench_mcp.web.error_responses import status_for
from workbench_mcp.web.rate_limit import TenantRateLimiter
from workbench_mcp.web.review_page import (
    COOKIE,
    MAX_FORM_BYTES,
    FormProblem,
    form_token,
    form_token_ok,
    kept_nonce,
    nonce_cookie,
    page_headers,
    parse_decision_form,
    render_notice,
    render_review_page,
)

logger = logging.getLogger(__name__)

REVIEW_PATH = "/review/{token}"
UNSIGNED_BUCKET = "review-link:unsigned"
"""The rate-limit bucket of requests whose link this server did not sign (no tenant to charge)."""
INVALID_FORM = "INVALID_FORM"
FORM_TOKEN_MISMATCH = "FORM_TOKEN_MISMATCH"
"""HTTP-layer codes of this page only (like web/network_guard.HTTP_CODES): never part of a tool result."""

# code -> (HTTP status, page kind, title)
_REFUSALS: dict[ErrorCode, tuple[int, str, str]] = {
    ErrorCode.REVIEW_LINK_INVALID: (404, "invalid", "This review link is not valid"),
    ErrorCode.REVIEW_LINK_EXPIRED: (410, "expired", "This review link has expired"),
    ErrorCode.REVIEW_LINK_USED: (410, "used", "This review link was already used"),
    ErrorCode.UNKNOWN_RUN: (410, "run_gone", "The run under review no longer exists"),
    ErrorCode.NOT_AUTHORIZED: (403, "not_allowed", "The run's approval policy does not let you decide this gate"),
    ErrorCode.INSUFFICIENT_SCOPE: (403, "not_allowed", "The run's approval policy does not let you decide this gate"),
    ErrorCode.GATE_NOT_APPLICABLE: (409, "not_pending", "This gate no longer awaits a decision"),
    ErrorCode.REVISION_CONFLICT: (409, "conflict", "The run changed while you decided: open the link again"),
    ErrorCode.RATE_LIMITED: (429, "rate_limited", "Too many requests: try again in a moment"),
}


def _notice(
    status: int, kind: str, title: str, detail: str, code: str, headers: dict[str, str] | None = None
) -> HTMLResponse:
    return HTMLResponse(
        render_notice(kind, title, detail, code), status_code=status, headers={**page_headers(), **(headers or {})}
    )


def _refusal(exc: WorkbenchError, *, run_gone: bool = False) -> HTMLResponse:
    if run_gone:  # a genuine link whose run (and with it the request) was deleted
        status, kind, title = _REFUSALS[ErrorCode.UNKNOWN_RUN]
        return _notice(status, kind, title, "The run this link was about was deleted.", ErrorCode.UNKNOWN_RUN.value)
    status, kind, title = _REFUSALS.get(exc.code, (status_for(exc.code), "refused", "The decision was not recorded"))
    return _notice(status, kind, title, exc.message, exc.code.value)


class _ReviewEndpoints:
    def __init__(
        self, review: ReviewService, limiter: TenantRateLimiter, *, csrf_key: bytes, secure_cookies: bool
    ) -> None:
        self.review = review
        self.limiter = limiter
        self.csrf_key = csrf_key
        self.secure_cookies = secure_cookies

    def _signed_tenant(self, token: str) -> str | None:
        """The tenant of a link this server signed, expired or not (None for any other token). `now=0`: only the
        signature is checked here; expiry and use are open_link's to answer."""
        try:
            return self.review.signer.verify(token, now=0).tenant_id
        except WorkbenchError:
            return None

    def _limited(self, token: str) -> HTMLResponse | None:
        wait = self.limiter.take(self._signed_tenant(token) or UNSIGNED_BUCKET)
        if wait <= 0:
            return None
        status, kind, title = _REFUSALS[ErrorCode.RATE_LIMITED]
        retry = str(max(1, math.ceil(wait)))
        detail = f"Retry after {retry} s."
        return _notice(status, kind, title, detail, ErrorCode.RATE_LIMITED.value, {"Retry-After": retry})

    async def _open(self, token: str) -> ReviewContext | HTMLResponse:
        try:
            return await self.review.open_link(token)
        except WorkbenchError as exc:
            gone = exc.code is ErrorCode.REVIEW_LINK_INVALID and self._signed_tenant(token) is not None
            return _refusal(exc, run_gone=gone)

    async def page(self, request: Request) -> Response:
        token = str(request.path_params["token"])
        refused = self._limited(token)
        if refused is not None:
            return refused
        opened = await self._open(token)
        if isinstance(opened, HTMLResponse):
            return opened
        try:
            context = await load_decision_context(
                self.review.runs,
                opened.principal,
                opened.run_id,
                step_id=opened.step_id,
                gate=opened.gate,
                reason=opened.reason,
            )
        except WorkbenchError as exc:
            return _refusal(exc, run_gone=exc.code is ErrorCode.UNKNOWN_RUN)
        if context.gate_status == "approved":  # decided through another link or surface: nothing left to decide
            status, kind, title = _REFUSALS[ErrorCode.GATE_NOT_APPLICABLE]
            last = context.decisions[-1].event if context.decisions else {}
            detail = f"The {opened.gate} gate of step {opened.step_id} is already open"
            detail += f" ({last['decision']} at {last['ts']})." if last else "."
            return _notice(status, kind, title, detail, ErrorCode.GATE_NOT_APPLICABLE.value)
        nonce = kept_nonce(request.cookies.get(COOKIE))
        html = render_review_page(
            context,
            reviewer=opened.reviewer,
            expires_at=opened.expires_at,
            action=request.url.path,
            csrf=form_token(self.csrf_key, token, nonce),
        )
        headers = {**page_headers(), "Set-Cookie": nonce_cookie(nonce, request.url.path, secure=self.secure_cookies)}
        return HTMLResponse(html, headers=headers)

    async def decide(self, request: Request) -> Response:
        token = str(request.path_params["token"])
        refused = self._limited(token)
        if refused is not None:
            return refused
        body = await _bounded_body(request)
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if body is None or media != "application/x-www-form-urlencoded":
            detail = f"Send the page's form (application/x-www-form-urlencoded, at most {MAX_FORM_BYTES // 1024} KiB)."
            return _notice(400, "bad_form", "The form could not be read", detail, INVALID_FORM)
        try:
            form = parse_decision_form(body)
        except FormProblem as exc:
            text = str(exc)
            detail = f"{text[:1].upper()}{text[1:]}."
            return _notice(400, "bad_form", "The decision was not recorded", detail, INVALID_FORM)
        if not form_token_ok(self.csrf_key, token, request.cookies.get(COOKIE), form.csrf):
            detail = (
                "The form did not come from this review page in this browser. Open the link again and decide there."
            )
            return _notice(403, "bad_form", "The decision was not recorded", detail, FORM_TOKEN_MISMATCH)
        try:
            result = await self.review.decide_by_link(token, form.decision, form.note)
        except WorkbenchError as exc:
            gone = exc.code is ErrorCode.REVIEW_LINK_INVALID and self._signed_tenant(token) is not None
            return _refusal(exc, run_gone=gone or exc.code is ErrorCode.UNKNOWN_RUN)
        pending = result.get("pending")
        if not result.get("changed") and not pending and form.decision != "rejected":
            title = "Nothing changed: the gate was already open"
            detail = "Your approval is recorded as this link's answer; the gate had been approved before it."
        elif pending:
            title = "Your approval is recorded; the gate waits for more approvals"
            detail = f"{len(pending['approvals'])} of {pending['quorum']} approvals so far."
        else:
            title = {"approved": "Approved", "rejected": "Rejected", "edited": "Approved with edits"}[form.decision]
            detail = "Your decision is recorded. This link is now used and cannot decide again."
        facts = [
            ("run", str(result["runId"])),
            ("step", str(result["stepId"])),
            ("gate", str(result["gate"])),
            ("decision", form.decision),
            ("reviewer", str(result["reviewer"])),
            ("revision", str(result["revision"])),
        ]
        if form.note:
            facts.append(("note", form.note))
        html = render_notice("decided", title, detail, "OK", facts)
        return HTMLResponse(html, headers=page_headers())


async def _bounded_body(request: Request) -> bytes | None:
    """The body, or None once it passes MAX_FORM_BYTES (read no further: the page's form is small)."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def review_routes(
    review: ReviewService, limiter: TenantRateLimiter, *, csrf_key: bytes, secure_cookies: bool
) -> list[BaseRoute]:
    endpoints = _ReviewEndpoints(review, limiter, csrf_key=csrf_key, secure_cookies=secure_cookies)

    async def endpoint(request: Request) -> Response:
        handler = endpoints.page if request.method == "GET" else endpoints.decide
        try:
            return await handler(request)
        except Exception:
            logger.exception("the review page failed")
            detail = "The server could not answer. Nothing was recorded unless a later visit says so."
            return _notice(500, "error", "Internal server error", detail, ErrorCode.INTERNAL_ERROR.value)

    return [Route(REVIEW_PATH, endpoint, methods=["GET", "POST"])]
