"""`workbench-mcp serve | token | stdio | verify | ledger | review-link` (also `python -m workbench_mcp`).

Flags override `WORKBENCH_*` environment variables (workbench_mcp/config.py, README "Configuration").
Exit codes: 0 success, 1 a bundle that does not verify, 2 a usage or configuration error.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from workbench_mcp import __version__, ledger_cli, review_cli
from workbench_mcp.config import (
    ConfigError,
    ServerConfig,
    Settings,
    WebhookConfig,
    check_jwt_config,
    check_serve_config,
    is_loopback_host,
    load,
    parse_duration,
    read_secret_file,
)
from workbench_mcp.errors import WorkbenchError

DEV_TOKEN_TTL_S = 30 * 24 * 3600
"""The printed dev token's and `token`'s default lifetime, capped by the configured maximum lifetime."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbench-mcp", description="MCP server for LLM Workbench protocol 1.0.0")
    parser.add_argument("--version", action="version", version=f"workbench-mcp {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve MCP over Streamable HTTP (/api/mcp and /mcp)")
    serve.add_argument("--host", help="interface to listen on (default 127.0.0.1; env WORKBENCH_HOST)")
    serve.add_argument("--port", type=int, help="port (default 8765; env WORKBENCH_PORT)")
    _store_flags(serve)
    serve.add_argument("--public-url", help="origin clients use, e.g. https://mcp.example.com (WORKBENCH_PUBLIC_URL)")
    serve.add_argument("--allowed-hosts", help="extra Host names accepted, comma-separated (WORKBENCH_ALLOWED_HOSTS)")
    _secret_flags(serve)
    serve.add_argument(
        "--jwt-public-key",
        dest="jwt_public_key_file",
        type=Path,
        help="PEM public key for RS256/ES256 (WORKBENCH_JWT_PUBLIC_KEY)",
    )
    serve.add_argument("--jwks-url", help="JWKS URL for RS256/ES256 keys (WORKBENCH_JWKS_URL)")
    serve.add_argument(
        "--single-tenant",
        metavar="TENANT",
        help="loopback only: accept requests without a token as TENANT (conformance runs; WORKBENCH_SINGLE_TENANT)",
    )
    serve.add_argument("--log-level", help="DEBUG, INFO, WARNING, ... (WORKBENCH_LOG_LEVEL)")
    serve.add_argument(
        "--workers",
        type=str,
        help="server processes sharing the port and the database: a number, or auto = one per usable CPU, "
        "at most 8 (default auto; 1 = single process; WORKBENCH_WORKERS)",
    )
    serve.add_argument(
        "--rate-limit",
        type=float,
        help="tokens per second per tenant, per process (a request costs 1 per started 256 KiB); 0 = off "
        "(default 200; WORKBENCH_RATE_LIMIT)",
    )
    serve.add_argument(
        "--rate-burst", type=int, help="tokens a tenant may spend at once (default 400; WORKBENCH_RATE_BURST)"
    )
    serve.add_argument(
        "--fair-slots",
        type=int,
        help="requests worked on at once per process, shared round-robin by tenant; 0 = off "
        "(default 8; WORKBENCH_FAIR_SLOTS)",
    )
    serve.add_argument(
        "--offload-bytes",
        type=int,
        help="bundles handed in of at least this many JSON bytes are checked in a child process; 0 = never "
        "(default 262144; WORKBENCH_OFFLOAD_BYTES)",
    )
    serve.add_argument(
        "--header-timeout",
        type=float,
        help="seconds a client has to send a request head (default 10; WORKBENCH_HEADER_TIMEOUT)",
    )
    serve.add_argument(
        "--body-timeout",
        type=float,
        help="seconds a client has to send a request body (default 30; WORKBENCH_BODY_TIMEOUT)",
    )
    serve.add_argument(
        "--keep-alive-timeout",
        dest="keep_alive",
        type=float,
        help="seconds an idle connection stays open between requests (default 5; WORKBENCH_KEEP_ALIVE)",
    )
    serve.add_argument(
        "--webhook-url",
        help='review notices are POSTed here, signed (README "Human review"; WORKBENCH_WEBHOOK_URL)',
    )
    serve.add_argument(
        "--webhook-secret-file",
        type=Path,
        help="file holding the webhook signing secret, mode 0600 (or WORKBENCH_WEBHOOK_SECRET)",
    )
    serve.add_argument(
        "--max-connections",
        type=int,
        help="open connections per process; more get 503 SERVER_BUSY (default 1000; WORKBENCH_MAX_CONNECTIONS)",
    )

    token = commands.add_parser(
        "token", help="print a bearer token signed with the configured secret or the database's dev secret"
    )
    token.add_argument("--user", required=True, help="the token's `sub`")
    token.add_argument("--org", help="organization id: the tenant (default: user:<user>); may not start with user:")
    token.add_argument("--ttl", help="lifetime: seconds or with s/m/h/d (default 30 days, at most the maximum)")
    token.add_argument(
        "--scope",
        help='space-separated scopes, e.g. "runs:read runs:write" (default: no claim, so the server\'s'
        " WORKBENCH_DEFAULT_SCOPES apply)",
    )
    token.add_argument("--db", type=Path, help="database whose dev secret to use (./workbench.db; WORKBENCH_DB)")
    _secret_flags(token)

    stdio = commands.add_parser("stdio", help="serve MCP over stdio (IDEs, Claude Desktop)")
    stdio.add_argument("--tenant", help="tenant to act as (default user:local; env WORKBENCH_TENANT)")
    _store_flags(stdio)
    stdio.add_argument("--log-level", help="DEBUG, INFO, WARNING, ... (WORKBENCH_LOG_LEVEL)")

    migrate = commands.add_parser(
        "migrate", help="copy every run of a SQLite database into PostgreSQL (resumable, idempotent)"
    )
    migrate.add_argument("--from", dest="source", type=Path, required=True, help="the SQLite database file")
    migrate.add_argument("--to", dest="target", required=True, help="postgresql://user@host:port/dbname")

    verify = commands.add_parser("verify", help="verify a RunBundle file offline (exit 0 valid, 1 invalid)")
    verify.add_argument("bundle", type=Path, help="path to a RunBundle JSON file")
    ledger_cli.add_arguments(verify, commands)
    review_cli.add_arguments(commands)
    return parser


