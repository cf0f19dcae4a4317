"""GET/POST /review/{token} on the real app: the link authenticates, decides once as its reviewer (channel
`link`), and every refusal is a page with its status and code that changes nothing."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.servers import free_port, running_server, server_config
from tests.web.chromium import Browser, find_chromium, page_server
from workbench_mcp.commands import Annotate, WriteArtifact
from workbench_mcp.config import RateLimitConfig, ServerConfig
from workbench_mcp.principal import Principal
from workbench_mcp.review import links
from workbench_mcp.review.service import ReviewService
from workbench_mcp.service import RunService
from workbench_mcp.wiring import open_service

TENANT = "org_review"
AGENT = Principal(TENANT, "agent-7", frozenset({"runs:read", "runs:write"}))
WORKFLOW = {
    "workflow": {
        "id": "reviewed",
        "version": 1,
        "title": "Reviewed <b>release</b>",
        "steps": [
            {"id": "draft", "gatePolicy": "PAUSE_BEFORE", "inputs": ["brief"], "outputs": ["notes"]},
            {"id": "publish", "gatePolicy": "PAUSE_AFTER", "inputs": ["notes"]},
        ],
        "edges": [{"id": "e1", "from": "draft", "to": "publish"}],
    },
    "governance": {"approvals": {"default": {"subjects": ["rita", "sam"]}}},
}
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def config(tmp_path: Path) -> ServerConfig:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "reviewed.json").write_text(json.dumps(WORKFLOW))
    return server_config(tmp_path, workflows_dir=folder)


@pytest.fixture
async def base_url(config: ServerConfig) -> AsyncIterator[str]:
    async with running_server(config) as url:
        yield url


@dataclass
class Operator:
    """What `workbench-mcp review-link` does: the same database and link key as the server, another process."""

    runs: RunService
    key: bytes
    base_url: str

    def review(self, *, now: Callable[[], datetime] | None = None) -> ReviewService:
        signer = links.LinkSigner(self.key, self.base_url)
        return ReviewService(self.runs, signer) if now is None else ReviewService(self.runs, signer, now=now)

    async def run_awaiting_review(self) -> str:
        run_id: str = (await self.runs.start_run(AGENT, "reviewed"))["runId"]
        await self.runs.execute(
            AGENT, run_id, WriteArtifact(artifact_key="brief", type_id="brief", data={"topic": "v1"})
        )
        await self.runs.execute(
            AGENT, run_id, WriteArtifact(artifact_key="brief", type_id="brief", data={"topic": "v2"})
        )
        return run_id

    async def link(self, run_id: str, reviewer: str = "rita", **options: Any) -> str:
        minted = await self.review(**options).mint(
            AGENT, run_id, step_id="draft", gate="PAUSE_BEFORE", reason="Is the brief right?", reviewers=[reviewer]
        )
        return minted.links[reviewer].removeprefix(self.base_url)


@pytest.fixture
async def operator(config: ServerConfig, base_url: str) -> AsyncIterator[Operator]:
    key, _ = links.load_or_create_key(links.default_key_path(config.db_path))
    async with open_service(config) as runs:
        yield Operator(runs, key, base_url)


@pytest.fixture
async def browser(base_url: str) -> AsyncIterator[httpx2.AsyncClient]:
    """A client that keeps cookies, as a browser does."""
    async with httpx2.AsyncClient(base_url=base_url, timeout=30) as client:
        yield client


def _kind(response: httpx2.Response) -> tuple[int, str | None, str | None]:
    kind = re.search(r'data-kind="([^"]+)"', response.text)
    code = re.search(r'data-code="([^"]+)"', response.text)
    return response.status_code, kind and kind.group(1), code and code.group(1)


async def _open(browser: httpx2.AsyncClient, path: str) -> str:
    page = await browser.get(path)
    assert page.status_code == 200, page.text
    found = CSRF.search(page.text)
    assert found is not None
    return found.group(1)


async def _decisions(operator: Operator, run_id: str) -> list[tuple[str, str | None, str]]:
    records = (await operator.runs.reads.audit_log(AGENT, run_id))["records"]
    return [(r["kind"], r.get("principal"), r.get("tool", "")) for r in records]


async def test_the_page_shows_the_run_and_keeps_the_link_secret(
    operator: Operator, browser: httpx2.AsyncClient
) -> None:
    run_id = await operator.run_awaiting_review()
    path = await operator.link(run_id)
    page = await browser.get(path)

    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "same-origin"
    assert page.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    cookie = page.headers["set-cookie"]
    assert f"Path={path}" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    assert run_id in page.text
    assert "Reviewed &lt;b&gt;release&lt;/b&gt;" in page.text
    assert 'data-testid="artifact-brief"' in page.text
    assert "Is the brief right?" in page.text
    assert "+  &#34;topic&#34;: &#34;v2&#34;" in page.text  # the diff against v1


async def test_approve_once_as_the_reviewer_then_the_link_is_used(
    operator: Operator, browser: httpx2.AsyncClient
) -> None:
    run_id = await operator.run_awaiting_review()
    path = await operator.link(run_id)
    csrf = await _open(browser, path)

    decided = await browser.post(path, data={"decision": "approved", "note": "Looks right", "csrf": csrf})
    assert _kind(decided) == (200, "decided", "OK")
    assert "Approved" in decided.text
    assert decided.headers["cache-control"] == "no-store"

    state = await operator.runs.reads.get_run(AGENT, run_id)
    assert dict(state["gateState"])["draft"]["before"] == "approved"
    mutations = [r for r in (await operator.runs.reads.audit_log(AGENT, run_id))["records"] if r["kind"] == "mutation"]
    assert (mutations[-1]["principal"], mutations[-1]["tool"]) == ("rita", "link")

    assert _kind(await browser.get(path))[:2] == (410, "used")
    again = await browser.post(path, data={"decision": "rejected", "csrf": csrf})
    assert _kind(again) == (410, "used", "REVIEW_LINK_USED")
    assert dict((await operator.runs.reads.get_run(AGENT, run_id))["gateState"])["draft"]["before"] == "approved"


async def test_a_post_without_this_pages_token_changes_nothing(operator: Operator, browser: httpx2.AsyncClient) -> None:
    run_id = await operator.run_awaiting_review()
    path = await operator.link(run_id)
    other_path = await operator.link(run_id, "sam")
    csrf = await _open(browser, path)
    revision = (await operator.runs.reads.get_run(AGENT, run_id))["revision"]

    no_token = await browser.post(path, data={"decision": "approved"})
    assert _kind(no_token) == (403, "bad_form", "FORM_TOKEN_MISMATCH")
    other_link = await browser.post(other_path, data={"decision": "approved", "csrf": csrf})  # another link's token
    assert _kind(other_link) == (403, "bad_form", "FORM_TOKEN_MISMATCH")
    async with httpx2.AsyncClient(base_url=str(browser.base_url), timeout=30) as no_cookie:
        stolen = await no_cookie.post(path, data={"decision": "approved", "csrf": csrf})
    assert _kind(stolen) == (403, "bad_form", "FORM_TOKEN_MISMATCH")
    json_body = await browser.post(path, json={"decision": "approved", "csrf": csrf})
    assert _kind(json_body) == (400, "bad_form", "INVALID_FORM")
    no_note = await browser.post(path, data={"decision": "edited", "note": " ", "csrf": csrf})
    assert _kind(no_note) == (400, "bad_form", "INVALID_FORM")
    assert "needs a note" in no_note.text

    assert (await operator.runs.reads.get_run(AGENT, run_id))["revision"] == revision
    assert (await browser.get(path)).status_code == 200  # the link is still unused


async def test_a_foreign_origin_is_refused_before_the_route(operator: Operator, browser: httpx2.AsyncClient) -> None:
    run_id = await operator.run_awaiting_review()
    path = await operator.link(run_id)
    csrf = await _open(browser, path)
    refused = await browser.post(
        path, data={"decision": "approved", "csrf": csrf}, headers={"Origin": "https://evil.example"}
    )
    assert refused.status_code == 403
    assert refused.json()["code"] == "FORBIDDEN_ORIGIN"
    assert (await browser.get(path)).status_code == 200


async def test_tampered_and_expired_links_are_refused(operator: Operator, browser: httpx2.AsyncClient) -> None:
    run_id = await operator.run_awaiting_review()
    path = await operator.link(run_id)
    token = path.removeprefix("/review/")
    changed = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert _kind(await browser.get("/review/" + changed)) == (404, "invalid", "REVIEW_LINK_INVALID")
    # A POST needs this page's form token first: without it, refused before the link is looked at.
    assert _kind(await browser.post("/review/" + changed, data={"decision": "approved"})) == (
        403,
        "bad_form",
        "FORM_TOKEN_MISMATCH",
    )
    assert _kind(await browser.get("/review/not-a-token")) == (404, "invalid", "REVIEW_LINK_INVALID")

    past = datetime.now(UTC) - timedelta(hours=2)
    short = await operator.review(now=lambda: past).mint(
        AGENT, run_id, step_id="draft", gate="PAUSE_BEFORE", reviewers=["sam"], ttl_seconds=3600
    )
    stale = short.links["sam"].removeprefix(operator.base_url)  # minted two hours ago for one hour
    assert _kind(await browser.get(stale)) == (410, "expired", "REVIEW_LINK_EXPIRED")


async def test_a_reviewer_the_policy_does_not_allow_gets_a_page_and_a_denial(
    operator: Operator, browser: httpx2.AsyncClient
) -> None:
    run_id = await operator.run_awaiting_review()
    path = await operator.link(run_id, "mallory")  # a link for someone the policy does not name
    csrf = await _open(browser, path)
    refused = await browser.post(path, data={"decision": "approved", "csrf": csrf})

    assert _kind(refused)[:2] == (403, "not_allowed")
    denials = [r for r in (await operator.runs.reads.audit_log(AGENT, run_id))["records"] if r["kind"] == "denied"]
    assert [(r["principal"], r["tool"]) for r in denials] == [("mallory", "link")]
    assert dict((await operator.runs.reads.get_run(AGENT, run_id))["gateState"])["draft"]["before"] == "pending"


async def test_a_deleted_run_is_a_gone_page(operator: Operator, browser: httpx2.AsyncClient) -> None:
    run_id = await operator.run_awaiting_review()
    path = await operator.link(run_id)
    csrf = await _open(browser, path)
    assert await operator.runs.delete_run(AGENT, run_id)
    assert _kind(await browser.get(path)) == (410, "run_gone", "UNKNOWN_RUN")
    assert _kind(await browser.post(path, data={"decision": "approved", "csrf": csrf})) == (
        410,
        "run_gone",
        "UNKNOWN_RUN",
    )


async def test_the_rate_limit_applies_per_tenant_of_the_link(tmp_path: Path) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "reviewed.json").write_text(json.dumps(WORKFLOW))
    config = server_config(tmp_path, workflows_dir=folder, rate_limit=RateLimitConfig(per_second=0.001, burst=2))
    async with running_server(config) as url, open_service(config) as runs:
        key, _ = links.load_or_create_key(links.default_key_path(config.db_path))
        operator = Operator(runs, key, url)
        path = await operator.link(await operator.run_awaiting_review())
        async with httpx2.AsyncClient(base_url=url, timeout=30) as client:
            statuses = [(await client.get(path)).status_code for _ in range(3)]
            limited = await client.get(path)
    assert statuses == [200, 200, 429]
    assert _kind(limited)[:2] == (429, "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1


# --- in a real browser ---------------------------------------------------------------------------------------


async def test_a_form_posted_from_another_site_is_refused_in_chromium(operator: Operator, base_url: str) -> None:
    """Even with the page's form token in hand, another site cannot decide: the browser does not send the
    SameSite=Strict nonce cookie with its POST. (Its Origin, a loopback name, passes the Host/Origin check:
    the form token is what stops it.)"""
    executable = find_chromium()
    run_id = await operator.run_awaiting_review()
    link = base_url + await operator.link(run_id)

    def attack() -> dict[str, Any]:
        with Browser(executable) as browser:
            browser.open(link)  # the reviewer has the page open: the nonce cookie is set
            csrf = browser.evaluate('document.querySelector("input[name=csrf]").value')
            form = (
                f'<form method="post" action="{link}"><input name="decision" value="approved">'
                f'<input name="csrf" value="{csrf}"><button id="go">win a prize</button></form>'
            )
            with page_server(form) as port:
                browser.open(f"http://localhost:{port}/")
                browser.click("#go")
                seen: dict[str, Any] = json.loads(
                    browser.evaluate(
                        "JSON.stringify({kind: document.querySelector('[data-testid=notice]').dataset.kind,"
                        " code: document.querySelector('[data-testid=notice]').dataset.code})"
                    )
                )
            return seen

    seen = await asyncio.to_thread(attack)
    assert seen == {"kind": "bad_form", "code": "FORM_TOKEN_MISMATCH"}
    assert dict((await operator.runs.reads.get_run(AGENT, run_id))["gateState"])["draft"]["before"] == "pending"


async def test_hostile_run_content_does_not_run_in_chromium(operator: Operator, base_url: str) -> None:
    executable = find_chromium()
    run_id = await operator.run_awaiting_review()
    hostile = "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">"
    await operator.runs.execute(
        AGENT, run_id, WriteArtifact(artifact_key="brief", type_id="brief", data={"topic": hostile})
    )
    await operator.runs.execute(AGENT, run_id, Annotate(text=hostile))
    path = await operator.review().mint(
        AGENT, run_id, step_id="draft", gate="PAUSE_BEFORE", reason=hostile, reviewers=["rita"]
    )

    def look() -> dict[str, Any]:
        with Browser(executable) as browser:
            browser.open(path.links["rita"])
            seen: dict[str, Any] = json.loads(
                browser.evaluate(
                    "JSON.stringify({title: document.title, scripts: document.scripts.length,"
                    " images: document.images.length, reason: document.querySelector('[data-testid=reason]')"
                    ".textContent})"
                )
            )
            return seen

    seen = await asyncio.to_thread(look)
    assert "pwned" not in seen["title"]
    assert (seen["scripts"], seen["images"]) == (0, 0)
    assert seen["reason"] == hostile  # shown as the text it is


async def test_a_gate_decided_through_another_link_shows_nothing_to_decide(
    operator: Operator, browser: httpx2.AsyncClient
) -> None:
    run_id = await operator.run_awaiting_review()
    rita, sam = await operator.link(run_id, "rita"), await operator.link(run_id, "sam")
    sams_form = await _open(browser, sam)  # sam has the page open while rita decides
    csrf = await _open(browser, rita)
    assert _kind(await browser.post(rita, data={"decision": "approved", "csrf": csrf}))[:2] == (200, "decided")

    late = await browser.get(sam)
    assert _kind(late) == (409, "not_pending", "GATE_NOT_APPLICABLE")
    assert "already open (approved at" in late.text
    revision = (await operator.runs.reads.get_run(AGENT, run_id))["revision"]
    answered = await browser.post(sam, data={"decision": "approved", "csrf": sams_form})
    assert _kind(answered)[:2] == (200, "decided")
    assert "Nothing changed: the gate was already open" in answered.text
    assert (await operator.runs.reads.get_run(AGENT, run_id))["revision"] == revision


@pytest.mark.parametrize(
    "token",
    ["x" * 5000, "v1..", "v1.e30.", "v1.%00.%00", "%C3%A9t%C3%A9", "v2.abc.def", "v1.eyJ0IjoxfQ.AAAA", "..%2e"],
)
async def test_garbage_tokens_are_invalid_links_never_errors(operator: Operator, token: str) -> None:
    async with httpx2.AsyncClient(base_url=operator.base_url, timeout=30) as client:
        page = await client.get("/review/" + token)
        posted = await client.post("/review/" + token, data={"decision": "approved", "csrf": "x"})
    assert _kind(page) == (404, "invalid", "REVIEW_LINK_INVALID")
    assert posted.status_code == 403  # the form token is checked before the link is used


async def test_a_form_from_one_replica_decides_on_another(config: ServerConfig, operator: Operator) -> None:
    """Two servers on one database and link key (replicas, or `--workers` processes): the page from one, the
    POST to the other. The form key derives from the shared link key, so the other accepts the form."""
    run_id = await operator.run_awaiting_review()
    path = await operator.link(run_id)
    other = replace(config, port=free_port())
    async with running_server(other) as other_url, httpx2.AsyncClient(timeout=30) as client:
        page = await client.get(operator.base_url + path)
        csrf = CSRF.search(page.text)
        assert csrf is not None
        # Cookies are per host, not per port: the browser sends this one to either replica.
        decided = await client.post(other_url + path, data={"decision": "approved", "csrf": csrf.group(1)})
    assert _kind(decided)[:2] == (200, "decided")
