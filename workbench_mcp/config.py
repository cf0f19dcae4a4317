"""Server configuration: one typed object built from `WORKBENCH_*` environment variables, then CLI flags.

Every knob has a default that works on a laptop with no configuration at all (README "Configuration").
Flags override the environment; nothing else reads `os.environ`.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import stat
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import cast, get_args
from urllib.parse import urlsplit

from workbench_mcp.scopes import DEFAULT_SCOPES, parse_scopes
from workbench_mcp.store.sqlite_store import Durability

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_DB = "workbench.db"
DEFAULT_STDIO_TENANT = "user:local"
DEFAULT_TENANT_CLAIMS = ("org_id", "o.id")
"""Where the tenant (organization) id is looked up in a token, in order: our own claim, then Clerk's `o.id`."""
DEFAULT_JWT_MAX_LIFETIME_S = 30 * 24 * 3600
"""Longest token lifetime accepted: the printed dev token's 30 days (Auth0's ceiling for API access tokens too)."""
MIN_HS256_SECRET_BYTES = 32
"""RFC 7518 3.2: an HS256 key is at least as long as the hash output, 256 bits."""
DEFAULT_RATE_PER_S = 200.0
DEFAULT_RATE_BURST = 400
DEFAULT_FAIR_SLOTS = 8
DEFAULT_OFFLOAD_BYTES = 262_144
MAX_WORKERS = 64
DEFAULT_HEADER_TIMEOUT_S = 10.0
DEFAULT_BODY_TIMEOUT_S = 30.0
DEFAULT_KEEP_ALIVE_S = 5.0
DEFAULT_MAX_CONNECTIONS = 1000


class Toolset(StrEnum):
    """Groups of tools an operator switches on or off (GitHub MCP server style).

    `core` takes a run from start_run to completed (and reads and verifies runs); it is always on,
    because every other toolset acts on runs that core starts. `steps` adds failing and cancelling
    steps and runs, review requests and named checkpoints; `telemetry` adds the trace-recording tools.
    """

    CORE = "core"
    STEPS = "steps"
    TELEMETRY = "telemetry"


DEFAULT_TOOLSETS = frozenset({Toolset.CORE})


def with_core(toolsets: Iterable[Toolset]) -> frozenset[Toolset]:
    """The toolsets a server really enables: the chosen ones plus core, which is always on."""
    return frozenset(toolsets) | {Toolset.CORE}


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
    max_lifetime_seconds: int = DEFAULT_JWT_MAX_LIFETIME_S
    """Longest accepted `exp - iat` (`exp - now` for a token without `iat`)."""
    default_scopes: tuple[str, ...] = DEFAULT_SCOPES
    """Scopes of a token without a `scope`/`scp` claim (WORKBENCH_DEFAULT_SCOPES; README "Governance")."""

    @property
    def has_key(self) -> bool:
        return bool(self.secret or self.public_key_pem or self.jwks_url)


