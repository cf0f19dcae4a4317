"""The review page's rendering, its form and CSRF token: hostile run content renders inert."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from tests.mcp_server.conftest import config, service
from tests.review.paused_runs import AGENT, HOSTILE, drive_to_review
from workbench_mcp.commands import Annotate
from workbench_mcp.review.context import load_decision_context
from workbench_mcp.service import RunService
from workbench_mcp.web.review_page import (
    FormProblem,
    form_token,
    form_token_ok,
    kept_nonce,
    new_nonce,
    nonce_cookie,
    page_headers,
    parse_decision_form,
    render_notice,
    render_review_page,
)

__all__ = ["config", "service"]
KEY = b"k" * 32


class _Tags(HTMLParser):
    """Every start tag and its attributes, as a browser's tokenizer sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict[str, str | None]]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


async def _hostile_page(service: RunService) -> str:
    run_id = await drive_to_review(service, extra=HOSTILE)
    await service.execute(AGENT, run_id, Annotate(text=HOSTILE))
    await service.resolve_gate(
        AGENT, run_id, step_id="jobSearcher", gate="PAUSE_AFTER", decision="rejected", note=HOSTILE
    )
    context = await load_decision_context(
        service, AGENT, run_id, step_id="jobSearcher", gate="PAUSE_AFTER", reason=HOSTILE
    )
    return render_review_page(
        context, reviewer=HOSTILE, expires_at="2026-12-03T12:00:00.000Z", action="/review/tok", csrf="c"
    )


async def test_hostile_artifact_data_notes_and_reasons_render_as_text(service: RunService) -> None:
    html = await _hostile_page(service)
    tags = _tags(html)
    assert [t for t, _ in tags if t in ("script", "img", "iframe", "object", "embed")] == []
    assert all(not name.startswith("on") for _, attrs in tags for name in attrs)
    # The text is there, escaped: in the artifact (as JSON), the diff, the note, the reason, the reviewer.
    assert html.count("&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") >= 3  # reason, reviewer, note
    assert "&lt;script&gt;alert(\\&#34;x\\&#34;)&lt;/script&gt;" in html  # inside the JSON of the artifact
    assert "&amp; &#39;quoted&#39;" in html


async def test_the_page_shows_the_decision_and_a_form_with_the_token(service: RunService) -> None:
    run_id = await drive_to_review(service)
    context = await load_decision_context(service, AGENT, run_id, step_id="jobSearcher", gate="PAUSE_AFTER")
    html = render_review_page(
        context, reviewer="rita@example.org", expires_at="2026-12-03T12:00:00.000Z", action="/review/t1", csrf="TOKEN"
    )
    tags = _tags(html)
    forms = [a for t, a in tags if t == "form"]
    assert forms == [{"class": "decide", "method": "post", "action": "/review/t1", "data-testid": "decide-form"}]
    hidden = [a for t, a in tags if t == "input" and a.get("type") == "hidden"]
    assert hidden == [{"type": "hidden", "name": "csrf", "value": "TOKEN"}]
    buttons = [a.get("value") for t, a in tags if t == "button"]
    assert buttons == ["approved", "rejected", "edited"]
    for testid in ("artifact-potentialJobs", "artifact-compiledProfile", "position-parser1", "position-output"):
        assert f'data-testid="{testid}"' in html
    assert "Check the salaries" in html
    assert "rita@example.org" in html


def test_the_headers_keep_the_link_secret_and_forbid_script_and_framing() -> None:
    headers = page_headers()
    assert headers["Referrer-Policy"] == "same-origin"  # never to another origin; see review_page.py
    assert headers["Cache-Control"] == "no-store"
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp
    assert "frame-ancestors 'none'" in csp
    assert "form-action 'self'" in csp


def test_the_form_token_is_bound_to_the_link_and_the_nonce() -> None:
    token = form_token(KEY, "link-a", "n1")
    assert form_token_ok(KEY, "link-a", "n1", token)
    assert not form_token_ok(KEY, "link-b", "n1", token)  # another link
    assert not form_token_ok(KEY, "link-a", "n2", token)  # another nonce (another browser)
    assert not form_token_ok(b"x" * 32, "link-a", "n1", token)  # another server key
    assert not form_token_ok(KEY, "link-a", None, token)  # no cookie
    assert not form_token_ok(KEY, "link-a", "n1", None)  # no form field


def test_only_a_nonce_this_server_could_have_set_is_kept() -> None:
    nonce = new_nonce()
    assert kept_nonce(nonce) == nonce
    for foreign in (None, "", "short", "x" * 31 + ";", "a" * 33, "é" * 32):
        kept = kept_nonce(foreign)
        assert kept != foreign
        assert len(kept) == 32


def test_the_nonce_cookie_is_strict_http_only_and_scoped_to_the_link() -> None:
    value = nonce_cookie("abc", "/review/t1", secure=False)
    parts = [p.strip() for p in value.split(";")]
    assert parts[0] == "wb_review_nonce=abc"
    assert "Path=/review/t1" in parts
    assert "HttpOnly" in parts
    assert "SameSite=Strict" in parts
    assert "Secure" not in parts
    assert "Secure" in nonce_cookie("abc", "/review/t1", secure=True)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"decision=maybe&csrf=x", "choose approve, reject or approve with edits"),
        (b"csrf=x", "choose approve, reject or approve with edits"),
        (b"decision=edited&note=+++&csrf=x", "an approval with edits needs a note"),
        (b"decision=approved&note=" + b"a" * 10_001, "the note is longer than 10000 characters"),
        (b"decision=approved&note=%ff%fe", "the form is not URL-encoded UTF-8"),
        (b"a=1&" * 40_000, "the form is larger than"),
        (b"a=1&" * 20, "the form has more fields than this page sends"),
    ],
)
def test_a_bad_form_is_refused_with_a_reason(body: bytes, problem: str) -> None:
    with pytest.raises(FormProblem, match=problem):
        parse_decision_form(body)


def test_a_good_form() -> None:
    form = parse_decision_form(b"decision=edited&note=Use+the+2025+salaries&csrf=T")
    assert (form.decision, form.note, form.csrf) == ("edited", "Use the 2025 salaries", "T")
    assert parse_decision_form(b"decision=approved&note=&csrf=T").note is None


def test_a_notice_escapes_its_values() -> None:
    html = render_notice("expired", "Link expired", HOSTILE, "REVIEW_LINK_EXPIRED", [("run", HOSTILE)])
    assert "<script" not in html
    assert 'onerror="' not in html
    assert 'data-kind="expired"' in html
    assert 'data-code="REVIEW_LINK_EXPIRED"' in html
