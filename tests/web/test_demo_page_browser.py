"""/runs/demo in a real headless Chromium: the timeline, the gates and the integrity badge are laid out and
visible (non-empty boxes, not hidden by CSS), and a full-page screenshot lands in test-artifacts/."""

from __future__ import annotations

import json
from pathlib import Path

from tests.servers import server_config, server_in_thread
from tests.web.chromium import Browser, find_chromium

SCREENSHOT = Path(__file__).resolve().parents[2] / "test-artifacts" / "runs-demo.png"

VISIBLE = """
(() => {
  const visible = (el) => {
    if (!el) return false;
    const box = el.getBoundingClientRect(), style = getComputedStyle(el);
    return box.width > 0 && box.height > 0 && style.visibility !== "hidden" && style.display !== "none"
      && Number(style.opacity) > 0;
  };
  const one = (id) => document.querySelector(`[data-testid="${id}"]`);
  const all = (id) => [...document.querySelectorAll(`[data-testid="${id}"]`)];
  return JSON.stringify({
    timeline: visible(one("timeline")),
    events: all("timeline-event").filter(visible).length,
    eventTypes: all("timeline-event").map((e) => e.dataset.type),
    gates: visible(one("gates")),
    gateCells: ["parser1-before", "jobSearcher-after", "output-before"].map((g) => {
      const el = one(`gate-${g}`);
      return visible(el) ? el.textContent : null;
    }),
    graph: visible(one("workflow-graph")),
    badge: visible(one("integrity-badge")) ? one("integrity-badge").textContent.trim() : null,
    verified: one("integrity-badge") && one("integrity-badge").dataset.verified,
    status: one("run-status") && one("run-status").textContent,
    pageWidth: document.documentElement.scrollWidth,
  });
})()
"""


def test_the_demo_page_renders_in_chromium(tmp_path: Path) -> None:
    executable = find_chromium()
    with server_in_thread(server_config(tmp_path)) as url, Browser(executable) as browser:
        browser.open(url + "/runs/demo")
        seen = json.loads(browser.evaluate(VISIBLE))
        browser.screenshot(SCREENSHOT)

    assert seen["timeline"] is True
    assert seen["events"] == len(seen["eventTypes"]) == 23
    assert seen["eventTypes"][0] == "rule_changed"
    assert seen["eventTypes"][-1] == "run_status_changed"
    assert seen["gates"] is True
    assert seen["gateCells"] == ["approved", "approved", "approved"]
    assert seen["graph"] is True
    assert seen["badge"] is not None
    assert seen["badge"].startswith("✓ Integrity verified")
    assert seen["verified"] == "true"
    assert seen["status"] == "completed"
    assert seen["pageWidth"] <= 1280  # nothing forces horizontal scrolling at a laptop width
    assert SCREENSHOT.stat().st_size > 10_000
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
