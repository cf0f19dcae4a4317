"""The HTTP app uses the webhook notifier when one is configured, starts it with its lifespan, and on shutdown
records the deliveries still held as abandoned (the store closes after the notifier)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from tests.review.conftest import World, webhook
from tests.review.receiver import running_receiver
from tests.servers import free_port, running_server, server_config
from workbench_mcp.config import ServerConfig
from workbench_mcp.review.notice import NoNotifier
from workbench_mcp.review.webhook import WebhookNotifier
from workbench_mcp.web.app import create_app


def test_without_a_webhook_the_app_notifies_nobody(tmp_path: Path) -> None:
    assert isinstance(create_app(server_config(tmp_path)).state.notifier, NoNotifier)  # no store involved


async def test_the_apps_notifier_delivers_while_serving(config: ServerConfig, world: World) -> None:
    async with running_receiver() as receiver:
        app = create_app(replace(config, webhook=webhook(receiver.url)))
        notifier = app.state.notifier
        assert isinstance(notifier, WebhookNotifier)
        async with running_server(config, app):
            await notifier.notify(world.notice())
            await notifier.wait_idle()
    assert len(receiver.received) == 1
    assert [r["detail"]["status"] for r in await world.deliveries()] == ["delivered"]


async def test_shutdown_records_a_delivery_still_waiting_as_abandoned(config: ServerConfig, world: World) -> None:
    down = webhook(f"http://127.0.0.1:{free_port()}/hooks", backoff_base_s=3600, backoff_max_s=3600)
    app = create_app(replace(config, webhook=down))
    async with running_server(config, app):
        await app.state.notifier.notify(world.notice())
        await app.state.notifier.wait_recorded(1)  # the first attempt failed; the next is an hour away
    statuses = [r["detail"]["status"] for r in await world.deliveries()]
    assert statuses == ["retrying", "abandoned"]
