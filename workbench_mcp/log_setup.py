"""Logging for the CLI: human lines on stderr; the per-call audit logger emits one JSON object per line.

Configured before the MCP server is built, so the SDK's own `logging.basicConfig` becomes a no-op.
stdout is never used: on stdio it belongs to the protocol.
"""

from __future__ import annotations

import logging
import sys


def configure_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    human = logging.StreamHandler(sys.stderr)
    human.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(human)
    root.setLevel(level)

    audit = logging.getLogger("workbench_mcp.audit")
    audit.handlers.clear()
    json_lines = logging.StreamHandler(sys.stderr)
    json_lines.setFormatter(logging.Formatter("%(message)s"))
    audit.addHandler(json_lines)
    audit.setLevel(level)
    audit.propagate = False
    # Client libraries would otherwise log every request line (and the SDK its own chatter) at INFO.
    for noisy in ("httpx", "httpx2", "mcp", "sse_starlette"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
