"""Review notices reach a real receiver signed, are retried, never block `notify`, and every attempt is on the
run's audit log without the link, the secret or the webhook's path."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp import Client
from starlette.responses import Response

from tests.mcp_server.scenario import caller
from tests.review.conftest import ALICE, LINK, WEBHOOK_SECRET, World, webhook
from tests.review.receiver import Received, running_receiver
from tests.servers import ALL_TOOLSETS, error_code, free_port
from workbench_mcp.auth import acting_as
from workbench_mcp.cli import main
from workbench_mcp.config import ServerConfig, WebhookConfig
from workbench_mcp.mcp_server.server import build_mcp_server
from workbench_mcp.principal import Principal
from workbench_mcp.review.webhook import WebhookNotifier

TOLERANCE_S = 300
"""What a receiver following the README accepts between the signed timestamp and its clock."""


def verified(received: Received, secret: str = WEBHOOK_SECRET) -> dict[str, Any]:
    """A receiver's check, written from the README's scheme with the stdlib only (not the server's code)."""
    fields = dict(part.split("=", 1) for part in received.headers["workbench-signature"].split(","))
    timestamp = int(fields["t"])
    assert abs(time.time() - timestamp) <= TOLERANCE_S
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + received.body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, fields["v1"])
    assert received.headers["content-type"] == "application/json"
    document: dict[str, Any] = json.loads(received.body)
    return document


@asynccontextmanager
async def started(config: WebhookConfig, world: World) -> AsyncIterator[WebhookNotifier]:
    notifier = WebhookNotifier(config, world.store)
    await notifier.start()
    try:
        yield notifier
    finally:
        await notifier.stop()


async def deliver_one(world: World, config: WebhookConfig) -> None:
    async with started(config, world) as notifier:
        await notifier.notify(world.notice())
        await notifier.wait_idle()


def assert_nothing_secret_in(records: list[dict[str, Any]], config: WebhookConfig) -> None:
    text = json.dumps(records)
    assert LINK not in text
    assert "SECRET-LINK" not in text
    assert config.secret not in text
    assert "/hooks/workbench" not in text  # the URL's path may carry a token: only the origin is ever named


async def test_a_notice_arrives_signed_with_every_field_and_is_recorded_as_delivered(world: World) -> None:
    async with running_receiver() as receiver:
        config = webhook(receiver.url)
        async with started(config, world) as notifier:
            await notifier.notify(world.notice())
            await notifier.wait_idle()
    [received] = receiver.received
    document = verified(received)
    assert document == {
        "id": received.headers["workbench-delivery"],
        "type": "review.requested",
        "createdAt": document["createdAt"],
        "requestId": "rr_1",
        "tenantId": ALICE.tenant_id,
        "runId": world.run_id,
        "workflowId": "jobSearchWorkflow",
        "stepId": "parser1",
        "gate": "PAUSE_BEFORE",
        "reason": "please check the parsed fields",
        "reviewer": "user_bob",
        "reviewLink": LINK,
        "expiresAt": "2026-12-04T10:00:00.000Z",
    }
    assert received.headers["workbench-attempt"] == "1"
    assert received.headers["user-agent"].startswith("workbench-mcp/")
    [record] = await world.deliveries()
    assert record["principal"] == "system:webhook"
    assert record["tool"] == "webhook"
    assert record["detail"] == {
        "deliveryId": document["id"],
        "requestId": "rr_1",
        "stepId": "parser1",
        "gate": "PAUSE_BEFORE",
        "reviewer": "user_bob",
        "status": "delivered",
        "attempt": 1,
        "maxAttempts": 6,
        "httpStatus": 204,
    }
    assert_nothing_secret_in(await world.deliveries(), config)


async def test_a_forged_or_replayed_delivery_fails_the_receivers_check(world: World) -> None:
    # The check above is not vacuous: another secret, another body or an old timestamp each fail it.
    async with running_receiver() as receiver:
        await deliver_one(world, webhook(receiver.url))
    [good] = receiver.received
    assert passes(good)
    assert not passes(good, secret="another-secret-of-enough-length-0123456789")
    assert not passes(Received(good.headers, good.body.replace(b"user_bob", b"user_eve"), good.path))
    replayed = good.headers | {"workbench-signature": _resigned(good, -TOLERANCE_S - 60)}
    assert not passes(Received(replayed, good.body, good.path))


def passes(received: Received, secret: str = WEBHOOK_SECRET) -> bool:
    try:
        verified(received, secret)
    except AssertionError:
        return False
    return True


