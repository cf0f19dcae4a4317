"""HTTP adapter: the Starlette app (MCP endpoints, health, discovery)."""
