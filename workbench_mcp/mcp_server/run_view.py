"""The run view for MCP hosts that render MCP Apps (`io.modelcontextprotocol/ui`, the SDK's `mcp.server.apps`).

One static `ui://` resource (web/templates/run_view.*): the host renders it beside the conversation when
`get_run` is called (the tool's `_meta.ui.resourceUri`), hands it the call's result, and proxies the view's
own `tools/call`s (get_run, next_actions, resolve_gate) to this server as the signed-in user, so scopes and
approval policies apply exactly as to any call. It shows status, steps and gates (Approve / Reject for each
pending gate), artifacts and the timeline. Clients without Apps read the same get_run result as text.

The page loads nothing (no network, no external resource) and declares its own CSP: `default-src 'none'`,
with its one script and one style allowed by their sha256. Run content is untrusted and reaches the DOM only
as textContent.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from importlib.resources import files
from typing import Any

from mcp.server.apps import Apps

RUN_VIEW_URI = "ui://workbench/run-view.html"
LINKED_TOOLS = frozenset({"get_run"})
"""Tools whose result the view renders (it reads `structuredContent` of a get_run result)."""


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


@cache
def run_view_html() -> str:
    templates = files("workbench_mcp.web").joinpath("templates")
    style = templates.joinpath("run_view.css").read_text(encoding="utf-8")
    script = templates.joinpath("run_view.js").read_text(encoding="utf-8")
    csp = (
        f"default-src 'none'; script-src {_sha256(script)}; style-src {_sha256(style)}; "
        "img-src 'none'; connect-src 'none'; base-uri 'none'; form-action 'none'"
    )
    page = templates.joinpath("run_view.html").read_text(encoding="utf-8")
    return page.replace("{{csp}}", csp).replace("{{style}}", style).replace("{{script}}", script)


def run_view_apps() -> Apps:
    """The Apps extension carrying the view (the server advertises the extension and serves the resource)."""
    apps = Apps()
    apps.add_html_resource(
        RUN_VIEW_URI,
        run_view_html(),
        name="run-view",
        title="Run view",
        description="Interactive view of a run: status, steps and gates (approve/reject), artifacts, timeline.",
        prefers_border=True,
    )
    return apps


def view_meta(tool: str) -> dict[str, Any] | None:
    """The tool's `_meta` linking it to the view (MCP Apps: `_meta.ui.resourceUri`), or None."""
    return {"ui": {"resourceUri": RUN_VIEW_URI}} if tool in LINKED_TOOLS else None
