"""The SDK's OpenTelemetry span per message is kept only when an OpenTelemetry SDK is installed."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp.server._otel import OpenTelemetryMiddleware
from opentelemetry import trace

from tests.servers import ALL_TOOLSETS, server_config
from workbench_mcp.mcp_server.server import build_mcp_server
from workbench_mcp.wiring import open_service


def _has_span_middleware(server: object) -> bool:
    middleware = server._lowlevel_server.middleware  # type: ignore[attr-defined]
    return any(isinstance(m, OpenTelemetryMiddleware) for m in middleware)


async def test_no_span_middleware_without_a_tracer_provider(tmp_path: Path) -> None:
    assert isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    async with open_service(server_config(tmp_path)) as service:
        assert not _has_span_middleware(build_mcp_server(service, ALL_TOOLSETS))


async def test_spans_are_kept_when_an_sdk_provider_is_installed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class InstalledProvider(trace.NoOpTracerProvider):
        """Stands for an SDK provider set by `opentelemetry-instrument` before the server starts."""

    monkeypatch.setattr(trace, "get_tracer_provider", InstalledProvider)
    async with open_service(server_config(tmp_path)) as service:
        assert _has_span_middleware(build_mcp_server(service, ALL_TOOLSETS))