@dataclass(frozen=True, slots=True)
class RateLimitConfig:
    """Per-tenant token bucket and fair admission in front of every authenticated HTTP request (MCP and REST).

    A request costs one token per started 256 KiB of request + response body (web/rate_limit.py). The
    default rate is below what one process serves of mixed calls on a 2-core machine (README "Rate
    limiting and fairness"), so one tenant alone cannot saturate it; all of it is per server process.
    """

    per_second: float = DEFAULT_RATE_PER_S
    """Sustained tokens per second per tenant; 0 switches the limiter off."""
    burst: int = DEFAULT_RATE_BURST
    """Bucket size: tokens a tenant may spend at once after being idle."""
    fair_slots: int = DEFAULT_FAIR_SLOTS
    """Requests worked on at once per process, handed out round-robin by tenant (web/fairness.py); 0 = off."""
    offload_bytes: int = DEFAULT_OFFLOAD_BYTES
    """Bundles handed in whose JSON is at least this long are checked in a child process (offload.py); 0 = never."""

    @property
    def enabled(self) -> bool:
        return self.per_second > 0


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """How long a client may take and how many connections one server process holds (README "Security").

    A stateless server never waits on a client for anything but the request itself, so every wait is
    bounded: a slow client costs a socket for seconds, not forever.
    """

    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_S
    """From a connection's first byte (or its opening, if it stays silent) to the end of the request head."""
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S
    """From the end of the head to the last byte of the body."""
    keep_alive_s: float = DEFAULT_KEEP_ALIVE_S
    """An idle connection between two requests is closed after this."""
    max_connections: int = DEFAULT_MAX_CONNECTIONS
    """Open connections per process; requests on connections beyond it get 503 `SERVER_BUSY`."""


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
    connections: ConnectionLimits = field(default_factory=ConnectionLimits)
    signing_key_file: Path | None = None
    """The ledger's Ed25519 key (PEM); None: `<db>.signing-key`, created on first start (ledger/keys.py)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "toolsets", with_core(self.toolsets))  # frozen: the one normalisation

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
    """`core,steps,telemetry`; the keywords `all` and `default` (= core) are accepted too. Core is always added."""
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
    return with_core(chosen)


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


_DURATION = re.compile(r"(\d+)\s*([smhd]?)")
_DURATION_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, name: str) -> int:
    """Seconds from `3600`, `90m`, `24h` or `30d`; a positive whole number."""
    match = _DURATION.fullmatch(text.strip().lower())
    seconds = int(match.group(1)) * _DURATION_UNITS[match.group(2)] if match else 0
    if seconds <= 0:
        raise ConfigError(f"{name} must be a positive duration in seconds or with s/m/h/d (e.g. 24h), got {text!r}")
    return seconds


MAX_SECRET_FILE_BYTES = 64 * 1024


def read_secret_file(path: Path) -> str:
    """An HS256 secret from a file that only this server's user can read or change.

    Whoever can read the secret forges tokens for every tenant, and whoever can write it chooses
    one, so a file owned by another user (root excepted: it can do anything anyway) or open to
    group/others is refused rather than trusted. Opened first, then checked, so the file checked is
    the file read; O_NONBLOCK so a FIFO put in its place cannot hang the start.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ConfigError(f"cannot read the JWT secret file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        check_private_file(path, os.fstat(fd), "JWT secret file")
        raw = handle.read(MAX_SECRET_FILE_BYTES + 1)
    if len(raw) > MAX_SECRET_FILE_BYTES:
        raise ConfigError(f"the JWT secret file {path} is larger than {MAX_SECRET_FILE_BYTES} bytes: not a secret")
    try:
        secret = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"the JWT secret file {path} is not UTF-8 text") from None
    if not secret:
        raise ConfigError(f"the JWT secret file {path} is empty: put a random secret of 32+ bytes in it")
    check_secret_length(secret, str(path))
    return secret


def check_private_file(path: Path, info: os.stat_result, what: str) -> None:
    """Refuse a file another local user could read or replace (POSIX; Windows has no such mode bits)."""
    if not hasattr(os, "geteuid"):  # pragma: no cover - Windows
        return
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"refusing the {what} {path}: not a regular file")
    me = os.geteuid()
    if info.st_uid not in (me, 0):
        raise ConfigError(f"refusing the {what} {path}: owned by uid {info.st_uid}, not by this server's user ({me})")
    if info.st_mode & 0o077:
        mode = stat.S_IMODE(info.st_mode)
        raise ConfigError(f"refusing the {what} {path}: mode {mode:04o} lets other users read or change it (chmod 600)")


def check_secret_length(secret: str, source: str) -> None:
    size = len(secret.encode("utf-8", "surrogateescape"))
    if size < MIN_HS256_SECRET_BYTES:
        raise ConfigError(
            f"the HS256 secret from {source} is {size} bytes; at least {MIN_HS256_SECRET_BYTES} are required "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )


