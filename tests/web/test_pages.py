"""HTML pages render through autoescaping templates that ship with the package."""

from __future__ import annotations

import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest
from jinja2 import UndefinedError

from workbench_mcp.web.pages import clock_time, render

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "workbench_mcp"


def test_every_template_is_package_data() -> None:
    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    templates = [p.relative_to(PACKAGE).as_posix() for p in (PACKAGE / "web" / "templates").iterdir()]
    assert templates
    assert [t for t in templates if not any(fnmatch(t, pattern) for pattern in patterns["workbench_mcp"])] == []


def test_values_are_escaped_and_a_missing_value_fails_the_render() -> None:
    page = render("home.html", title="<b>", version="1", description="a & b", links=[])
    assert "<h1>&lt;b&gt; 1</h1>" in page
    assert "a &amp; b" in page
    with pytest.raises(UndefinedError):
        render("home.html", title="t", version="1", links=[])


@pytest.mark.parametrize(
    ("ts", "shown"), [("2026-01-05T10:00:00.105Z", "10:00:00.105"), ("yesterday", "yesterday"), (None, "None")]
)
def test_clock_time_shows_the_time_of_day_or_the_text_as_it_is(ts: object, shown: str) -> None:
    assert clock_time(ts) == shown
