"""The README's command table tells the truth: every flag argparse takes, and the real exit codes of verify."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from workbench_mcp.cli import _parser

README = Path(__file__).resolve().parents[1] / "README.md"


def _commands() -> dict[str, argparse.ArgumentParser]:
    [subparsers] = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(subparsers.choices)


def _synopsis(command: str) -> str:
    """The first cell of the command table row for `workbench-mcp <command>`."""
    rows = [line for line in README.read_text(encoding="utf-8").splitlines() if line.startswith("| `workbench-mcp ")]
    [row] = [r for r in rows if r.startswith(f"| `workbench-mcp {command}")]
    return row.split("` |")[0]


def _options(parser: argparse.ArgumentParser) -> set[str]:
    """Every option of `parser` and of its own subcommands (`ledger check`, `ledger keys`, ...)."""
    options = {option for action in parser._actions for option in action.option_strings}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                options |= _options(sub)
    return options


@pytest.mark.parametrize("command", sorted(_commands()))
def test_every_flag_of_every_command_is_in_its_readme_synopsis(command: str) -> None:
    flags = {option for option in _options(_commands()[command]) if option.startswith("--") and option != "--help"}
    shown = set(re.findall(r"--[a-z][-a-z]*", _synopsis(command)))
    assert flags == shown, f"README synopsis of `{command}`: missing {flags - shown}, unknown {shown - flags}"


def test_the_readme_gives_verify_its_real_exit_codes() -> None:
    # test_cli.py checks 0 / 1 / 2 against the command itself; here the README must name each of them.
    row = next(line for line in README.read_text().splitlines() if line.startswith("| `workbench-mcp verify"))
    for code in ("0 (valid)", "1 (invalid", "2 (the file cannot be read"):
        assert code in row
