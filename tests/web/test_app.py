"""The HTTP surface: 401 attack matrix, RFC 9728 discovery, health, DNS-rebinding protection, single-tenant mode."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.servers import SECRET, running_server, server_config, token
from workbench_mcp.config import ConfigError, JwtConfig, ServerConfig, check_serve_config

ISSUER = "https://issuer.test"
AUDIENCE = "workbench"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PUBLIC_PEM = (
    RSA_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
MCP_HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2025-11-25",
}
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())  # at call time: a long test session must not age these tokens out
    return {"sub": "mallory", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 600, **extra}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_with(key: bytes, payload: dict[str, Any]) -> str:
    signing_input = b64(b'{"alg":"HS256","typ":"JWT"}') + "." + b64(json.dumps(payload).encode())
    return signing_input + "." + b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest())


OTHER_SECRET = "a-different-secret-that-is-long-enough-000"


def without_sub() -> dict[str, Any]:
    return {k: v for k, v in claims().items() if k != "sub"}


ATTACKS: dict[str, Callable[[], str | None]] = {
    "missing": lambda: None,
    "malformed": lambda: "Bearer not-a-jwt",
    "wrong scheme": lambda: "Basic dXNlcjpwYXNz",
    "empty bearer": lambda: "Bearer",
    "bad signature": lambda: "Bearer " + jwt.encode(claims(), OTHER_SECRET, algorithm="HS256"),
    "alg none": lambda: "Bearer " + jwt.encode(claims(), None, algorithm="none"),  # type: ignore[arg-type]
    "hs256 signed with the public key": lambda: "Bearer " + hs256_with(PUBLIC_PEM.encode(), claims()),
    "expired": lambda: "Bearer " + jwt.encode(claims(exp=int(time.time()) - 3600), SECRET, algorithm="HS256"),
    "not yet valid": lambda: "Bearer " + jwt.encode(claims(nbf=int(time.time()) + 3600), SECRET, algorithm="HS256"),
    "wrong issuer": lambda: "Bearer " + jwt.encode(claims(iss="https://evil.test"), SECRET, algorithm="HS256"),
    "wrong audience": lambda: "Bearer " + jwt.encode(claims(aud="other"), SECRET, algorithm="HS256"),
    "no sub": lambda: "Bearer " + jwt.encode(without_sub(), SECRET, algorithm="HS256"),
}


@pytest.fixture
def config(tmp_path: Path) -> ServerConfig:
    jwt_config = JwtConfig(secret=SECRET, public_key_pem=PUBLIC_PEM, issuer=ISSUER, audience=AUDIENCE)
    return server_config(tmp_path, jwt=jwt_config, public_url=None)


@pytest.fixture
async def http(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        yield client


@pytest.mark.parametrize("attack", list(ATTACKS))
@pytest.mark.parametrize("path", ["/api/mcp", "/mcp"])
async def test_unauthenticated_requests_get_401_with_code_and_challenge(
    http: httpx.AsyncClient, base_url: str, attack: str, path: str
) -> None:
    headers = dict(MCP_HEADERS)
    authorization = ATTACKS[attack]()
    if authorization is not None:
        headers["Authorization"] = authorization
    response = await http.post(path, json=LIST_TOOLS, headers=headers)
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "UNAUTHORIZED"
    assert set(body) == {"error", "code"}
    assert body["error"]
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert f'resource_metadata="{base_url}/.well-known/oauth-protected-resource{path}"' in challenge
    assert ("error=" in challenge) is (attack != "missing")


@pytest.mark.parametrize(
    "authorization",
    [
        lambda: "Bearer " + jwt.encode(claims(), SECRET, algorithm="HS256"),
        lambda: "Bearer " + jwt.encode(claims(), RSA_KEY, algorithm="RS256"),
        lambda: "bearer " + jwt.encode(claims(exp=int(time.time()) - 5), SECRET, algorithm="HS256"),  # small skew
    ],
)
async def test_valid_tokens_reach_mcp(http: httpx.AsyncClient, authorization: Callable[[], str]) -> None:
    headers = {**MCP_HEADERS, "Authorization": authorization()}
    response = await http.post("/api/mcp", json=LIST_TOOLS, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert "mcp-session-id" not in response.headers  # stateless: any replica can answer the next request
    assert {t["name"] for t in response.json()["result"]["tools"]} >= {"start_run", "get_run"}


async def test_discovery_and_health_are_public(http: httpx.AsyncClient, base_url: str) -> None:
    health = await http.get("/healthz")
    assert health.status_code == 200
    assert health.json()["ok"] is True
    for suffix in ("", "/api/mcp", "/mcp"):
        document = (await http.get("/.well-known/oauth-protected-resource" + suffix)).json()
        assert document["resource"] == base_url + suffix
        assert document["authorization_servers"] == [ISSUER]
        assert document["bearer_methods_supported"] == ["header"]


async def test_dns_rebinding_protection_refuses_foreign_host_and_origin(http: httpx.AsyncClient) -> None:
    good = {**MCP_HEADERS, "Authorization": "Bearer " + jwt.encode(claims(), SECRET, algorithm="HS256")}
    foreign_host = await http.post("/api/mcp", json=LIST_TOOLS, headers={**good, "Host": "evil.test:80"})
    foreign_origin = await http.post("/api/mcp", json=LIST_TOOLS, headers={**good, "Origin": "http://evil.test"})
    assert (foreign_host.status_code, foreign_origin.status_code) == (421, 403)


async def test_public_url_and_allowed_hosts_are_accepted_hosts(tmp_path: Path) -> None:
    config = server_config(tmp_path, public_url="https://mcp.example.test", allowed_hosts=("proxy.internal",))
    headers = {**MCP_HEADERS, "Authorization": "Bearer " + token("proxied-user")}
    async with running_server(config) as url, httpx.AsyncClient(base_url=url) as http:
        for host in ("mcp.example.test", "proxy.internal", "proxy.internal:8443"):
            response = await http.post("/mcp", json=LIST_TOOLS, headers={**headers, "Host": host})
            assert response.status_code == 200, host
        metadata = (await http.get("/.well-known/oauth-protected-resource/api/mcp")).json()
        denied = await http.post("/mcp", json=LIST_TOOLS, headers={"Content-Type": "application/json"})
    assert metadata["resource"] == "https://mcp.example.test/api/mcp"
    assert (
        'resource_metadata="https://mcp.example.test/.well-known/oauth-protected-resource/mcp"'
        in (denied.headers["www-authenticate"])
    )


async def test_single_tenant_mode_needs_no_token_on_loopback(tmp_path: Path) -> None:
    config = server_config(tmp_path, single_tenant="conformance", jwt=JwtConfig())
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "list_runs", "arguments": {}}}
    async with running_server(config) as url, httpx.AsyncClient(base_url=url) as http:
        response = await http.post("/mcp", json=call, headers=MCP_HEADERS)
    assert response.status_code == 200
    assert response.json()["result"]["structuredContent"] == {"runs": []}


@pytest.mark.parametrize(
    "changes",
    [
        {"single_tenant": "t", "host": "0.0.0.0"},
        {"single_tenant": "t", "host": "10.1.2.3"},
        {"single_tenant": "t", "public_url": "https://mcp.example.test"},
        {"public_url": "ftp://x"},
    ],
)
def test_single_tenant_mode_is_refused_off_loopback(tmp_path: Path, changes: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        check_serve_config(replace(server_config(tmp_path), **changes))


def test_no_key_and_no_single_tenant_is_refused(tmp_path: Path) -> None:
    from workbench_mcp.web.app import create_app

    with pytest.raises(ValueError, match="JWT"):
        create_app(server_config(tmp_path, jwt=JwtConfig()))


async def test_read_only_mode_applies_to_http(tmp_path: Path) -> None:
    config = server_config(tmp_path, read_only=True)
    headers = {**MCP_HEADERS, "Authorization": "Bearer " + token("reader")}
    call = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "start_run", "arguments": {}}}
    async with running_server(config) as url, httpx.AsyncClient(base_url=url) as http:
        tools = (await http.post("/api/mcp", json=LIST_TOOLS, headers=headers)).json()["result"]["tools"]
        refused = (await http.post("/api/mcp", json=call, headers=headers)).json()["result"]
    assert tools
    assert all(t["annotations"]["readOnlyHint"] for t in tools)
    assert refused["isError"] is True
    assert refused["structuredContent"]["code"] == "READ_ONLY"  # a real tool this server leaves out


def _bearer_checks(app: Any) -> list[Any]:
    from starlette.routing import Route

    from workbench_mcp.web.bearer_auth import BearerAuthMiddleware

    found = []
    for route in app.routes:
        inner = route.app if isinstance(route, Route) else None
        for _ in range(4):  # through the wrappers in front of the bearer check
            if inner is None or isinstance(inner, BearerAuthMiddleware):
                break
            inner = getattr(inner, "app", None)
        if isinstance(inner, BearerAuthMiddleware):
            found.append(inner)
    return found


def test_mcp_and_rest_share_one_token_verifier(tmp_path: Path) -> None:
    """One token cache and one JWKS cache: a token verified by an MCP call is not checked again by REST."""
    from workbench_mcp.web.app import create_app

    checks = _bearer_checks(create_app(server_config(tmp_path)))

    assert len(checks) >= 4  # /mcp, /mcp/, /api/runs, /api/runs/{id}
    assert len({id(check.verifier) for check in checks}) == 1
    assert checks[0].verifier is not None


def test_the_mcp_routes_come_first_and_no_two_routes_share_a_path(tmp_path: Path) -> None:
    """The router tries routes in order, and nearly every request is an MCP call, so those go first; that
    order decides nothing else only while every path is distinct."""
    from starlette.routing import Route

    from workbench_mcp.web.app import create_app

    routes = [route for route in create_app(server_config(tmp_path)).router.routes if isinstance(route, Route)]
    paths = [route.path for route in routes]
    assert paths[:2] == ["/api/mcp", "/mcp"]
    assert len(set(paths)) == len(paths)
