"""Bearer JWT -> Principal, for the MCP endpoint (and, later, REST) alike; the caller of the current request.

Verification is deliberately narrow: an explicit algorithm allow-list that is chosen by the key
material configured (HS256 only with a shared secret; RS256/ES256 only with a public key or JWKS),
so `alg: none` and HS/RS key confusion can never verify. `exp` and `sub` are required; `iss`/`aud`
are checked when configured; `exp`/`iat`/`nbf` must be numbers and the lifetime is bounded. The tenant
is the organization claim, else `"user:" + sub` (docs/protocol.md 8.2); an organization claim in the
`user:` namespace is refused, so it can never name someone's personal tenant.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import anyio
import httpx2
import jwt
from cachetools import TLRUCache
from mcp.server.auth.middleware.auth_context import auth_context_var
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken, TokenVerifier

from workbench_mcp.config import ConfigError, JwtConfig, check_jwt_config, read_secret_file
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.principal import USER_TENANT_PREFIX, Principal, in_user_namespace, tenant_for
from workbench_mcp.scopes import DEFAULT_SCOPES

logger = logging.getLogger(__name__)

HMAC_ALGORITHMS = frozenset({"HS256"})
ASYMMETRIC_ALGORITHMS = frozenset({"RS256", "ES256"})
MAX_TOKEN_BYTES = 16_384
"""Longer Authorization values are refused before any parsing."""


class AuthError(Exception):
    """A token that does not authenticate; the message is safe to show the caller (no token content)."""


class PrincipalToken(AccessToken):
    """The SDK's AccessToken plus the tenant we derived, so `current_principal()` never re-derives it."""

    tenant_id: str


# --- JWKS ----------------------------------------------------------------------------------------


class JwksCache:
    """Signing keys from a JWKS URL: cached, refetched on an unknown `kid` at most every `min_refresh_s`."""

    def __init__(self, url: str, *, ttl_s: float = 300.0, min_refresh_s: float = 30.0) -> None:
        self._url = url
        self._ttl_s = ttl_s
        self._min_refresh_s = min_refresh_s
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = anyio.Lock()

    async def key_for(self, kid: str | None) -> jwt.PyJWK:
        now = time.monotonic()
        if now - self._fetched_at > self._ttl_s:
            await self._refresh(force=True)
        key = self._pick(kid)
        if key is None:
            # Key rotation: the issuer may have published a new key since the last fetch. The
            # cooldown stops a stream of made-up kids from turning us into a JWKS hammer.
            await self._refresh(force=False)
            key = self._pick(kid)
        if key is None:
            raise AuthError("token signing key is unknown")
        return key

    def _pick(self, kid: str | None) -> jwt.PyJWK | None:
        if kid is not None:
            return self._keys.get(kid)
        # A token without `kid` is accepted only when the set leaves no choice.
        return next(iter(self._keys.values())) if len(self._keys) == 1 else None

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            # Checked under the lock: concurrent requests that all saw stale keys fetch once.
            if time.monotonic() - self._fetched_at < (self._ttl_s if force else self._min_refresh_s):
                return
            try:
                async with httpx2.AsyncClient(timeout=10.0) as client:
                    response = await client.get(self._url)
                    response.raise_for_status()
                    document = response.json()
                keyset = jwt.PyJWKSet.from_dict(document)
            except Exception as exc:  # network, HTTP status, JSON or key parsing: all "keys unavailable"
                logger.warning("JWKS fetch from %s failed: %s", self._url, type(exc).__name__)
                self._fetched_at = time.monotonic()  # back off instead of refetching on every request
                if not self._keys:
                    raise AuthError("token signing keys are unavailable") from None
                return
            # Only asymmetric signing keys: a symmetric (oct) key published in a JWKS is never trusted.
            self._keys = {k.key_id or "": k for k in keyset.keys if k.algorithm_name in ASYMMETRIC_ALGORITHMS}
            self._fetched_at = time.monotonic()


