"""workbench-mcp: an MCP server for LLM Workbench protocol 1.0.0."""

__version__ = "0.1.0"
