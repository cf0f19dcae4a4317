"""`GET /`: where everything is, as HTML for browsers and JSON for everything else; every link answers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.servers import server_config
from workbench_mcp import __version__
from workbench_mcp.config import ServerConfig
from workbench_mcp.web.discovery_routes import _prefers_html

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


@pytest.fixture
def config(tmp_path: Path) -> ServerConfig:
    return server_config(tmp_path)  # public URL = the server's own origin, so the links can be followed


async def test_programs_get_json_links_that_all_answer(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        home = await client.get("/")
        assert home.status_code == 200
        assert home.headers["content-type"] == "application/json; charset=utf-8"
        assert home.headers["vary"] == "Accept"
        document = home.json()
        links = document["links"]
        assert {links[k].removeprefix(base_url) for k in ("mcp", "llms", "agents", "demo")} == {
            "/api/mcp",
            "/llms.txt",
            "/agents.md",
            "/runs/demo",
        }
        assert document["version"] == __version__
        for name, url in links.items():
            if name == "mcp":  # answers 401 without a token, and says where its metadata is
                response = await client.post(url, json={})
                assert response.status_code == 401
                assert "resource_metadata=" in response.headers["www-authenticate"]
            else:
                assert (await client.get(url)).status_code == 200, url


async def test_browsers_get_a_page_with_the_same_links(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        page = await client.get("/", headers={"Accept": BROWSER_ACCEPT})
        links = (await client.get("/")).json()["links"]
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert "<script" not in page.text
    for url in links.values():
        assert f'href="{url}"' in page.text


@pytest.mark.parametrize(
    ("accept", "html"),
    [
        (BROWSER_ACCEPT, True),
        ("text/html", True),
        ("*/*", False),
        ("", False),
        ("application/json", False),
        ("application/json, text/html;q=0.5", False),
        ("text/html;q=0.4, application/json;q=0.3", True),
        ("text/*;q=0.9, application/*;q=0.8", True),
        ("text/html;q=bogus, */*", False),
    ],
)
def test_content_negotiation(accept: str, html: bool) -> None:
    assert _prefers_html(accept) is html