def check_jwt_config(jwt: JwtConfig) -> None:
    """Refused at start: a guessable HS256 secret, a non-positive maximum lifetime."""
    if jwt.secret:
        check_secret_length(jwt.secret, "WORKBENCH_JWT_SECRET / --jwt-secret-file")
    if jwt.max_lifetime_seconds <= 0:
        raise ConfigError(f"the maximum token lifetime must be positive, got {jwt.max_lifetime_seconds}")


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
        max_lifetime_seconds=_duration(env, "WORKBENCH_JWT_MAX_LIFETIME", DEFAULT_JWT_MAX_LIFETIME_S),
        default_scopes=_default_scopes(env),
    )


def _default_scopes(env: Mapping[str, str]) -> tuple[str, ...]:
    text = env.get("WORKBENCH_DEFAULT_SCOPES")
    if text is None:
        return DEFAULT_SCOPES
    try:
        return parse_scopes(text, "WORKBENCH_DEFAULT_SCOPES")
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _duration(env: Mapping[str, str], name: str, default: int) -> int:
    value = _text(env, name)
    return default if value is None else parse_duration(value, name)


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
            fair_slots=_int(env.get("WORKBENCH_FAIR_SLOTS"), "WORKBENCH_FAIR_SLOTS", DEFAULT_FAIR_SLOTS),
            offload_bytes=_int(env.get("WORKBENCH_OFFLOAD_BYTES"), "WORKBENCH_OFFLOAD_BYTES", DEFAULT_OFFLOAD_BYTES),
        ),
        connections=ConnectionLimits(
            header_timeout_s=_float(
                env.get("WORKBENCH_HEADER_TIMEOUT"), "WORKBENCH_HEADER_TIMEOUT", DEFAULT_HEADER_TIMEOUT_S
            ),
            body_timeout_s=_float(env.get("WORKBENCH_BODY_TIMEOUT"), "WORKBENCH_BODY_TIMEOUT", DEFAULT_BODY_TIMEOUT_S),
            keep_alive_s=_float(env.get("WORKBENCH_KEEP_ALIVE"), "WORKBENCH_KEEP_ALIVE", DEFAULT_KEEP_ALIVE_S),
            max_connections=_int(
                env.get("WORKBENCH_MAX_CONNECTIONS"), "WORKBENCH_MAX_CONNECTIONS", DEFAULT_MAX_CONNECTIONS
            ),
        ),
        signing_key_file=_optional_path(_text(env, "WORKBENCH_SIGNING_KEY_FILE")),
    )


def _optional_path(text: str | None) -> Path | None:
    return Path(text) if text else None


def check_serve_config(config: ServerConfig) -> None:
    """Refuse combinations that would open a hole: tokenless mode off loopback, a bad public URL."""
    for host in config.allowed_hosts:
        try:
            split_host_port(host)
        except ValueError as exc:
            raise ConfigError(f"allowed host {host!r} is not NAME or NAME:PORT ({exc})") from None
    if config.single_tenant is not None:
        if not is_loopback_host(config.host):
            raise ConfigError(f"single-tenant mode (no tokens) only listens on loopback; refusing host {config.host!r}")
        if config.public_url and not is_loopback_host(urlsplit(config.public_url).hostname or ""):
            raise ConfigError("single-tenant mode (no tokens) cannot be combined with a non-loopback public URL")
        foreign = [host for host in config.allowed_hosts if not is_loopback_host(split_host_port(host)[0])]
        if foreign:
            names = ", ".join(foreign)
            raise ConfigError(f"single-tenant mode (no tokens) refuses non-loopback allowed hosts: {names}")
    if config.public_url:
        parts = urlsplit(config.public_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"public URL must be an absolute http(s) URL, got {config.public_url!r}")
    if not 0 < config.port < 65536:
        raise ConfigError(f"port must be 1..65535, got {config.port}")
    if not 1 <= config.workers <= MAX_WORKERS:
        raise ConfigError(f"workers must be 1..{MAX_WORKERS}, got {config.workers}")
    check_jwt_config(config.jwt)
    check_rate_limit(config.rate_limit)
    check_connection_limits(config.connections)