def _secret_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--jwt-secret-file", type=Path, help="file holding the HS256 secret, mode 0600 (or WORKBENCH_JWT_SECRET)"
    )
    parser.add_argument("--jwt-issuer", help="required `iss` (WORKBENCH_JWT_ISSUER)")
    parser.add_argument("--jwt-audience", help="required `aud` (WORKBENCH_JWT_AUDIENCE)")
    parser.add_argument(
        "--jwt-max-lifetime", help="longest token lifetime accepted, e.g. 24h (default 30d; WORKBENCH_JWT_MAX_LIFETIME)"
    )


def _store_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        help="SQLite database file (default ./workbench.db) or postgresql://user@host:port/dbname (WORKBENCH_DB)",
    )
    parser.add_argument("--workflows", type=Path, help="directory of workflow JSON files (WORKBENCH_WORKFLOWS)")
    parser.add_argument("--toolsets", help="comma list of core,steps,telemetry or all (WORKBENCH_TOOLSETS)")
    parser.add_argument(
        "--read-only", action="store_true", default=None, help="expose read tools only (WORKBENCH_READ_ONLY)"
    )
    parser.add_argument(
        "--durability",
        help="normal (survives a killed process) or full (also power loss, one fsync per write); "
        "default normal (WORKBENCH_DURABILITY)",
    )
    parser.add_argument(
        "--signing-key-file",
        type=Path,
        help="the ledger's Ed25519 key, PEM (default <db>.signing-key; WORKBENCH_SIGNING_KEY_FILE)",
    )


def config_from(args: argparse.Namespace, env: Mapping[str, str]) -> ServerConfig:
    """Every flag that was given over the environment; one model validates both (config.Settings)."""
    overrides: dict[str, object] = {
        name: value for name in Settings.model_fields if (value := getattr(args, name, None)) not in (None, "")
    }
    if getattr(args, "jwt_secret_file", None):
        overrides["jwt_secret"] = read_secret_file(args.jwt_secret_file)
    if getattr(args, "webhook_secret_file", None):
        overrides["webhook_secret"] = read_secret_file(args.webhook_secret_file, "webhook secret")
    return load(env, overrides)


