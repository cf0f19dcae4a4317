"""The webhook is configuration only (WORKBENCH_WEBHOOK_URL / --webhook-url), always signed, and a bad value
is refused at start in one clear line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.review.conftest import WEBHOOK_SECRET
from workbench_mcp.cli import _parser, config_from, main, webhook_line
from workbench_mcp.config import ConfigError, ServerConfig, WebhookConfig, config_from_json, config_to_json, load

URL = "WORKBENCH_WEBHOOK_URL"
SECRET = "WORKBENCH_WEBHOOK_SECRET"


def test_a_url_and_a_secret_configure_the_webhook() -> None:
    config = load({URL: "https://hooks.example.com/workbench", SECRET: WEBHOOK_SECRET})
    assert config.webhook == WebhookConfig("https://hooks.example.com/workbench", WEBHOOK_SECRET)
    assert load({}).webhook is None
    assert WEBHOOK_SECRET not in repr(config)
    # `serve --workers N` hands the configuration to its workers as JSON: the webhook travels too
    assert config_from_json(config_to_json(config)).webhook == config.webhook


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {URL: "ftp://hooks.example.com/x", SECRET: WEBHOOK_SECRET},
            "WORKBENCH_WEBHOOK_URL / --webhook-url: must be an absolute http(s) URL",
        ),
        ({URL: "/hooks/workbench", SECRET: WEBHOOK_SECRET}, "must be an absolute http(s) URL"),
        ({URL: "https:///no-host", SECRET: WEBHOOK_SECRET}, "must be an absolute http(s) URL"),
        ({URL: "http://hooks.example.com:99999/", SECRET: WEBHOOK_SECRET}, "--webhook-url: not a URL"),
        (
            {URL: "https://hooks.example.com/workbench"},
            "WORKBENCH_WEBHOOK_URL / --webhook-url is set but there is no signing secret: set "
            "WORKBENCH_WEBHOOK_SECRET or --webhook-secret-file",
        ),
        (
            {URL: "https://hooks.example.com/workbench", SECRET: "short"},
            "the webhook secret from WORKBENCH_WEBHOOK_SECRET / --webhook-secret-file is 5 bytes; at least 32",
        ),
    ],
)
def test_a_bad_webhook_setting_is_refused_with_a_clear_message(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        load(env)
    assert message in str(refused.value)
    assert "Traceback" not in str(refused.value)


def test_serve_flags_set_the_webhook_and_read_the_secret_from_a_private_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "webhook.key"
    secret_file.write_text(WEBHOOK_SECRET + "\n")
    secret_file.chmod(0o600)
    argv = ["serve", "--webhook-url", "https://hooks.example.com/w", "--webhook-secret-file", str(secret_file)]
    config = config_from(_parser().parse_args(argv), {})
    assert config.webhook == WebhookConfig("https://hooks.example.com/w", WEBHOOK_SECRET)
    secret_file.chmod(0o644)
    with pytest.raises(ConfigError, match=r"refusing the webhook secret file .*: mode 0644 lets other users read"):
        config_from(_parser().parse_args(argv), {})


def test_serve_with_a_bad_webhook_url_exits_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(SECRET, WEBHOOK_SECRET)
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--db", str(tmp_path / "w.db"), "--webhook-url", "hooks.example.com/w"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("workbench-mcp: WORKBENCH_WEBHOOK_URL / --webhook-url: must be an absolute http(s) URL")
    assert err.count("\n") == 1


def test_the_startup_line_names_only_the_webhooks_origin() -> None:
    # A Slack-style URL carries its token in the path; the banner is often logged.
    line = webhook_line(WebhookConfig("https://user:pw@hooks.example.com:8443/T000/B000/XXXX", WEBHOOK_SECRET))
    assert line == "Review webhook: notices are POSTed to https://hooks.example.com:8443, signed (Workbench-Signature)"


def test_without_a_webhook_the_server_config_has_none() -> None:
    assert ServerConfig().webhook is None
