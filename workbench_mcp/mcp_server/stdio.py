"""The stdio transport for IDEs and Claude Desktop: no token; the tenant comes from --tenant / WORKBENCH_TENANT.

The identity is set the same way the HTTP middleware sets it, once for the whole process (every
task the server starts inherits it), so tools never branch on the transport.
"""

from __future__ import annotations

import getpass

from workbench_mcp.auth import set_principal
from workbench_mcp.config import ServerConfig
from workbench_mcp.mcp_server.server import build_mcp_server
from workbench_mcp.principal import Principal
from workbench_mcp.wiring import build_review, open_service


def _local_user() -> str:
    try:
        return getpass.getuser() or "local"
    except (KeyError, OSError):  # no passwd entry (containers) and no USER/LOGNAME variable
        return "local"


async def run_stdio(config: ServerConfig) -> None:
    set_principal(Principal(tenant_id=config.stdio_tenant, subject=f"stdio:{_local_user()}"))
    async with open_service(config) as service:
        review = build_review(config, service)  # the same link key as `serve`: links minted here open there
        server = build_mcp_server(service, config.toolsets, config.read_only, review)
        await server.run_stdio_async()