# --- serve ---------------------------------------------------------------------------------------


def _serve(config: ServerConfig) -> int:
    import uvicorn

    from workbench_mcp.auth import load_or_create_dev_secret, mint_token
    from workbench_mcp.log_setup import configure_logging
    from workbench_mcp.scopes import ALL_SCOPES
    from workbench_mcp.web.app import create_app
    from workbench_mcp.web.http_protocol import uvicorn_settings
    from workbench_mcp.web.worker import tune_gc_for_serving
    from workbench_mcp.wiring import build_catalog, review_link_key

    check_serve_config(config)
    configure_logging(config.log_level)
    build_catalog(config)  # fail fast, naming the bad workflow file, before anything listens
    if not is_loopback_host(config.host) and not (config.public_url or config.allowed_hosts):
        logging.getLogger("workbench_mcp").warning(
            "listening on %s, but only loopback Host headers are accepted (DNS-rebinding protection): "
            "set --public-url or --allowed-hosts to the names clients use",
            config.host,
        )
    config = _fit_connection_cap(config)
    # Bind first: a taken port is one line and exit 2, before anything is printed or created.
    sock = _listening_socket(config.host, config.port)
    try:
        if config.single_tenant is None and not config.jwt.has_key:
            secret, created = load_or_create_dev_secret(config.db_path)
            config = replace(config, jwt=replace(config.jwt, secret=secret))
            dev_token = mint_token(
                secret,
                user=DEV_USER,
                scopes=sorted(ALL_SCOPES),  # the operator's token: every scope, whatever the default
                ttl_s=dev_token_ttl(config),
                issuer=config.jwt.issuer,
                audience=config.jwt.audience,
            )
            _print_banner(config, dev_token, created)
        print(ledger_cli.signing_key_line(config), flush=True)
        print(_processes_line(config), flush=True)
        review_link_key(config)  # created once, here, before any worker process reads it
        if config.webhook is not None:
            print(webhook_line(config.webhook), flush=True)
        if config.workers > 1:
            return _serve_workers(config, sock)
        app = create_app(config)
        tune_gc_for_serving()
        server_config = uvicorn.Config(
            app,
            host=config.host,
            port=config.port,
            log_level=config.log_level.lower(),
            access_log=False,
            **uvicorn_settings(config.connections),
        )
        uvicorn.Server(server_config).run(sockets=[sock])
    finally:
        sock.close()
    return 0


FD_RESERVE = 64
"""File descriptors kept for everything but client connections: SQLite files, logs, pipes, JWKS fetches."""


def _fit_connection_cap(config: ServerConfig) -> ServerConfig:
    """Raise the soft open-file limit to fit `max_connections` (up to the hard limit), or lower the cap to fit
    it: past the limit `accept()` fails with EMFILE and even /healthz goes unanswered."""
    import resource

    wanted = config.connections.max_connections + FD_RESERVE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
        if soft < wanted:
            cap = max(1, soft - FD_RESERVE)
            logging.getLogger("workbench_mcp").warning(
                "the open-file limit (%d) is too low for %d connections: serving at most %d",
                soft,
                config.connections.max_connections,
                cap,
            )
            config = replace(config, connections=replace(config.connections, max_connections=cap))
    return config


def _serve_workers(config: ServerConfig, sock: socket.socket) -> int:
    """N uvicorn worker processes on one port, each with its own connections to the one SQLite file.

    Safe because every write is `BEGIN IMMEDIATE` + a revision check in the database, not a lock in
    Python, and each process's state cache is validated by the run row's tag on every use. The
    schema is brought up to date here, once, before any worker starts; the resolved configuration
    (with the dev secret created above) reaches the workers through one environment variable, and
    the board on which they count their connections (`web.balanced_accept`) through another.
    """
    import anyio

    from workbench_mcp.config import config_to_json
    from workbench_mcp.web.accept_board import ACCEPT_BOARD_ENV, accept_board
    from workbench_mcp.web.worker import SERVE_CONFIG_ENV
    from workbench_mcp.wiring import open_service

    async def prepare_database() -> None:
        async with open_service(config):
            pass

    anyio.run(prepare_database)
    os.environ[SERVE_CONFIG_ENV] = config_to_json(config)
    with accept_board(config.workers) as board:
        if board is not None:
            os.environ[ACCEPT_BOARD_ENV] = str(board)
        _run_workers(config, sock, balanced=board is not None)
    return 0


