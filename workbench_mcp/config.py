"""Server configuration: one typed object built from `WORKBENCH_*` environment variables, then CLI flags.

Every knob has a default that works on a laptop with no configuration at all (README "Configuration").
Flags override the environment; nothing else reads `os.environ`.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import cast, get_args
from urllib.parse import urlsplit

from workbench_mcp.store.run_store import Durability

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_DB = "workbench.db"
DEFAULT_STDIO_TENANT = "user:local"
DEFAULT_TENANT_CLAIMS = ("org_id", "o.id")
"""Where the tenant (organization) id is looked up in a token, in order: our own claim, then Clerk's `o.id`."""
DEFAULT_RATE_PER_S = 1000.0
DEFAULT_RATE_BURST = 2000
MAX_WORKERS = 64


class Toolset(StrEnum):
    """Groups of tools an operator switches on or off (GitHub MCP server style)."""

    CORE = "core"
    STEPS = "steps"
    TELEMETRY = "telemetry"


DEFAULT_TOOLSETS = frozenset({Toolset.CORE})


class ConfigError(ValueError):
    """A configuration value that cannot be used; the message names the variable or flag."""


@dataclass(frozen=True, slots=True)
class JwtConfig:
    """How bearer tokens are verified. HS256 uses `secret`; RS256/ES256 use `public_key_pem` or `jwks_url`."""

    secret: str | None = None
    public_key_pem: str | None = None
    jwks_url: str | None = None
    issuer: str | None = None
    audience: str | None = None
    tenant_claims: tuple[str, ...] = DEFAULT_TENANT_CLAIMS
    leeway_seconds: int = 30
    """Clock skew tolerated on `exp` and `nbf`."""

    @property
    def has_key(self) -> bool:
        return bool(self.secret or self.public_key_pem or self.jwks_url)


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    """Per-tenant token bucket in front of every authenticated HTTP request (MCP and REST).

    The defaults are far above what one tenant's agents normally send, yet keep one tenant from
    monopolising the server; they are per server process (`serve --workers N` has N buckets).
    """

    per_second: float = DEFAULT_RATE_PER_S
    """Sustained requests per second per tenant; 0 switches the limiter off."""
    burst: int = DEFAULT_RATE_BURST
    """Bucket size: requests a tenant may send at once after being idle."""

    @property
    def enabled(self) -> bool:
        return self.per_second > 0


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    db_path: Path = Path(DEFAULT_DB)
    workflows_dir: Path | None = None
    toolsets: frozenset[Toolset] = DEFAULT_TOOLSETS
    read_only: bool = False
    public_url: str | None = None
    """Canonical origin of this server as clients see it (used in discovery documents and 401 headers)."""
    allowed_hosts: tuple[str, ...] = ()
    """Extra `Host` header values accepted by the DNS-rebinding check (e.g. `mcp.example.com`)."""
    jwt: JwtConfig = field(default_factory=JwtConfig)
    single_tenant: str | None = None
    """Loopback-only mode without tokens (conformance runs): every request acts as this tenant."""
    stdio_tenant: str = DEFAULT_STDIO_TENANT
    log_level: str = "INFO"
    workers: int = 1
    """Server processes sharing the port and the SQLite file (WAL + BEGIN IMMEDIATE make that safe)."""
    durability: Durability = "normal"
    """"normal": a committed write survives the process being killed; "full": also power loss (fsync per commit)."""
    rate_limit: RateLimitConfig = field(default_factory=RateLimitConfig)
    signing_key_file: Path | None = None
    """The ledger's Ed25519 key (PEM); None: `<db>.signing-key`, created on first start (ledger/keys.py)."""

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        if host in ("0.0.0.0", "[::]"):
            host = "127.0.0.1"
        return f"http://{host}:{self.port}"


