"""Server configuration: `Settings` (pydantic-settings) declares each setting once, `ServerConfig` is what runs.

Every knob has a default that works on a laptop with no configuration at all (README "Configuration",
tested against `Settings` in tests/test_config.py). Flags override `WORKBENCH_*` variables and both pass
the same validators (`load`); nothing else reads `os.environ`.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import stat
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, cast, get_args
from urllib.parse import urlsplit

from pydantic import Field, PositiveInt, TypeAdapter, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars

from workbench_mcp.scopes import DEFAULT_SCOPES, parse_scopes
from workbench_mcp.settings import Limits
from workbench_mcp.store.sqlite_store import Durability

ENV_PREFIX = "WORKBENCH_"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_DB = "workbench.db"
DEFAULT_PG_POOL_SIZE = 10
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
MAX_AUTO_WORKERS = 8
"""`--workers auto` stops here: SQLite takes one writer at a time, so processes past this add memory
(each is a whole server, ~60-100 MiB) and turn-taking for the write lock, not throughput."""
CGROUP_CPU_MAX = Path("/sys/fs/cgroup/cpu.max")
DEFAULT_HEADER_TIMEOUT_S = 10.0
DEFAULT_BODY_TIMEOUT_S = 30.0
DEFAULT_KEEP_ALIVE_S = 5.0
DEFAULT_MAX_CONNECTIONS = 1000
DEFAULT_WEBHOOK_TIMEOUT_S = 5.0
DEFAULT_WEBHOOK_ATTEMPTS = 6
DEFAULT_WEBHOOK_BACKOFF_S = 5.0
DEFAULT_WEBHOOK_QUEUE = 256


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
class WebhookConfig:
    """Where review notices are POSTed and how (README "Human review"; review/webhook.py). Only the URL and
    the secret are settings; the rest are defaults tests shorten."""

    url: str
    secret: str = field(repr=False)
    """HMAC-SHA256 key of the `Workbench-Signature` header, at least 32 bytes."""
    timeout_s: float = DEFAULT_WEBHOOK_TIMEOUT_S
    """One attempt, connect to response head; the body of the answer is never read."""
    max_attempts: int = DEFAULT_WEBHOOK_ATTEMPTS
    backoff_base_s: float = DEFAULT_WEBHOOK_BACKOFF_S
    """Wait after the first failed attempt; doubled after each further one (with jitter), at most `backoff_max_s`."""
    backoff_max_s: float = 120.0
    queue_size: int = DEFAULT_WEBHOOK_QUEUE
    """Deliveries held at once (waiting, retrying or in flight); beyond it the oldest is dropped, and recorded."""
    concurrency: int = 4
    """Requests in flight at once."""


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    db_path: Path = Path(DEFAULT_DB)
    database_url: str | None = None
    """A postgresql:// URL: the PostgreSQL store instead of the SQLite file (`db_path` then only names
    the local side files: the dev secret and the default signing key)."""
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
    limits: Limits = field(default_factory=Limits)
    signing_key_file: Path | None = None
    """The ledger's Ed25519 key (PEM); None: `<db>.signing-key`, created on first start (ledger/keys.py)."""
    review_link_key_file: Path | None = None
    """The review links' HMAC key (hex); None: `<db>.review-link-key`, created on first start (review/links.py)."""
    webhook: WebhookConfig | None = None
    """Review notices go to this webhook; None: nobody is notified (operators mint links with `review-link`)."""
    pg_pool_size: int = DEFAULT_PG_POOL_SIZE
    """PostgreSQL connections per process (`database_url` only)."""

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


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


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