def _run_workers(config: ServerConfig, sock: socket.socket, *, balanced: bool) -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from workbench_mcp.web.http_protocol import uvicorn_settings

    server_config = uvicorn.Config(
        "workbench_mcp.web.worker:create_worker_app",
        factory=True,
        workers=config.workers,
        host=config.host,
        port=config.port,
        log_level=config.log_level.lower(),
        access_log=False,
        loop="workbench_mcp.web.balanced_accept:new_balanced_loop" if balanced else "auto",
        **uvicorn_settings(config.connections),
    )
    Multiprocess(server_config, sockets=[sock]).run()


LISTEN_BACKLOG = 2048


def _listening_socket(host: str, port: int) -> socket.socket:
    """Our own listening socket, for one process or N, instead of uvicorn's: asyncio turns Nagle off only
    on sockets whose `proto` is IPPROTO_TCP, and uvicorn's socket says 0, so every response written as
    headers + body stalled ~40 ms on the client's delayed ACK (measured: 44 ms per ping)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(LISTEN_BACKLOG)
    except OSError as exc:
        sock.close()
        reason = (exc.strerror or str(exc)).lower()
        raise ConfigError(f"cannot listen on {host}:{port}: {reason}") from None
    sock.set_inheritable(True)
    return sock


DEV_USER = "dev"
"""The `sub` of the printed dev token; the stdio snippet acts as the same tenant."""


def dev_tenant(config: ServerConfig) -> str:
    """The tenant the printed dev token lands in, by the same rule the bearer check applies."""
    from workbench_mcp.auth import principal_from_claims

    return principal_from_claims({"sub": DEV_USER}, config.jwt.tenant_claims).tenant_id


def stdio_client_command(config: ServerConfig, argv0: str | None = None) -> list[str]:
    """The command line a stdio client (Claude Desktop) runs to reach what `serve` serves.

    Absolute paths only: such clients start it without the venv activated and from another working
    directory. The same database, workflows, toolsets and read-only setting as this `serve`, and the
    dev token's tenant, so the HTTP and the stdio client see the same runs.
    """
    script = Path(argv0 if argv0 is not None else sys.argv[0])
    if script.name == "workbench-mcp" and script.is_file():
        # The console script's shebang names the venv's interpreter, so it runs without activation.
        command = [str(script.absolute())]
    else:  # `python -m workbench_mcp`: the interpreter that runs us finds the package the same way
        command = [sys.executable, "-m", "workbench_mcp"]
    command += ["stdio", "--db", str(config.db_path.resolve()), "--tenant", dev_tenant(config)]
    command += ["--toolsets", ",".join(sorted(t.value for t in config.toolsets))]
    if config.workflows_dir is not None:
        command += ["--workflows", str(config.workflows_dir.resolve())]
    if config.read_only:
        command.append("--read-only")
    if config.durability != "normal":
        command += ["--durability", config.durability]
    return command


def _processes_line(config: ServerConfig) -> str:
    if config.workers == 1:
        return "Serving in one process (--workers N or auto for one per CPU)"
    return f"Serving with {config.workers} worker processes on one port and one database (--workers 1: one process)"


def _database_name(config: ServerConfig) -> str:
    """The SQLite file, or the PostgreSQL URL without its password (the banner goes to logs)."""
    if config.database_url is None:
        return str(config.db_path)
    from urllib.parse import urlsplit

    parts = urlsplit(config.database_url)
    host = parts.hostname or ""
    where = f"{host}:{parts.port}" if parts.port else host
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{where}{parts.path}"


def _print_banner(config: ServerConfig, token: str, created: bool) -> None:
    from workbench_mcp.auth import dev_secret_path

    url = config.base_url + "/api/mcp"
    secret_file = dev_secret_path(config.db_path)
    tenant = dev_tenant(config)
    http_json = {
        "servers": {"workbench": {"type": "http", "url": url, "headers": {"Authorization": f"Bearer {token}"}}}
    }
    command = stdio_client_command(config)
    stdio_json = {"mcpServers": {"workbench": {"command": command[0], "args": command[1:]}}}
    lines = [
        f"workbench-mcp {__version__}: MCP at {url} (also {config.base_url}/mcp), database {_database_name(config)}",
        f"No JWT key configured: using the development secret in {secret_file}"
        + (" (just created)" if created else ""),
        "",
        f"Dev token (tenant {tenant}, valid {_lifetime_text(dev_token_ttl(config))}):",
        f"  {token}",
        "",
        "Claude Code:",
        f'  claude mcp add --transport http workbench {url} --header "Authorization: Bearer {token}"',
        "",
        "VS Code (.vscode/mcp.json):",
        "  " + json.dumps(http_json),
        "",
        f"Claude Desktop (claude_desktop_config.json, stdio; same database, toolsets and tenant {tenant} "
        "as the dev token, so both clients see the same runs):",
        "  " + json.dumps(stdio_json),
        "",
        f"More tokens: workbench-mcp token --db {config.db_path.resolve()} --user USER [--org ORG]",
        "",
    ]
    print("\n".join(lines), flush=True)


def webhook_line(webhook: WebhookConfig) -> str:
    """Only the webhook's origin: its path may carry a token (Slack-style URLs), and the banner is often logged."""
    from workbench_mcp.review.webhook import origin

    return f"Review webhook: notices are POSTed to {origin(webhook.url)}, signed (Workbench-Signature)"