def is_loopback_host(host: str) -> bool:
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def parse_toolsets(text: str) -> frozenset[Toolset]:
    """`core,steps,telemetry`; the keywords `all` and `default` (= core) are accepted too."""
    chosen: set[Toolset] = set()
    for raw in text.split(","):
        name = raw.strip().lower()
        if not name:
            continue
        if name == "all":
            chosen.update(Toolset)
        elif name == "default":
            chosen.update(DEFAULT_TOOLSETS)
        else:
            try:
                chosen.add(Toolset(name))
            except ValueError:
                known = ", ".join([t.value for t in Toolset] + ["all", "default"])
                raise ConfigError(f"unknown toolset {name!r} (known: {known})") from None
    if not chosen:
        raise ConfigError("no toolset selected")
    return frozenset(chosen)


def parse_durability(text: str) -> Durability:
    value = text.strip().lower()
    if value in get_args(Durability):
        return cast(Durability, value)
    raise ConfigError(f"durability must be one of {', '.join(get_args(Durability))}, got {text!r}")


def _flag(value: str | None, name: str) -> bool:
    if value is None or value.strip() == "":
        return False
    lowered = value.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name} must be a boolean (1/0, true/false), got {value!r}")


def _int(value: str | None, name: str, default: int) -> int:
    if value is None or value.strip() == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None


def _float(value: str | None, name: str, default: float) -> float:
    if value is None or value.strip() == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {value!r}") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    return number


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