def _resigned(received: Received, shift_s: int) -> str:
    """A correct signature, but for a timestamp `shift_s` away from now (a replay of an old delivery)."""
    timestamp = int(time.time()) + shift_s
    mac = hmac.new(WEBHOOK_SECRET.encode(), f"{timestamp}.".encode() + received.body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


async def test_5xx_and_429_are_retried_with_the_same_body_and_delivery_id_until_delivered(world: World) -> None:
    answers = (Response(status_code=500), Response(status_code=429), Response(status_code=503))
    async with running_receiver(*answers) as receiver:
        await deliver_one(world, webhook(receiver.url))
    assert [r.headers["workbench-attempt"] for r in receiver.received] == ["1", "2", "3", "4"]
    assert len({r.body for r in receiver.received}) == 1
    assert len({r.headers["workbench-delivery"] for r in receiver.received}) == 1
    for received in receiver.received:
        verified(received)  # each attempt is signed anew
    records = [r["detail"] for r in await world.deliveries()]
    assert [(d["attempt"], d["status"], d.get("httpStatus")) for d in records] == [
        (1, "retrying", 500),
        (2, "retrying", 429),
        (3, "retrying", 503),
        (4, "delivered", 204),
    ]


async def test_a_receiver_that_is_down_never_blocks_notify_and_every_attempt_is_recorded(world: World) -> None:
    config = webhook(f"http://127.0.0.1:{free_port()}/hooks/workbench", max_attempts=3)
    revision = await world.service.reads.run_revision(ALICE, world.run_id)
    async with started(config, world) as notifier:
        calling = notifier.notify(world.notice())
        with pytest.raises(StopIteration):
            calling.send(None)  # notify ran to its end in one step: it never waited for anything
        assert notifier.pending == 1
        await notifier.wait_idle()
    records = await world.deliveries()
    assert [(r["detail"]["attempt"], r["detail"]["status"]) for r in records] == [
        (1, "retrying"),
        (2, "retrying"),
        (3, "failed"),
    ]
    assert all("ConnectError" in r["detail"]["error"] for r in records)
    assert_nothing_secret_in(records, config)
    # the run is untouched: still there, at the same revision (the records sit beside the trace)
    assert await world.service.reads.run_revision(ALICE, world.run_id) == revision


async def test_4xx_is_not_retried_and_a_redirect_is_not_followed(world: World) -> None:
    async with running_receiver(Response(status_code=400)) as receiver:
        await deliver_one(world, webhook(receiver.url))
    assert len(receiver.received) == 1
    async with running_receiver(Response(status_code=302, headers={"Location": "/elsewhere"})) as receiver:
        await deliver_one(world, webhook(receiver.url))
    assert [r.path for r in receiver.received] == ["/hooks/workbench"]
    details = [r["detail"] for r in await world.deliveries()]
    assert [(d["status"], d["httpStatus"], d["error"]) for d in details] == [
        ("failed", 400, "refused by the receiver (not retried)"),
        ("failed", 302, "redirect not followed"),
    ]


async def test_a_receiver_that_does_not_answer_in_time_is_an_attempt_that_timed_out(world: World) -> None:
    async with running_receiver(hang_s=1.0) as receiver:
        await deliver_one(world, webhook(receiver.url, timeout_s=0.2, max_attempts=1))
    [record] = await world.deliveries()
    assert record["detail"]["status"] == "failed"
    assert record["detail"]["error"] == "no answer within 0.2 s"


async def test_a_full_queue_drops_the_oldest_delivery_and_stop_records_the_rest_as_abandoned(world: World) -> None:
    # Nothing listens and the first retry is an hour away: deliveries pile up.
    config = webhook(
        f"http://127.0.0.1:{free_port()}/hooks/workbench", queue_size=2, backoff_base_s=3600, backoff_max_s=3600
    )
    async with started(config, world) as notifier:
        for reviewer in ("user_a", "user_b", "user_c"):
            await notifier.notify(world.notice(reviewer=reviewer))
            assert notifier.pending <= 2
        await notifier.wait_recorded(3)  # the first attempts of b and c, and a's drop
        assert notifier.pending == 2
    outcomes = sorted((r["detail"]["reviewer"], r["detail"]["status"]) for r in await world.deliveries())
    # a was dropped before its first attempt: notify never yields, so its task had not run yet
    assert outcomes == [
        ("user_a", "dropped"),
        ("user_b", "abandoned"),
        ("user_b", "retrying"),
        ("user_c", "abandoned"),
        ("user_c", "retrying"),
    ]


async def test_delivery_records_are_chained_like_every_governance_record(
    world: World, config: ServerConfig, capsys: pytest.CaptureFixture[str]
) -> None:
    await deliver_one(world, webhook(f"http://127.0.0.1:{free_port()}/hooks/workbench", max_attempts=2))
    assert len(await world.deliveries()) == 2
    with pytest.raises(SystemExit) as done:
        main(["ledger", "check", "--db", config.database_url or str(config.db_path)])
    assert done.value.code == 0, capsys.readouterr()


async def test_the_audit_log_tool_shows_each_attempt_and_another_tenant_sees_nothing(world: World) -> None:
    config = webhook(f"http://127.0.0.1:{free_port()}/hooks/workbench", max_attempts=2)
    await deliver_one(world, config)
    server = build_mcp_server(world.service, ALL_TOOLSETS, read_only=False)
    with acting_as(ALICE):
        async with Client(server) as client:
            records = (await caller(client)("audit_log", {"runId": world.run_id}))["records"]
    deliveries = [r for r in records if r["kind"] == "webhook_delivery"]
    assert [(r["principal"], r["tool"], r["detail"]["status"]) for r in deliveries] == [
        ("system:webhook", "webhook", "retrying"),
        ("system:webhook", "webhook", "failed"),
    ]
    assert_nothing_secret_in(records, config)
    with acting_as(Principal("org_other", subject="mallory")):
        async with Client(server) as client:
            refused = await client.call_tool("audit_log", {"runId": world.run_id})
    assert error_code(refused) == "UNKNOWN_RUN"