def read_secret_file(path: Path, what: str = "JWT secret") -> str:
    """An HS256 secret (or the webhook's signing secret, `what`) from a file that only this server's user
    can read or change.

    Whoever can read the secret forges tokens for every tenant, and whoever can write it chooses
    one, so a file owned by another user (root excepted: it can do anything anyway) or open to
    group/others is refused rather than trusted. Opened first, then checked, so the file checked is
    the file read; O_NONBLOCK so a FIFO put in its place cannot hang the start.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} file {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as handle:
        check_private_file(path, os.fstat(fd), f"{what} file")
        raw = handle.read(MAX_SECRET_FILE_BYTES + 1)
    if len(raw) > MAX_SECRET_FILE_BYTES:
        raise ConfigError(f"the {what} file {path} is larger than {MAX_SECRET_FILE_BYTES} bytes: not a secret")
    try:
        secret = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"the {what} file {path} is not UTF-8 text") from None
    if not secret:
        raise ConfigError(f"the {what} file {path} is empty: put a random secret of 32+ bytes in it")
    check_secret_length(secret, str(path), what)
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


def check_secret_length(secret: str, source: str, what: str = "HS256 secret") -> None:
    size = len(secret.encode("utf-8", "surrogateescape"))
    if size < MIN_HS256_SECRET_BYTES:
        raise ConfigError(
            f"the {what} from {source} is {size} bytes; at least {MIN_HS256_SECRET_BYTES} are required "
            "(e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))')"
        )


def check_jwt_config(jwt: JwtConfig) -> None:
    """Refused at start: a guessable HS256 secret, a non-positive maximum lifetime."""
    if jwt.secret:
        check_secret_length(jwt.secret, "WORKBENCH_JWT_SECRET / --jwt-secret-file")
    if jwt.max_lifetime_seconds <= 0:
        raise ConfigError(f"the maximum token lifetime must be positive, got {jwt.max_lifetime_seconds}")


def usable_cpus(cpu_max: Path = CGROUP_CPU_MAX) -> int:
    """The CPUs this process may use: its affinity mask, lowered to a cgroup v2 CPU quota if one is set
    (a container limited to 2 CPUs on a 64-core host gets 2, not 64)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    try:
        quota, period = cpu_max.read_text(encoding="ascii").split()[:2]
        if quota != "max":
            cpus = min(cpus, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, cpus)


def auto_workers() -> int:
    """`--workers auto`, the default: one process per usable CPU, at most MAX_AUTO_WORKERS."""
    return min(usable_cpus(), MAX_AUTO_WORKERS)


def parse_workers(value: object) -> object:
    """`auto` (any case) as the number auto_workers() picks; anything else is left to int validation."""
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "auto":
            return auto_workers()
        if not text.isdigit():
            raise ValueError(f"must be a number of processes (1..{MAX_WORKERS}) or auto, got {value!r}")
    return value


def _flag(name: str) -> dict[str, Any]:
    """The command-line flag that overrides a setting (README "Configuration" lists both)."""
    return {"flag": name}


_LIMITS = Limits()
Seconds = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Csv = Annotated[tuple[str, ...], NoDecode]


_PG_SCHEMES = ("postgresql://", "postgres://")
_SQLITE_SCHEME = "sqlite:///"


def database_location(db: str) -> tuple[Path, str | None]:
    """`--db`/WORKBENCH_DB: a postgresql:// (or postgres://) URL selects PostgreSQL; `sqlite:///PATH` or a plain
    path is the SQLite file. For PostgreSQL the path is the default one, naming only local side files."""
    if db.startswith(_PG_SCHEMES):
        return Path(DEFAULT_DB), db
    return Path(db.removeprefix(_SQLITE_SCHEME)), None