def _text(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _public_key(env: Mapping[str, str]) -> str | None:
    inline = _text(env, "WORKBENCH_JWT_PUBLIC_KEY")
    path = _text(env, "WORKBENCH_JWT_PUBLIC_KEY_FILE")
    if inline and path:
        raise ConfigError("set WORKBENCH_JWT_PUBLIC_KEY or WORKBENCH_JWT_PUBLIC_KEY_FILE, not both")
    if path:
        return read_public_key(Path(path))
    return inline


def read_public_key(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the JWT public key {path}: {exc.strerror}") from None


def jwt_from_env(env: Mapping[str, str]) -> JwtConfig:
    claims = _csv(env.get("WORKBENCH_TENANT_CLAIMS"))
    return JwtConfig(
        secret=_text(env, "WORKBENCH_JWT_SECRET"),
        public_key_pem=_public_key(env),
        jwks_url=_text(env, "WORKBENCH_JWKS_URL"),
        issuer=_text(env, "WORKBENCH_JWT_ISSUER"),
        audience=_text(env, "WORKBENCH_JWT_AUDIENCE"),
        tenant_claims=claims or DEFAULT_TENANT_CLAIMS,
        leeway_seconds=_int(env.get("WORKBENCH_JWT_LEEWAY"), "WORKBENCH_JWT_LEEWAY", 30),
    )


def from_env(env: Mapping[str, str]) -> ServerConfig:
    toolsets = env.get("WORKBENCH_TOOLSETS")
    workflows = _text(env, "WORKBENCH_WORKFLOWS")
    return ServerConfig(
        host=_text(env, "WORKBENCH_HOST") or DEFAULT_HOST,
        port=_int(env.get("WORKBENCH_PORT"), "WORKBENCH_PORT", DEFAULT_PORT),
        db_path=Path(_text(env, "WORKBENCH_DB") or DEFAULT_DB),
        workflows_dir=Path(workflows) if workflows else None,
        toolsets=parse_toolsets(toolsets) if toolsets and toolsets.strip() else DEFAULT_TOOLSETS,
        read_only=_flag(env.get("WORKBENCH_READ_ONLY"), "WORKBENCH_READ_ONLY"),
        public_url=_text(env, "WORKBENCH_PUBLIC_URL"),
        allowed_hosts=_csv(env.get("WORKBENCH_ALLOWED_HOSTS")),
        jwt=jwt_from_env(env),
        single_tenant=_text(env, "WORKBENCH_SINGLE_TENANT"),
        stdio_tenant=_text(env, "WORKBENCH_TENANT") or DEFAULT_STDIO_TENANT,
        log_level=(_text(env, "WORKBENCH_LOG_LEVEL") or "INFO").upper(),
        workers=_int(env.get("WORKBENCH_WORKERS"), "WORKBENCH_WORKERS", 1),
        durability=parse_durability(_text(env, "WORKBENCH_DURABILITY") or "normal"),
        rate_limit=RateLimitConfig(
            per_second=_float(env.get("WORKBENCH_RATE_LIMIT"), "WORKBENCH_RATE_LIMIT", DEFAULT_RATE_PER_S),
            burst=_int(env.get("WORKBENCH_RATE_BURST"), "WORKBENCH_RATE_BURST", DEFAULT_RATE_BURST),
        ),
        signing_key_file=_optional_path(_text(env, "WORKBENCH_SIGNING_KEY_FILE")),
    )


def _optional_path(text: str | None) -> Path | None:
    return Path(text) if text else None


def check_serve_config(config: ServerConfig) -> None:
    """Refuse combinations that would open a hole: tokenless mode off loopback, a bad public URL."""
    if config.single_tenant is not None:
        if not is_loopback_host(config.host):
            raise ConfigError(f"single-tenant mode (no tokens) only listens on loopback; refusing host {config.host!r}")
        if config.public_url and not is_loopback_host(urlsplit(config.public_url).hostname or ""):
            raise ConfigError("single-tenant mode (no tokens) cannot be combined with a non-loopback public URL")
    if config.public_url:
        parts = urlsplit(config.public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"public URL must be an absolute http(s) URL, got {config.public_url!r}")
    if not 0 < config.port < 65536:
        raise ConfigError(f"port must be 1..65535, got {config.port}")
    if not 1 <= config.workers <= MAX_WORKERS:
        raise ConfigError(f"workers must be 1..{MAX_WORKERS}, got {config.workers}")
    check_rate_limit(config.rate_limit)


def check_rate_limit(limit: RateLimitConfig) -> None:
    if limit.per_second < 0:
        raise ConfigError(f"rate limit must be >= 0 requests per second (0 = off), got {limit.per_second}")
    if limit.enabled and limit.burst < 1:
        raise ConfigError(f"rate burst must be >= 1, got {limit.burst}")


# --- handing the configuration to worker processes ------------------------------------------------


def config_to_json(config: ServerConfig) -> str:
    """The whole configuration as JSON, for `serve --workers N`: uvicorn starts each worker as a fresh
    interpreter, so the parent's resolved configuration (flags, environment, the dev secret created
    once before spawning) travels in one environment variable instead of being re-derived N times."""
    jwt = config.jwt
    document = {
        "host": config.host,
        "port": config.port,
        "db_path": str(config.db_path),
        "workflows_dir": None if config.workflows_dir is None else str(config.workflows_dir),
        "toolsets": sorted(t.value for t in config.toolsets),
        "read_only": config.read_only,
        "public_url": config.public_url,
        "allowed_hosts": list(config.allowed_hosts),
        "jwt": {
            "secret": jwt.secret,
            "public_key_pem": jwt.public_key_pem,
            "jwks_url": jwt.jwks_url,
            "issuer": jwt.issuer,
            "audience": jwt.audience,
            "tenant_claims": list(jwt.tenant_claims),
            "leeway_seconds": jwt.leeway_seconds,
        },
        "single_tenant": config.single_tenant,
        "stdio_tenant": config.stdio_tenant,
        "log_level": config.log_level,
        "workers": config.workers,
        "durability": config.durability,
        "rate_limit": {"per_second": config.rate_limit.per_second, "burst": config.rate_limit.burst},
        "signing_key_file": None if config.signing_key_file is None else str(config.signing_key_file),
    }
    return json.dumps(document)


def config_from_json(text: str) -> ServerConfig:
    """Inverse of config_to_json."""
    document = json.loads(text)
    jwt = document.pop("jwt")
    rate = document.pop("rate_limit")
    workflows = document.pop("workflows_dir")
    return ServerConfig(
        **{
            **document,
            "db_path": Path(document["db_path"]),
            "workflows_dir": None if workflows is None else Path(workflows),
            "toolsets": frozenset(Toolset(t) for t in document["toolsets"]),
            "allowed_hosts": tuple(document["allowed_hosts"]),
            "jwt": JwtConfig(**{**jwt, "tenant_claims": tuple(jwt["tenant_claims"])}),
            "rate_limit": RateLimitConfig(**rate),
            "signing_key_file": _optional_path(document.get("signing_key_file")),
        }
    )