# --- verification --------------------------------------------------------------------------------


class VerifiedTokens:
    """Tokens that verified recently, so an agent's burst of calls pays for one signature check.

    Measured: JWT decoding was ~7% of the server's CPU per MCP call. An entry is used only until the
    token's own `exp` (plus the leeway `jwt.decode` allowed) and never longer than `max_age_s`, so a
    key removed from the JWKS stops being trusted within that time. At most `capacity` entries,
    least recently used out, and only tokens up to `MAX_CACHED_TOKEN` characters (typical JWTs are well under),
    so the memory held stays bounded.
    """

    def __init__(self, *, capacity: int = 4096, max_age_s: float = 60.0, clock: Callable[[], float] = time.time):
        self._max_age_s = max_age_s
        self._clock = clock
        # Each entry carries its own end (the `until` below): TLRU drops it from then on, and past
        # `capacity` evicts expired entries first, then the least recently used.
        self._entries: TLRUCache[str, tuple[float, Principal]] = TLRUCache(capacity, _entry_end, timer=clock)

    def get(self, token: str) -> Principal | None:
        entry = self._entries.get(token)
        return None if entry is None else entry[1]

    def put(self, token: str, who: Principal, exp: Any, leeway_s: float) -> None:
        if not isinstance(exp, int | float) or isinstance(exp, bool) or len(token) > MAX_CACHED_TOKEN:
            return
        until = min(float(exp) + leeway_s, self._clock() + self._max_age_s)
        self._entries[token] = (until, who)


def _entry_end(_token: str, entry: tuple[float, Principal], _now: float) -> float:
    return entry[0]


MAX_CACHED_TOKEN = 4096


class JwtVerifier(TokenVerifier):
    """Verifies bearer JWTs; also usable as the SDK's `TokenVerifier`."""

    def __init__(self, config: JwtConfig) -> None:
        if not config.has_key:
            raise ValueError("JwtVerifier needs a secret, a public key or a JWKS URL")
        check_jwt_config(config)  # also here for embedders that skip `serve`'s start-up checks
        self._config = config
        self._public_key = config.public_key_pem
        self._jwks = JwksCache(config.jwks_url) if config.jwks_url else None
        allowed: set[str] = set()
        if config.secret:
            allowed |= HMAC_ALGORITHMS
        if config.public_key_pem or config.jwks_url:
            allowed |= ASYMMETRIC_ALGORITHMS
        self.algorithms = frozenset(allowed)
        self._verified = VerifiedTokens()

    async def verify(self, token: str) -> Principal:
        """The token's principal, or AuthError with a reason fit for a 401 body."""
        remembered = self._verified.get(token)
        if remembered is not None:
            return remembered
        claims = await self._claims(token)
        who = principal_from_claims(claims, self._config.tenant_claims, self._config.default_scopes)
        self._verified.put(token, who, claims.get("exp"), self._config.leeway_seconds)
        return who

    async def verify_token(self, token: str) -> AccessToken | None:
        try:
            claims = await self._claims(token)
            who = principal_from_claims(claims, self._config.tenant_claims, self._config.default_scopes)
        except AuthError:
            return None
        return access_token_for(who, token=token, claims=claims)

    async def _claims(self, token: str) -> dict[str, Any]:
        if not token or len(token) > MAX_TOKEN_BYTES:
            raise AuthError("bearer token is missing or too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("bearer token is not a well-formed JWT") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self.algorithms:
            raise AuthError(f"token algorithm {str(alg)[:16]!r} is not accepted")
        key = await self._key_for(alg, header.get("kid"))
        options: dict[str, Any] = {"require": ["exp", "sub"], "verify_aud": self._config.audience is not None}
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self._config.audience,
                issuer=self._config.issuer,
                leeway=self._config.leeway_seconds,
                options=options,  # type: ignore[arg-type]
            )
        except jwt.ExpiredSignatureError:
            raise AuthError("token has expired") from None
        except jwt.ImmatureSignatureError:
            raise AuthError("token is not valid yet") from None
        except jwt.InvalidAudienceError:
            raise AuthError("token audience is not accepted") from None
        except jwt.InvalidIssuerError:
            raise AuthError("token issuer is not accepted") from None
        except jwt.MissingRequiredClaimError as exc:
            raise AuthError(f"token lacks the required claim {exc.claim!r}") from None
        except jwt.InvalidSignatureError:
            raise AuthError("token signature is invalid") from None
        except jwt.PyJWTError:
            raise AuthError("token is invalid") from None
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise AuthError("token `sub` must be a non-empty string")
        check_token_times(claims, self._config, time.time())
        return claims

    async def _key_for(self, alg: str, kid: Any) -> Any:
        if alg in HMAC_ALGORITHMS:
            return self._config.secret
        if self._public_key is not None and (self._jwks is None or kid is None):
            return self._public_key
        if self._jwks is not None:
            return await self._jwks.key_for(kid if isinstance(kid, str) else None)
        return self._public_key