def check_connection_limits(limits: ConnectionLimits) -> None:
    for name, seconds in (
        ("header timeout", limits.header_timeout_s),
        ("body timeout", limits.body_timeout_s),
        ("keep-alive timeout", limits.keep_alive_s),
    ):
        if not seconds > 0:
            raise ConfigError(f"{name} must be > 0 seconds, got {seconds}")
    if limits.max_connections < 1:
        raise ConfigError(f"max connections must be >= 1, got {limits.max_connections}")


def split_host_port(text: str) -> tuple[str, int | None]:
    """A `Host` header value (or an allowed-hosts entry) as (lower-case name, port or None).

    `[::1]:8765`, `[::1]`, `example.com:443`, `example.com`. Raises ValueError for anything else: a
    port that is not 1..65535 digits, an unbracketed IPv6 address, an empty name. The name loses one
    trailing dot (`localhost.` is `localhost`).
    """
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError("unclosed IPv6 bracket")
        name, rest = text[1:end], text[end + 1 :]
        ipaddress.IPv6Address(name)  # brackets hold an IPv6 address and nothing else
        if rest and not rest.startswith(":"):
            raise ValueError("text after the IPv6 address")
        port_text = rest[1:] if rest else None
    else:
        name, sep, port_text_ = text.partition(":")
        port_text = port_text_ if sep else None
        if ":" in port_text_:
            raise ValueError("IPv6 addresses must be bracketed")
    port = None
    if port_text is not None:
        if not (port_text.isascii() and port_text.isdigit()) or not 0 < int(port_text) < 65536:
            raise ValueError(f"bad port {port_text!r}")
        port = int(port_text)
    name = name.lower().removesuffix(".")
    if not name or not all(c.isascii() and (c.isalnum() or c in "-._:") for c in name):
        raise ValueError(f"bad host name {name!r}")
    return name, port


def check_rate_limit(limit: RateLimitConfig) -> None:
    if limit.per_second < 0:
        raise ConfigError(f"rate limit must be >= 0 requests per second (0 = off), got {limit.per_second}")
    if limit.enabled and limit.burst < 1:
        raise ConfigError(f"rate burst must be >= 1, got {limit.burst}")
    if not 0 <= limit.fair_slots <= 10_000:
        raise ConfigError(f"fair slots must be 0 (off) .. 10000, got {limit.fair_slots}")
    if limit.offload_bytes < 0:
        raise ConfigError(f"offload bytes must be >= 0 (0 = never), got {limit.offload_bytes}")


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
            "max_lifetime_seconds": jwt.max_lifetime_seconds,
            "default_scopes": list(jwt.default_scopes),
        },
        "single_tenant": config.single_tenant,
        "stdio_tenant": config.stdio_tenant,
        "log_level": config.log_level,
        "workers": config.workers,
        "durability": config.durability,
        "rate_limit": {
            "per_second": config.rate_limit.per_second,
            "burst": config.rate_limit.burst,
            "fair_slots": config.rate_limit.fair_slots,
            "offload_bytes": config.rate_limit.offload_bytes,
        },
        "connections": asdict(config.connections),
        "signing_key_file": None if config.signing_key_file is None else str(config.signing_key_file),
    }
    return json.dumps(document)


def config_from_json(text: str) -> ServerConfig:
    """Inverse of config_to_json."""
    document = json.loads(text)
    jwt = document.pop("jwt")
    rate = document.pop("rate_limit")
    connections = document.pop("connections")
    workflows = document.pop("workflows_dir")
    return ServerConfig(
        **{
            **document,
            "db_path": Path(document["db_path"]),
            "workflows_dir": None if workflows is None else Path(workflows),
            "toolsets": frozenset(Toolset(t) for t in document["toolsets"]),
            "allowed_hosts": tuple(document["allowed_hosts"]),
            "jwt": JwtConfig(
                **{**jwt, "tenant_claims": tuple(jwt["tenant_claims"]), "default_scopes": tuple(jwt["default_scopes"])}
            ),
            "rate_limit": RateLimitConfig(**rate),
            "connections": ConnectionLimits(**connections),
            "signing_key_file": _optional_path(document.get("signing_key_file")),
        }
    )
