"""Pure ASGI middleware in front of the MCP endpoints: bearer JWT -> the request's principal, or a 401.

The 401 carries `{"error", "code": "UNAUTHORIZED"}` and `WWW-Authenticate: Bearer ... resource_metadata=`
(RFC 9728), so MCP clients can discover how to authenticate (D24 fixed). The principal is put where
`current_principal()` reads it, the same place the stdio entry point puts it.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from workbench_mcp.auth import AuthError, JwtVerifier, acting_as, authenticated_user
from workbench_mcp.errors import ErrorCode
from workbench_mcp.principal import Principal
from workbench_mcp.web.error_responses import error_response


class BearerAuthMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: JwtVerifier | None,
        resource_metadata_url: str,
        single_tenant: Principal | None = None,
    ) -> None:
        if verifier is None and single_tenant is None:
            raise ValueError("BearerAuthMiddleware needs a verifier (or the loopback single-tenant principal)")
        self.app = app
        self.verifier = verifier
        self.resource_metadata_url = resource_metadata_url
        self.single_tenant = single_tenant

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        who = self.single_tenant
        if who is None:
            try:
                who = await self._authenticate(Headers(scope=scope).get("authorization"))
            except AuthError as exc:
                await self._unauthorized(scope, receive, send, str(exc), missing=not _has_credentials(scope))
                return
        scope["user"] = authenticated_user(who)
        with acting_as(who):
            await self.app(scope, receive, send)

    async def _authenticate(self, header: str | None) -> Principal:
        if not header:
            raise AuthError("authentication required: send Authorization: Bearer <token>")
        scheme, _, token = header.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthError("Authorization header must be 'Bearer <token>'")
        if self.verifier is None:  # pragma: no cover - excluded by __init__
            raise AuthError("no token verifier configured")
        return await self.verifier.verify(token.strip())

    async def _unauthorized(self, scope: Scope, receive: Receive, send: Send, reason: str, *, missing: bool) -> None:
        # RFC 6750 3.1: a request without credentials gets no error code, only the challenge.
        params = [] if missing else ['error="invalid_token"', f'error_description="{_quoted(reason)}"']
        params.append(f'resource_metadata="{self.resource_metadata_url}"')
        challenge = "Bearer " + ", ".join(params)
        response = error_response(ErrorCode.UNAUTHORIZED, reason, 401, {"WWW-Authenticate": challenge})
        await response(scope, receive, send)


def _has_credentials(scope: Scope) -> bool:
    return bool(Headers(scope=scope).get("authorization"))


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', "'")
