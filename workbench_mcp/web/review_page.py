"""The review link's pages: the decision page, its outcome and refusal pages, their headers and the form's
CSRF token.

The link is a secret (whoever holds it decides as the reviewer), so every response keeps it in place:
`Referrer-Policy: same-origin` (the URL is never sent to another origin; the page loads nothing and links
nowhere anyway), `Cache-Control: no-store` (no copy in a cache), `frame-ancestors 'none'` (no other site
frames the page and steers a click onto "Approve"). Not `no-referrer`: under it browsers send
`Origin: null` with the form's POST, which the Host/Origin check rightly refuses (checked in Chromium).
The pages carry no script and their Content-Security-Policy forbids it; every value is escaped by the
autoescaping templates (web/pages.py), so hostile artifact data or notes render as text.

CSRF: the GET sets a random nonce in an HttpOnly, SameSite=Strict cookie scoped to this link's path and
puts HMAC(key, link token + nonce) in the form. A POST needs both, and they must match: a page on another
site can neither read the cookie nor make the browser send it (SameSite), and a token minted for one link
does not fit another. The Host/Origin check (web/network_guard.py) runs in front of the route as well.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from http.cookies import SimpleCookie
from urllib.parse import parse_qs

from workbench_mcp.review.context import DecisionContext
from workbench_mcp.review.service import MAX_TEXT_CHARS
from workbench_mcp.web.demo_page import _EVENT_CLASS, _STATUS_CLASS, event_summary
from workbench_mcp.web.pages import clock_time, render

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
COOKIE = "wb_review_nonce"
COOKIE_MAX_AGE = 3600
MAX_NOTE_CHARS = MAX_TEXT_CHARS  # ReviewService's limit on every review path
MAX_FORM_BYTES = 128 * 1024  # a note of MAX_NOTE_CHARS, each character percent-encoded UTF-8 (up to 12 bytes)
DECISIONS = ("approved", "rejected", "edited")


def page_headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": CSP,
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
    }


# --- CSRF ------------------------------------------------------------------------------------------------


def form_key(link_key: bytes) -> bytes:
    """The form tokens' key, derived from the review links' key: shared by every worker process like it, and
    never the same bytes (a form token is no link MAC)."""
    return hmac.new(link_key, b"workbench review page form tokens", hashlib.sha256).digest()


_NONCE = re.compile(r"[A-Za-z0-9_-]{32}")


def new_nonce() -> str:
    return secrets.token_urlsafe(24)  # 32 characters


def kept_nonce(cookie: str | None) -> str:
    """The nonce this browser already holds for the link (two tabs of one link both stay valid), if it is one
    this server could have set; else a new one. Nothing else a request sends is echoed into Set-Cookie."""
    return cookie if cookie is not None and _NONCE.fullmatch(cookie) else new_nonce()


def form_token(key: bytes, link_token: str, nonce: str) -> str:
    mac = hmac.new(key, b"review-form\0" + link_token.encode() + b"\0" + nonce.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).decode().rstrip("=")


def form_token_ok(key: bytes, link_token: str, nonce: str | None, submitted: str | None) -> bool:
    if not nonce or not submitted:
        return False
    return hmac.compare_digest(form_token(key, link_token, nonce), submitted)


def nonce_cookie(nonce: str, path: str, *, secure: bool) -> str:
    """The Set-Cookie value: scoped to this link's path, so two links open in two tabs keep their own."""
    cookie: SimpleCookie = SimpleCookie()
    cookie[COOKIE] = nonce
    morsel = cookie[COOKIE]
    morsel["path"] = path
    morsel["max-age"] = COOKIE_MAX_AGE
    morsel["httponly"] = True
    morsel["samesite"] = "Strict"
    if secure:
        morsel["secure"] = True
    return morsel.OutputString()


# --- the form ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecisionForm:
    decision: str
    note: str | None
    csrf: str | None


class FormProblem(ValueError):
    """The submitted form cannot be a decision (the page says why; nothing is recorded)."""


def parse_decision_form(body: bytes) -> DecisionForm:
    """application/x-www-form-urlencoded -> the decision. Checked before the link is used, so a bad form
    leaves the link valid."""
    if len(body) > MAX_FORM_BYTES:
        raise FormProblem(f"the form is larger than {MAX_FORM_BYTES} bytes")
    try:
        text = body.decode("utf-8")
        fields = parse_qs(text, keep_blank_values=True, errors="strict", max_num_fields=10)
    except UnicodeDecodeError:
        raise FormProblem("the form is not URL-encoded UTF-8") from None
    except ValueError:  # max_num_fields: the page's form has three
        raise FormProblem("the form has more fields than this page sends") from None
    decision = (fields.get("decision") or [""])[0]
    if decision not in DECISIONS:
        raise FormProblem("choose approve, reject or approve with edits")
    note = (fields.get("note") or [""])[0].strip() or None
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise FormProblem(f"the note is longer than {MAX_NOTE_CHARS} characters")
    if decision == "edited" and note is None:
        raise FormProblem("an approval with edits needs a note saying what must change")
    csrf = fields.get("csrf")
    return DecisionForm(decision, note, csrf[0] if csrf else None)


# --- pages -------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _TimelineRow:
    position: int
    time: str
    css: str
    type: str
    step: str
    summary: str


def _diff_class(line: str) -> str:
    if line.startswith("@@"):
        return "hunk"
    if line.startswith("+") and not line.startswith("+++"):
        return "add"
    if line.startswith("-") and not line.startswith("---"):
        return "del"
    return ""


def render_review_page(context: DecisionContext, *, reviewer: str, expires_at: str, action: str, csrf: str) -> str:
    timeline = [
        _TimelineRow(
            e.position, clock_time(e.ts), _EVENT_CLASS.get(e.type, "muted"), e.type, e.step_id, event_summary(e.event)
        )
        for e in context.trace
    ]
    return render(
        "review.html",
        c=context,
        reviewer=reviewer,
        expires_at=expires_at,
        action=action,
        csrf=csrf,
        max_note=MAX_NOTE_CHARS,
        timeline=timeline,
        status_class=_STATUS_CLASS,
        diff_class=_diff_class,
    )


def render_notice(kind: str, title: str, detail: str, code: str, facts: list[tuple[str, str]] | None = None) -> str:
    """An outcome (`decided`) or refusal page: `kind` and `code` are machine-readable (data attributes)."""
    return render("review_notice.html", kind=kind, title=title, detail=detail, code=code, facts=facts or [])
