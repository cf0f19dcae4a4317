"""The configuration model is the one source: the README's table, the flags and the variables agree with it."""

from __future__ import annotations

import argparse
from enum import Enum
from pathlib import Path

import pytest

from workbench_mcp.cli import _parser, config_from
from workbench_mcp.config import ENV_PREFIX, ConfigError, Settings, load
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.principal import Principal
from workbench_mcp.wiring import open_service

README = Path(__file__).resolve().parents[1] / "README.md"
WHO = Principal("acme", "alice")
SPELLED_OUT = {"default_scopes": "all four"}
"""Defaults the README names in words rather than printing the value."""
NOT_SETTINGS = {"help", "version", "command", "user", "org", "ttl", "scope", "jwt_secret_file", "webhook_secret_file"}
"""Flag destinations that are command arguments, not settings (`--jwt-secret-file` and `--webhook-secret-file` read a
secret's file)."""


def _table() -> dict[str, tuple[str, str]]:
    """README "Configuration": variable -> (flag cell, default cell); `A` / `B` rows give both names."""
    text = README.read_text(encoding="utf-8").split("### Configuration", 1)[1].split("\n### ", 1)[0]
    rows: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if not line.startswith("| `") or len(cells) < 4:
            continue
        for name in cells[0].split(" / "):
            rows[name.strip("`")] = (cells[1].strip("`"), cells[2])
    return rows


def _shown(name: str, default: object) -> str | None:
    """How the README prints a default; None when it explains an absent value in words (none, off, ...)."""
    if name in SPELLED_OUT:
        return SPELLED_OUT[name]
    if default is None or default is False or default == ():
        return None
    if isinstance(default, (frozenset, tuple)):
        values = sorted(default) if isinstance(default, frozenset) else default
        text = ",".join(v.value if isinstance(v, Enum) else str(v) for v in values)
    elif isinstance(default, float):
        text = f"{default:g}"
    else:
        text = str(default)
    return f"`{text}`"


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme_with_its_flag_and_default(name: str) -> None:
    field = Settings.model_fields[name]
    variable = ENV_PREFIX + name.upper()
    table = _table()
    assert variable in table, f"README Configuration has no row for {variable}"
    flag, default = table[variable]
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    assert flag == extra.get("flag", ""), f"{variable}: README flag {flag!r}, model {extra.get('flag')!r}"
    expected = _shown(name, field.default)
    if expected is None:
        assert not default.startswith("`") or "HOST" in default or "<db>" in default, f"{variable}: {default}"
    else:
        assert default == expected, f"{variable}: README default {default}, model {expected}"


def test_every_readme_variable_is_a_setting() -> None:
    unknown = {name for name in _table() if name.removeprefix(ENV_PREFIX).lower() not in Settings.model_fields}
    assert not unknown, f"README Configuration lists variables the model does not read: {unknown}"


def _flag_actions() -> list[argparse.Action]:
    commands = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction))
    return [action for name in ("serve", "stdio", "token") for action in commands.choices[name]._actions]


def test_every_flag_overrides_a_setting_of_the_same_name() -> None:
    """config_from hands flags to the model by destination name: a flag that names no field would be lost."""
    stray = {a.dest for a in _flag_actions() if a.dest not in NOT_SETTINGS and a.dest not in Settings.model_fields}
    assert not stray, f"flags that override no setting: {stray}"


def test_every_flag_the_model_names_exists() -> None:
    known = {option for action in _flag_actions() for option in action.option_strings}
    named = {
        extra["flag"]
        for field in Settings.model_fields.values()
        if isinstance(extra := field.json_schema_extra, dict) and "flag" in extra
    }
    assert named <= known, f"the model names flags argparse does not take: {named - known}"


