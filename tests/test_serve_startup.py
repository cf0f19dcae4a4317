"""`serve` startup as a user meets it: the port is bound before anything is printed; the new settings resolve."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli import cli_env
from workbench_mcp.cli import _parser, config_from
from workbench_mcp.config import (
    ConfigError,
    ConnectionLimits,
    ServerConfig,
    check_serve_config,
    config_from_json,
    config_to_json,
)


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_taken_port_is_one_line_and_no_banner(tmp_path: Path, workers: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "workbench_mcp", "serve", "--port", str(port), "--workers", workers],
            env=cli_env(),
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    assert result.returncode == 2
    assert result.stdout == ""  # no banner, no token for a server that never ran
    assert result.stderr == f"workbench-mcp: cannot listen on 127.0.0.1:{port}: address already in use\n"
    assert not list(tmp_path.iterdir())  # no dev secret, no database created


def test_connection_limits_come_from_flags_over_the_environment() -> None:
    env = {
        "WORKBENCH_HEADER_TIMEOUT": "3",
        "WORKBENCH_BODY_TIMEOUT": "4",
        "WORKBENCH_KEEP_ALIVE": "6",
        "WORKBENCH_MAX_CONNECTIONS": "70",
    }
    from_env = config_from(_parser().parse_args(["serve"]), env)
    assert from_env.connections == ConnectionLimits(3, 4, 6, 70)
    flags = ["serve", "--header-timeout", "1.5", "--body-timeout", "2", "--keep-alive-timeout", "7"]
    from_flags = config_from(_parser().parse_args([*flags, "--max-connections", "9"]), env)
    assert from_flags.connections == ConnectionLimits(1.5, 2, 7, 9)
    assert config_from_json(config_to_json(from_flags)) == from_flags
    assert config_from(_parser().parse_args(["serve"]), {}).connections == ConnectionLimits(10, 30, 5, 1000)


@pytest.mark.parametrize(
    "limits",
    [ConnectionLimits(header_timeout_s=0), ConnectionLimits(body_timeout_s=-1), ConnectionLimits(max_connections=0)],
)
def test_nonsense_connection_limits_are_refused(limits: ConnectionLimits) -> None:
    with pytest.raises(ConfigError):
        check_serve_config(ServerConfig(connections=limits))