# --- token, stdio, verify ---------------------------------------------------------------------------


def dev_token_ttl(config: ServerConfig) -> int:
    """30 days, or the configured maximum lifetime when shorter: the server must accept its own tokens."""
    return min(DEV_TOKEN_TTL_S, config.jwt.max_lifetime_seconds)


def _lifetime_text(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


def _token(args: argparse.Namespace, config: ServerConfig) -> int:
    """Mint a token the server with the same settings accepts, or refuse; never create a secret.

    A secret made up here (as earlier versions did, in the current directory) signs tokens that no
    running server accepts. The secret used is named on stderr; stdout carries only the token.
    """
    from workbench_mcp.auth import mint_token
    from workbench_mcp.principal import USER_TENANT_PREFIX, in_user_namespace
    from workbench_mcp.scopes import parse_scopes

    check_jwt_config(config.jwt)
    for flag, value in (("--user", args.user), ("--org", args.org)):
        if value is not None and (not value or value != value.strip() or not value.isprintable()):
            raise ConfigError(f"{flag} must be non-empty printable text without surrounding spaces")
    if args.org and in_user_namespace(args.org):
        raise ConfigError(
            f"--org may not start with {USER_TENANT_PREFIX!r}: that namespace holds personal tenants "
            f"(omit --org for the tenant {USER_TENANT_PREFIX}{args.user})"
        )
    maximum = config.jwt.max_lifetime_seconds
    ttl = min(DEV_TOKEN_TTL_S, maximum) if args.ttl is None else parse_duration(args.ttl, "--ttl")
    if ttl > maximum:
        raise ConfigError(
            f"--ttl {ttl} s exceeds the maximum token lifetime {maximum} s, which the server would refuse "
            "(raise it with --jwt-max-lifetime / WORKBENCH_JWT_MAX_LIFETIME on both)"
        )
    scopes = None
    if args.scope is not None:
        try:
            scopes = parse_scopes(args.scope, "--scope")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    secret, source = _token_secret(args, config)
    token = mint_token(
        secret,
        user=args.user,
        org=args.org,
        ttl_s=ttl,
        issuer=config.jwt.issuer,
        audience=config.jwt.audience,
        scopes=scopes,
    )
    tenant = args.org or f"{USER_TENANT_PREFIX}{args.user}"
    valid = _lifetime_text(ttl)
    print(f"workbench-mcp: token for tenant {tenant}, valid {valid}, signed with {source}", file=sys.stderr)
    print(token)
    return 0


def _token_secret(args: argparse.Namespace, config: ServerConfig) -> tuple[str, str]:
    """The secret `serve` with these settings verifies with, and where it came from."""
    from workbench_mcp.auth import dev_secret_path, read_dev_secret

    if config.jwt.secret:
        source = f"the secret file {args.jwt_secret_file}" if args.jwt_secret_file else "WORKBENCH_JWT_SECRET"
        return config.jwt.secret, source
    if config.jwt.public_key_pem or config.jwt.jwks_url:
        raise ConfigError("tokens for RS256/ES256 keys come from your identity provider; no secret is configured")
    path = dev_secret_path(config.db_path)
    if not path.exists() and not path.is_symlink():
        raise ConfigError(
            f"no JWT secret: none is configured and {path} does not exist; run `workbench-mcp serve "
            f"--db {config.db_path}` once to create it, or pass --jwt-secret-file / set WORKBENCH_JWT_SECRET"
        )
    return read_dev_secret(config.db_path), f"the development secret {path}"


def _stdio(config: ServerConfig) -> int:
    import anyio

    from workbench_mcp.log_setup import configure_logging
    from workbench_mcp.mcp_server.stdio import run_stdio
    from workbench_mcp.wiring import build_catalog

    configure_logging(config.log_level)
    build_catalog(config)
    anyio.run(run_stdio, config)
    return 0


def _verify(path: Path) -> int:
    from workbench_mcp.offload import check_bundle
    from workbench_mcp.protocol.bundle import read_bundle_json

    try:
        bundle = read_bundle_json(path.read_bytes())
    except OSError as exc:
        print(f"FAIL: cannot read {path}: {exc.strerror}", file=sys.stderr)
        return 2
    except WorkbenchError as exc:
        print(f"FAIL {exc.code.value}: {exc.message}")
        return 1
    verdict = check_bundle("full", bundle)
    if verdict[0] == "error":
        print(f"FAIL {verdict[1]}: {verdict[2]}")
        return 1
    claimed = verdict[1].get("sha256")
    if not claimed:
        print("FAIL MISSING_INTEGRITY: the bundle has no integrity.sha256")
        return 1
    if not verdict[1]["ok"]:
        print(f"FAIL INTEGRITY_MISMATCH: integrity.sha256 {claimed} does not match the bundle's canonical JSON")
        return 1
    print(f"OK: run {bundle['run']['id']}, {len(bundle['trace'])} trace events, sha256 {claimed}")
    return 0


def _migrate(source: Path, target: str) -> int:
    """Exit 0 when every run is in PostgreSQL (copied now or before), 1 naming the runs left alone."""
    from workbench_mcp.config import database_location
    from workbench_mcp.store.copy_to_postgres import copy_sqlite_to_postgres

    if database_location(target)[1] is None:
        raise ConfigError("--to must be a postgresql:// URL")

    def progress(report: Any) -> None:
        print(f"... {report.copied} runs copied, {report.skipped} already there", file=sys.stderr, flush=True)

    started = time.monotonic()
    report = copy_sqlite_to_postgres(source, target, progress=progress)
    print(
        f"migrated {source} -> {_database_name(replace(ServerConfig(), database_url=target))}: "
        f"{report.copied} runs copied, {report.skipped} already there, {report.keys} signing keys, "
        f"{time.monotonic() - started:.1f} s"
    )
    for tenant_id, run_id in report.conflicts:
        what = f"run {run_id}" if run_id else "the refusals naming no run"
        print(f"CONFLICT tenant {tenant_id}: {what} differs in PostgreSQL (written after the copy); left alone")
    return 1 if report.conflicts else 0


def main(argv: Sequence[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    try:
        if args.command == "verify":
            code = (
                _verify(args.bundle)
                if args.attestation is None
                else ledger_cli.verify_command(args.bundle, args.attestation, args.keys)
            )
        elif args.command == "migrate":
            code = _migrate(args.source, args.target)
        else:
            config = config_from(args, dict(os.environ))
            if args.command == "serve":
                code = _serve(config)
            elif args.command == "token":
                code = _token(args, config)
            elif args.command == "ledger":
                code = ledger_cli.run_command(args, config)
            elif args.command == "review-link":
                code = review_cli.run_command(args, config, dev_tenant(config))
            else:
                code = _stdio(config)
    except (ConfigError, WorkbenchError, OSError, ValueError) as exc:
        message = exc.message if isinstance(exc, WorkbenchError) else str(exc)
        print(f"workbench-mcp: {message}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
