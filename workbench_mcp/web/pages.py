"""HTML pages (`GET /` for browsers, `/runs/demo`) render through Jinja2 templates in
web/templates/ with autoescape on: every `{{ value }}` is HTML-escaped, quotes included, so escaping
does not depend on remembering to call a helper. The pages carry no script, and their
Content-Security-Policy forbids scripts outright on top of that."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined


def clock_time(ts: object) -> str:
    """`2026-01-05T10:00:00.105Z` -> `10:00:00.105`; anything unexpected is shown as it is."""
    text = str(ts)
    return text[11:23] if len(text) >= 23 and text[10] == "T" else text


_ENV = Environment(
    loader=PackageLoader("workbench_mcp.web", "templates"),
    autoescape=True,
    undefined=StrictUndefined,  # a misspelt value fails the render instead of showing nothing
    keep_trailing_newline=True,
)
_ENV.filters["clock"] = clock_time


def render(template: str, **values: Any) -> str:
    return _ENV.get_template(template).render(**values)