class Settings(BaseSettings):
    """Every setting once: the field is `WORKBENCH_<NAME>`, flags override it, validation is here.

    Flags and variables go through the same validators, so a value one accepts the other accepts
    (`--rate-limit nan` and `WORKBENCH_RATE_LIMIT=nan` are both refused). `to_server_config` turns
    the flat settings into the typed `ServerConfig` the server uses.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, str_strip_whitespace=True)

    host: str = Field(DEFAULT_HOST, json_schema_extra=_flag("--host"))
    port: int = Field(DEFAULT_PORT, json_schema_extra=_flag("--port"))
    db: str = Field(DEFAULT_DB, min_length=1, json_schema_extra=_flag("--db"))
    """A SQLite path (or sqlite:///path) or a postgresql://user@host:port/dbname URL (database_location)."""
    workflows: Path | None = Field(None, json_schema_extra=_flag("--workflows"))
    toolsets: Annotated[frozenset[Toolset], NoDecode] = Field(DEFAULT_TOOLSETS, json_schema_extra=_flag("--toolsets"))
    read_only: bool = Field(False, json_schema_extra=_flag("--read-only"))
    public_url: str | None = Field(None, json_schema_extra=_flag("--public-url"))
    allowed_hosts: Csv = Field((), json_schema_extra=_flag("--allowed-hosts"))
    jwt_secret: str | None = Field(None, json_schema_extra=_flag("--jwt-secret-file"))
    jwt_public_key: str | None = Field(None, json_schema_extra=_flag("--jwt-public-key"))
    jwt_public_key_file: Path | None = Field(None, json_schema_extra=_flag("--jwt-public-key"))
    jwks_url: str | None = Field(None, json_schema_extra=_flag("--jwks-url"))
    jwt_issuer: str | None = Field(None, json_schema_extra=_flag("--jwt-issuer"))
    jwt_audience: str | None = Field(None, json_schema_extra=_flag("--jwt-audience"))
    tenant_claims: Csv = DEFAULT_TENANT_CLAIMS
    default_scopes: Annotated[tuple[str, ...], NoDecode] = DEFAULT_SCOPES
    jwt_leeway: int = 30
    jwt_max_lifetime: int = Field("30d", validate_default=True, json_schema_extra=_flag("--jwt-max-lifetime"))
    tenant: str = Field(DEFAULT_STDIO_TENANT, json_schema_extra=_flag("--tenant"))
    single_tenant: str | None = Field(None, json_schema_extra=_flag("--single-tenant"))
    log_level: str = Field("INFO", json_schema_extra=_flag("--log-level"))
    workers: int = Field("auto", validate_default=True, json_schema_extra=_flag("--workers"))
    durability: Durability = Field("normal", json_schema_extra=_flag("--durability"))
    rate_limit: float = Field(DEFAULT_RATE_PER_S, allow_inf_nan=False, json_schema_extra=_flag("--rate-limit"))
    rate_burst: int = Field(DEFAULT_RATE_BURST, json_schema_extra=_flag("--rate-burst"))
    fair_slots: int = Field(DEFAULT_FAIR_SLOTS, json_schema_extra=_flag("--fair-slots"))
    offload_bytes: int = Field(DEFAULT_OFFLOAD_BYTES, json_schema_extra=_flag("--offload-bytes"))
    header_timeout: Seconds = Field(DEFAULT_HEADER_TIMEOUT_S, json_schema_extra=_flag("--header-timeout"))
    body_timeout: Seconds = Field(DEFAULT_BODY_TIMEOUT_S, json_schema_extra=_flag("--body-timeout"))
    keep_alive: Seconds = Field(DEFAULT_KEEP_ALIVE_S, json_schema_extra=_flag("--keep-alive-timeout"))
    max_connections: int = Field(DEFAULT_MAX_CONNECTIONS, json_schema_extra=_flag("--max-connections"))
    signing_key_file: Path | None = Field(None, json_schema_extra=_flag("--signing-key-file"))
    review_link_key_file: Path | None = None
    webhook_url: str | None = Field(None, json_schema_extra=_flag("--webhook-url"))
    webhook_secret: str | None = Field(None, repr=False, json_schema_extra=_flag("--webhook-secret-file"))
    max_artifact_payload_bytes: PositiveInt = _LIMITS.max_artifact_payload_bytes
    max_trace_events_per_run: PositiveInt = _LIMITS.max_trace_events_per_run
    max_runs_per_tenant: PositiveInt = _LIMITS.max_runs_per_tenant
    max_bundle_bytes: PositiveInt = _LIMITS.max_bundle_bytes
    pg_pool_size: Annotated[int, Field(ge=1, le=1000)] = DEFAULT_PG_POOL_SIZE

    @field_validator("db", mode="before")
    @classmethod
    def _db(cls, value: object) -> object:
        return os.fspath(value) if isinstance(value, os.PathLike) else value  # `token --db` passes a Path

    @field_validator("toolsets", mode="before")
    @classmethod
    def _toolsets(cls, value: object) -> object:
        return parse_toolsets(value) if isinstance(value, str) else value

    @field_validator("allowed_hosts", "tenant_claims", mode="before")
    @classmethod
    def _csv(cls, value: object) -> object:
        return _csv(value) if isinstance(value, str) else value

    @field_validator("tenant_claims")
    @classmethod
    def _claims(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return value or DEFAULT_TENANT_CLAIMS

    @field_validator("default_scopes", mode="before")
    @classmethod
    def _scopes(cls, value: object) -> object:
        return parse_scopes(value, ENV_PREFIX + "DEFAULT_SCOPES") if isinstance(value, str) else value

    @field_validator("jwt_max_lifetime", mode="before")
    @classmethod
    def _lifetime(cls, value: object) -> object:
        name = f"{ENV_PREFIX}JWT_MAX_LIFETIME / --jwt-max-lifetime"
        return parse_duration(value, name) if isinstance(value, str) else value

    @field_validator("log_level", mode="after")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @field_validator("workers", mode="before")
    @classmethod
    def _workers(cls, value: object) -> object:
        return parse_workers(value)

    @field_validator("durability", mode="before")
    @classmethod
    def _durability(cls, value: object) -> object:
        return parse_durability(value) if isinstance(value, str) else value

    @field_validator("webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        return None if value is None else check_webhook_url(value)

    @model_validator(mode="after")
    def _one_public_key(self) -> Settings:
        if self.jwt_public_key and self.jwt_public_key_file:
            raise ValueError(f"set {ENV_PREFIX}JWT_PUBLIC_KEY or {ENV_PREFIX}JWT_PUBLIC_KEY_FILE, not both")
        return self

    @model_validator(mode="after")
    def _webhook_signed(self) -> Settings:
        """A webhook is only ever signed: a URL without a secret is refused, not sent unsigned."""
        if self.webhook_url and not self.webhook_secret:
            raise ValueError(
                f"{ENV_PREFIX}WEBHOOK_URL / --webhook-url is set but there is no signing secret: set "
                f"{ENV_PREFIX}WEBHOOK_SECRET or --webhook-secret-file (32+ bytes, e.g. "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))'), and give the receiver the same"
            )
        if self.webhook_secret:
            try:
                source = f"{ENV_PREFIX}WEBHOOK_SECRET / --webhook-secret-file"
                check_secret_length(self.webhook_secret, source, "webhook secret")
            except ConfigError as exc:
                raise ValueError(str(exc)) from None
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Flags (init arguments) over the environment handed to `load`; no .env or secrets directory."""
        return init_settings, _MappingEnv(settings_cls, _ENVIRONMENT.get())

    def to_server_config(self) -> ServerConfig:
        public_key = read_public_key(self.jwt_public_key_file) if self.jwt_public_key_file else self.jwt_public_key
        return ServerConfig(
            host=self.host,
            port=self.port,
            db_path=database_location(self.db)[0],
            database_url=database_location(self.db)[1],
            workflows_dir=self.workflows,
            toolsets=self.toolsets,
            read_only=self.read_only,
            public_url=self.public_url,
            allowed_hosts=self.allowed_hosts,
            jwt=JwtConfig(
                secret=self.jwt_secret,
                public_key_pem=public_key,
                jwks_url=self.jwks_url,
                issuer=self.jwt_issuer,
                audience=self.jwt_audience,
                tenant_claims=self.tenant_claims,
                leeway_seconds=self.jwt_leeway,
                max_lifetime_seconds=self.jwt_max_lifetime,
                default_scopes=self.default_scopes,
            ),
            single_tenant=self.single_tenant,
            stdio_tenant=self.tenant,
            log_level=self.log_level,
            workers=self.workers,
            durability=self.durability,
            rate_limit=RateLimitConfig(self.rate_limit, self.rate_burst, self.fair_slots, self.offload_bytes),
            connections=ConnectionLimits(self.header_timeout, self.body_timeout, self.keep_alive, self.max_connections),
            limits=Limits(
                max_trace_events_per_run=self.max_trace_events_per_run,
                max_runs_per_tenant=self.max_runs_per_tenant,
                max_artifact_payload_bytes=self.max_artifact_payload_bytes,
                max_bundle_bytes=self.max_bundle_bytes,
            ),
            signing_key_file=self.signing_key_file,
            review_link_key_file=self.review_link_key_file,
            webhook=(
                WebhookConfig(self.webhook_url, self.webhook_secret)
                if self.webhook_url and self.webhook_secret
                else None
            ),
            pg_pool_size=self.pg_pool_size,
        )


_ENVIRONMENT: ContextVar[Mapping[str, str]] = ContextVar("workbench_environment", default=os.environ)


class _MappingEnv(EnvSettingsSource):
    """`WORKBENCH_*` from a given mapping (tests and `main` pass theirs); a blank value means unset,
    except for the default scopes, where an empty list is a choice."""

    def __init__(self, settings_cls: type[BaseSettings], environment: Mapping[str, str]) -> None:
        self._environment = environment
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        kept = {
            name: value
            for name, value in self._environment.items()
            if value.strip() or name == ENV_PREFIX + "DEFAULT_SCOPES"
        }
        return parse_env_vars(kept, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


def load(env: Mapping[str, str], overrides: Mapping[str, Any] | None = None) -> ServerConfig:
    """The configuration from `env`'s `WORKBENCH_*` variables, `overrides` (flags, by field name) first."""
    token = _ENVIRONMENT.set(env)
    try:
        settings = Settings(**dict(overrides or {}))
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    finally:
        _ENVIRONMENT.reset(token)
    return settings.to_server_config()


def _describe(error: ValidationError) -> str:
    problems = []
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else ""
        field_info = Settings.model_fields.get(name)
        extra = field_info.json_schema_extra if field_info is not None else None
        flag = f" / {extra['flag']}" if isinstance(extra, dict) and "flag" in extra else ""
        where = f"{ENV_PREFIX}{name.upper()}{flag}: " if name else ""
        message = str(item["msg"]).removeprefix("Value error, ")
        problems.append(message if message.startswith(ENV_PREFIX) else where + message)
    return "; ".join(problems)


def from_env(env: Mapping[str, str]) -> ServerConfig:
    """The configuration of the variables alone (no flags)."""
    return load(env)


def jwt_from_env(env: Mapping[str, str]) -> JwtConfig:
    return load(env).jwt


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


def check_webhook_url(url: str) -> str:
    """The operator's webhook: an absolute http(s) URL with a host (deliveries never follow redirects)."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port outside 0..65535 or not a number
    except ValueError as exc:
        raise ValueError(f"not a URL ({exc}): {url!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an absolute http(s) URL such as https://hooks.example.com/workbench, got {url!r}")
    if not url.isprintable() or " " in url:
        raise ValueError("must not contain spaces or control characters")
    return url


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
    return _SERVER_CONFIG.dump_json(config).decode()


def config_from_json(text: str) -> ServerConfig:
    """Inverse of config_to_json."""
    return _SERVER_CONFIG.validate_json(text)


_SERVER_CONFIG = TypeAdapter(ServerConfig)