async def test_the_configured_quotas_are_the_ones_enforced(tmp_path: Path) -> None:
    """The documented limits were fixed in code (settings.Limits()); now the variables reach store and service."""
    env = {"WORKBENCH_MAX_RUNS_PER_TENANT": "1", "WORKBENCH_MAX_BUNDLE_BYTES": "1000"}
    config = config_from(_parser().parse_args(["serve", "--db", str(tmp_path / "w.db")]), env)
    async with open_service(config) as service:
        run_id = (await service.start_run(WHO, "jobSearchWorkflow"))["runId"]
        with pytest.raises(WorkbenchError) as refused:
            await service.start_run(WHO, "jobSearchWorkflow")
        assert refused.value.code is ErrorCode.LIMIT_EXCEEDED
        bundle = await service.bundles.export_bundle(WHO, run_id)
        with pytest.raises(WorkbenchError) as too_big:
            await service.bundles.verify_bundle(bundle)
        assert too_big.value.code is ErrorCode.LIMIT_EXCEEDED


@pytest.mark.parametrize("name", ["MAX_RUNS_PER_TENANT", "MAX_BUNDLE_BYTES", "MAX_TRACE_EVENTS_PER_RUN"])
def test_a_quota_below_one_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match=f"{ENV_PREFIX}{name}"):
        load({ENV_PREFIX + name: "0"})


# --- workers: auto by default -----------------------------------------------------------------------------


def test_serve_uses_the_cpus_by_default_and_one_process_is_one_flag_away() -> None:
    from workbench_mcp.config import auto_workers

    parser = _parser()
    assert config_from(parser.parse_args(["serve"]), {}).workers == auto_workers()
    assert config_from(parser.parse_args(["serve", "--workers", "1"]), {}).workers == 1
    assert config_from(parser.parse_args(["serve"]), {f"{ENV_PREFIX}WORKERS": "1"}).workers == 1
    assert config_from(parser.parse_args(["serve", "--workers", "AUTO"]), {}).workers == auto_workers()


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "two"])
def test_a_workers_value_that_is_neither_a_count_nor_auto_is_refused_by_name(value: str) -> None:
    with pytest.raises(ConfigError, match="--workers"):
        config_from(_parser().parse_args(["serve", "--workers", value]), {})


@pytest.mark.parametrize(
    ("cpu_max", "quota_cpus"),
    [("max 100000", None), ("100000 100000", 1), ("150000 100000", 2), ("50000 100000", 1), (None, None), ("x", None)],
)
def test_usable_cpus_honours_a_cgroup_quota(tmp_path: Path, cpu_max: str | None, quota_cpus: int | None) -> None:
    from workbench_mcp.config import usable_cpus

    path = tmp_path / "cpu.max"
    if cpu_max is not None:
        path.write_text(cpu_max + "\n", encoding="ascii")
    affinity = usable_cpus(tmp_path / "absent")
    assert usable_cpus(path) == (affinity if quota_cpus is None else min(affinity, quota_cpus))


# --- choosing the store (README "Running on PostgreSQL") ---------------------------------------------


@pytest.mark.parametrize(
    ("flag", "env", "path", "url"),
    [
        ("postgresql://wb@db.internal:5433/runs", None, Path("workbench.db"), "postgresql://wb@db.internal:5433/runs"),
        (None, "postgres://wb@127.0.0.1/runs", Path("workbench.db"), "postgres://wb@127.0.0.1/runs"),
        ("sqlite:///data/runs.db", "postgresql://ignored/x", Path("data/runs.db"), None),
        ("sqlite:////abs/runs.db", None, Path("/abs/runs.db"), None),
        ("runs.db", None, Path("runs.db"), None),
        (None, None, Path("workbench.db"), None),
    ],
)
def test_db_selects_postgresql_by_url_and_sqlite_by_path(
    flag: str | None, env: str | None, path: Path, url: str | None
) -> None:
    argv = ["serve"] if flag is None else ["serve", "--db", flag]
    config = config_from(_parser().parse_args(argv), {} if env is None else {"WORKBENCH_DB": env})
    assert (config.db_path, config.database_url) == (path, url)
    from workbench_mcp.config import config_from_json, config_to_json

    assert config_from_json(config_to_json(config)) == config  # what `serve --workers N` hands each worker