def check_token_times(claims: Mapping[str, Any], config: JwtConfig, now: float) -> None:
    """`exp`/`iat`/`nbf` are JSON numbers (PyJWT alone accepts `"exp": "1700000000"`), and the token
    lives at most `max_lifetime_seconds`: from `iat`, or from now for a token without one (plus the
    clock-skew leeway then, as the issuer's clock may run ahead of ours)."""
    for name in ("exp", "iat", "nbf"):
        if name in claims and not _is_numeric_date(claims[name]):
            raise AuthError(f"token `{name}` must be a number of seconds (NumericDate)")
    if "iat" in claims:
        start, allowed = claims["iat"], config.max_lifetime_seconds
    else:
        start, allowed = now, config.max_lifetime_seconds + config.leeway_seconds
    try:
        too_long = claims["exp"] - start > allowed
    except OverflowError:  # an integer beyond any float, e.g. `"exp": 1e400` written out in digits
        too_long = True
    if too_long:
        raise AuthError(f"token lifetime exceeds the maximum of {config.max_lifetime_seconds} seconds")


def _is_numeric_date(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _claim_text(value: str, name: str) -> str:
    """A claim we store or compare as text: a lone surrogate (`"\\ud800"` in the JSON) has no UTF-8
    form, so SQLite could not bind it; refused here instead of failing every call later."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise AuthError(f"token `{name}` is not valid Unicode text") from None
    return value


def _claim_at(claims: Mapping[str, Any], path: str) -> Any:
    """`o.id` reads claims["o"]["id"] (Clerk's organization claim); plain names read the top level."""
    if path in claims:
        return claims[path]
    node: Any = claims
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def principal_from_claims(
    claims: Mapping[str, Any], tenant_claims: tuple[str, ...], default_scopes: Iterable[str] = DEFAULT_SCOPES
) -> Principal:
    """A token without a `scope`/`scp` claim gets `default_scopes` (WORKBENCH_DEFAULT_SCOPES); scopes this
    server does not know (an IdP's `openid`, say) are kept and grant nothing."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise AuthError("token `sub` must be a non-empty string")
    _claim_text(subject, "sub")
    org = _org_claim(claims, tenant_claims)
    if "scope" not in claims and "scp" not in claims:
        return Principal(tenant_for(subject, org), subject, frozenset(default_scopes))
    scope = claims.get("scope", claims.get("scp"))
    if isinstance(scope, str):
        scopes = scope.split()
    elif isinstance(scope, list):
        scopes = [s for s in scope if isinstance(s, str)]
    else:
        raise AuthError("token `scope` must be a space-separated string or an array of strings")
    for one in scopes:
        _claim_text(one, "scope")
    return Principal(tenant_id=tenant_for(subject, org), subject=subject, scopes=frozenset(scopes))


def _org_claim(claims: Mapping[str, Any], tenant_claims: tuple[str, ...]) -> str | None:
    """The first non-empty tenant claim. One in the personal namespace refuses the whole token (it is
    not skipped for the next claim): it is either an attack or a misconfigured issuer, never a tenant."""
    for path in tenant_claims:
        value = _claim_at(claims, path)
        if not isinstance(value, str) or not value:
            continue
        _claim_text(value, path)
        if in_user_namespace(value):
            raise AuthError(
                f"token `{path}` is in the personal-tenant namespace: organization ids may not start with "
                f"{USER_TENANT_PREFIX!r} (a token without one acts in the tenant {USER_TENANT_PREFIX}<sub>)"
            )
        return value
    return None


def access_token_for(who: Principal, *, token: str = "", claims: dict[str, Any] | None = None) -> PrincipalToken:
    expires = (claims or {}).get("exp")
    return PrincipalToken(
        token=token,
        client_id=str((claims or {}).get("azp", who.subject)),
        scopes=sorted(who.scopes),
        expires_at=int(expires) if isinstance(expires, int | float) else None,
        subject=who.subject,
        claims={k: v for k, v in (claims or {}).items() if k in ("iss", "aud", "sub", "exp")},
        tenant_id=who.tenant_id,
    )


# --- the caller of the current request ---------------------------------------------------------------


def current_principal() -> Principal:
    """The verified caller of the request being handled: HTTP (bearer), stdio and tests alike."""
    token = auth_context_var.get()
    access = token.access_token if token is not None else None
    if not isinstance(access, PrincipalToken):
        raise WorkbenchError(ErrorCode.UNAUTHORIZED, "no authenticated principal for this request")
    return Principal(access.tenant_id, access.subject or access.client_id, frozenset(access.scopes))


def set_principal(who: Principal) -> None:
    """Make `who` the caller for this task and every task it starts (stdio: for the whole process)."""
    auth_context_var.set(AuthenticatedUser(access_token_for(who)))


@lru_cache(maxsize=4096)
def authenticated_user(who: Principal) -> AuthenticatedUser:
    """The SDK's user object for `who`, built once per principal (two pydantic models per request
    otherwise); Principal is frozen and nothing mutates these, so requests may share them."""
    return AuthenticatedUser(access_token_for(who))


@contextmanager
def acting_as(who: Principal) -> Iterator[None]:
    """Scoped identity, e.g. one HTTP request or one in-memory test."""
    reset = auth_context_var.set(authenticated_user(who))
    try:
        yield
    finally:
        auth_context_var.reset(reset)


# --- dev secret and token minting ------------------------------------------------------------------


def dev_secret_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".jwt-secret")


def load_or_create_dev_secret(db_path: Path) -> tuple[str, bool]:
    """The development HS256 secret stored beside the database (created 0600 on first use).

    An existing file is used only if this server's user owns it and nobody else can read or change
    it (`config.read_secret_file`): anyone who can write the directory could otherwise plant a
    secret they know and forge tokens. ConfigError, one line, otherwise.
    """
    path = dev_secret_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return read_dev_secret(db_path), False
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(secret + "\n")
    return secret, True


def read_dev_secret(db_path: Path) -> str:
    """The existing development secret of `db_path`; ConfigError when there is none or it is not trusted."""
    path = dev_secret_path(db_path)
    if not path.exists() and not path.is_symlink():
        raise ConfigError(f"no development secret {path}")
    return read_secret_file(path)


def mint_token(
    secret: str,
    *,
    user: str,
    org: str | None = None,
    ttl_s: int = 3600,
    issuer: str | None = None,
    audience: str | None = None,
    now: float | None = None,
    scopes: Iterable[str] | None = None,
) -> str:
    """`scopes` None: no scope claim (the server's WORKBENCH_DEFAULT_SCOPES apply)."""
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {"sub": user, "iat": issued, "nbf": issued, "exp": issued + ttl_s}
    if scopes is not None:
        claims["scope"] = " ".join(scopes)
    if org:
        claims["org_id"] = org
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")
