"""workbench-mcp: an MCP server for LLM Workbench protocol 1.0.0."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("workbench-mcp")
except PackageNotFoundError:  # a source tree that was never installed (`pip install -e .` fixes it)
    __version__ = "0.0.0+unknown"
