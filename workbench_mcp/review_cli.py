"""`workbench-mcp review-link`: mint a review link from the command line, for operators without a webhook.

It stores the review request (one reviewer) exactly as `request_review` does, recording the gate's
`human_gate_requested` if it is not requested yet, and prints the link on stdout (what it is for on stderr).
The link is signed with the database's review link key, the one `serve` uses, so the server opens it."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path
from typing import Any

from workbench_mcp.config import ServerConfig, parse_duration
from workbench_mcp.principal import Principal
from workbench_mcp.review.service import DEFAULT_TTL_SECONDS


def add_arguments(commands: Any) -> None:
    link = commands.add_parser("review-link", help="mint a one-time review link for a gate awaiting review")
    link.add_argument("--run", required=True, help="run id")
    link.add_argument("--step", required=True, help="step id")
    link.add_argument("--gate", required=True, choices=("PAUSE_BEFORE", "PAUSE_AFTER", "CHECKPOINT"))
    link.add_argument("--reviewer", required=True, help="the subject that may use the link (the decision's principal)")
    link.add_argument("--tenant", help="the run's tenant (default: the dev token's, user:dev)")
    link.add_argument("--reason", help="why the review is wanted (recorded with the gate request)")
    link.add_argument("--ttl", help="lifetime: seconds or with s/m/h/d (default 72h)")
    link.add_argument("--db", type=Path, help="SQLite database file (default ./workbench.db; WORKBENCH_DB)")
    link.add_argument("--public-url", help="origin the link starts with (WORKBENCH_PUBLIC_URL; default the serve URL)")


def _operator() -> str:
    try:
        return f"cli:{getpass.getuser() or 'local'}"
    except (KeyError, OSError):
        return "cli:local"


async def _mint(args: argparse.Namespace, config: ServerConfig, tenant: str) -> tuple[str, str]:
    from workbench_mcp.wiring import build_review, open_service

    ttl = DEFAULT_TTL_SECONDS if args.ttl is None else parse_duration(args.ttl, "--ttl")
    async with open_service(config) as service:
        review = build_review(config, service)
        minted = await review.mint(
            Principal(tenant, _operator()),
            args.run,
            step_id=args.step,
            gate=args.gate,
            reason=args.reason,
            reviewers=[args.reviewer],
            ttl_seconds=ttl,
        )
    return minted.links[args.reviewer], minted.expires_at


def run_command(args: argparse.Namespace, config: ServerConfig, default_tenant: str) -> int:
    import anyio

    tenant = args.tenant or default_tenant
    link, expires_at = anyio.run(_mint, args, config, tenant)
    print(
        f"workbench-mcp: review link for {args.reviewer} on run {args.run} step {args.step} gate {args.gate} "
        f"(tenant {tenant}), works once until {expires_at}",
        file=sys.stderr,
    )
    print(link, flush=True)
    return 0
