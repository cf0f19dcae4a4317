"""The MCP fixtures (a real SQLite-backed service, in-process clients) for governance tests."""

from tests.mcp_server.conftest import config, local_client, service

__all__ = ["config", "local_client", "service"]
