"""The REST run repository over real uvicorn: round trips, ETag/If-Match, paging, validation, limits, errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.servers import token
from tests.web.rest import DESCRIBED_BY, RunFactory, link_values, renamed, rest_client
from workbench_mcp.web.run_routes import list_limit

MIB = 1024 * 1024


@pytest.fixture
async def api(base_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with rest_client(base_url) as client:
        yield client


@pytest.fixture
def runs() -> RunFactory:
    return RunFactory()


async def put(api: httpx.AsyncClient, state: dict[str, Any], **headers: str) -> httpx.Response:
    return await api.put(f"/api/runs/{state['run']['id']}", json=state, headers=headers)


def error_of(response: httpx.Response) -> str:
    body = response.json()
    assert set(body) == {"error", "code"}
    assert body["error"]
    return str(body["code"])


# --- the four operations ---------------------------------------------------------------------------------


async def test_put_then_get_returns_the_state_with_its_revision_as_etag(
    api: httpx.AsyncClient, runs: RunFactory
) -> None:
    state = runs.new(writes=2)
    saved = await put(api, state)
    assert (saved.status_code, saved.content, saved.headers["etag"]) == (204, b"", '"3"')

    loaded = await api.get(f"/api/runs/{state['run']['id']}")
    assert loaded.status_code == 200
    assert loaded.headers["content-type"] == "application/json"
    assert loaded.headers["etag"] == '"3"'
    assert loaded.json() == state


async def test_list_is_a_bare_array_newest_first(api: httpx.AsyncClient, runs: RunFactory) -> None:
    states = [runs.new(tags=[f"t{i}"]) for i in range(3)]
    for state in states:
        assert (await put(api, state)).status_code == 204
    listed = await api.get("/api/runs")
    assert listed.status_code == 200
    assert link_values(listed) == [DESCRIBED_BY]  # no rel="next": everything fits
    assert listed.json() == [
        {
            "id": s["run"]["id"],
            "workflowId": "jobSearchWorkflow",
            "startedAt": s["run"]["startedAt"],
            "status": "running",
            "tags": s["run"]["tags"],
        }
        for s in reversed(states)
    ]


async def test_pages_follow_the_next_link(api: httpx.AsyncClient, runs: RunFactory) -> None:
    ids = []
    for _ in range(5):
        state = runs.new()
        ids.append(state["run"]["id"])
        await put(api, state)
    seen: list[str] = []
    url: str | None = "/api/runs?limit=2"
    pages = 0
    while url is not None:
        page = await api.get(url)
        pages += 1
        seen += [meta["id"] for meta in page.json()]
        nexts = [v for v in link_values(page) if v.endswith('rel="next"')]
        url = nexts[0].split(">")[0].lstrip("<") if nexts else None
    assert (pages, seen) == (3, list(reversed(ids)))


async def test_delete_removes_and_is_idempotent(api: httpx.AsyncClient, runs: RunFactory) -> None:
    state = runs.new()
    run_id = state["run"]["id"]
    await put(api, state)
    first = await api.delete(f"/api/runs/{run_id}")
    second = await api.delete(f"/api/runs/{run_id}")
    assert (first.status_code, second.status_code) == (204, 204)
    missing = await api.get(f"/api/runs/{run_id}")
    assert missing.status_code == 404
    assert error_of(missing) == "UNKNOWN_RUN"


async def test_put_replaces_a_run_and_keeps_it_usable(api: httpx.AsyncClient, runs: RunFactory) -> None:
    state = runs.new()
    await put(api, state)
    longer = runs.new(writes=3)
    replacement = renamed(longer, state["run"]["id"])
    assert (await put(api, replacement)).status_code == 204
    assert (await api.get(f"/api/runs/{state['run']['id']}")).json() == replacement


# --- optimistic concurrency ------------------------------------------------------------------------------------


async def test_if_match_lets_only_the_writer_that_saw_the_current_revision_win(
    api: httpx.AsyncClient, runs: RunFactory
) -> None:
    state = runs.new()
    run_id = state["run"]["id"]
    await put(api, state)
    etag = (await api.get(f"/api/runs/{run_id}")).headers["etag"]
    newer = renamed(runs.new(writes=1), run_id)

    assert (await put(api, newer, **{"If-Match": etag})).status_code == 204
    stale = await put(api, renamed(runs.new(writes=4), run_id), **{"If-Match": etag})
    assert stale.status_code == 412
    assert error_of(stale) == "REVISION_CONFLICT"
    assert link_values(stale) == [DESCRIBED_BY]
    assert (await api.get(f"/api/runs/{run_id}")).json() == newer


@pytest.mark.parametrize(
    ("if_match", "status"),
    [('"1"', 204), ("*", 204), ('"7", "1"', 204), ('"2"', 412), ('W/"1"', 412), ("garbage", 412)],
)
async def test_if_match_forms(api: httpx.AsyncClient, runs: RunFactory, if_match: str, status: int) -> None:
    state = runs.new()
    await put(api, state)
    assert (await put(api, state, **{"If-Match": if_match})).status_code == status


async def test_if_match_on_a_missing_run_fails(api: httpx.AsyncClient, runs: RunFactory) -> None:
    state = runs.new()
    assert (await put(api, state, **{"If-Match": "*"})).status_code == 412
    assert (await put(api, state, **{"If-Match": '"1"'})).status_code == 412
    assert (await api.get(f"/api/runs/{state['run']['id']}")).status_code == 404


async def test_delete_honours_if_match(api: httpx.AsyncClient, runs: RunFactory) -> None:
    state = runs.new()
    run_id = state["run"]["id"]
    await put(api, state)
    refused = await api.delete(f"/api/runs/{run_id}", headers={"If-Match": '"9"'})
    assert refused.status_code == 412
    assert (await api.get(f"/api/runs/{run_id}")).status_code == 200
    assert (await api.delete(f"/api/runs/{run_id}", headers={"If-Match": '"1"'})).status_code == 204


# --- validation (D17) and run ids -----------------------------------------------------------------------------


def invalid_states(runs: RunFactory) -> dict[str, tuple[Any, str]]:
    good = runs.new()
    step_unknown = {**good, "stepStatus": [*good["stepStatus"], ["ghost", "pending"]]}
    bad_status = {**good, "run": {**good["run"], "status": "paused"}}
    bad_event = {**good, "trace": [{**good["trace"][0], "type": "no_such_event"}]}
    bad_time = {**good, "run": {**good["run"], "startedAt": "2026-02-30T00:00:00Z"}}
    huge_int = {**good, "revision": 2**60}
    return {
        "not an object": ([1, 2], "INVALID_RUN_STATE"),
        "no run": ({"revision": 1}, "INVALID_RUN_STATE"),
        "unknown step": (step_unknown, "INVALID_RUN_STATE"),
        "bad status": (bad_status, "INVALID_RUN_STATE"),
        "bad event type": (bad_event, "INVALID_RUN_STATE"),
        "impossible date": (bad_time, "INVALID_RUN_STATE"),
        "unsafe integer": (huge_int, "UNSAFE_NUMBER"),
    }


@pytest.mark.parametrize(
    "case",
    ["not an object", "no run", "unknown step", "bad status", "bad event type", "impossible date", "unsafe integer"],
)
async def test_invalid_states_are_refused_with_a_code(api: httpx.AsyncClient, runs: RunFactory, case: str) -> None:
    body, code = invalid_states(runs)[case]
    response = await api.put("/api/runs/run_x", content=json.dumps(body))
    assert response.status_code == 400
    assert error_of(response) == code
    assert (await api.get("/api/runs")).json() == []


@pytest.mark.parametrize(
    ("text", "code"),
    [(b"{", "INVALID_JSON"), (b'{"run": NaN}', "INVALID_JSON"), (b"\xff\xfe", "INVALID_JSON"), (b"", "INVALID_JSON")],
)
async def test_bodies_that_are_not_json(api: httpx.AsyncClient, text: bytes, code: str) -> None:
    response = await api.put("/api/runs/run_x", content=text)
    assert response.status_code == 400
    assert error_of(response) == code


async def test_url_and_body_run_ids_must_agree(api: httpx.AsyncClient, runs: RunFactory) -> None:
    state = runs.new()
    response = await api.put("/api/runs/run_other", json=state)
    assert response.status_code == 400
    assert error_of(response) == "INVALID_RUN_STATE"


@pytest.mark.parametrize("run_id", ["notarun", "run_", "run_a.b", "run_" + "x" * 125, "run_%20x", "run_%C3%A9"])
async def test_malformed_run_ids_are_400_everywhere(api: httpx.AsyncClient, run_id: str) -> None:
    for method in ("GET", "PUT", "DELETE"):
        response = await api.request(method, f"/api/runs/{run_id}", json={})
        assert response.status_code == 400, method
        assert response.json() == {"error": "Invalid run id", "code": "INVALID_INPUT"}


async def test_a_string_with_a_lone_surrogate_survives_the_round_trip(api: httpx.AsyncClient, runs: RunFactory) -> None:
    state = runs.new()
    state["run"]["tags"] = ["\ud800 lone", "ok ✓"]
    text = json.dumps(state, ensure_ascii=True)  # JSON text may carry any UTF-16 code unit as an escape
    assert (await api.put(f"/api/runs/{state['run']['id']}", content=text)).status_code == 204
    loaded = await api.get(f"/api/runs/{state['run']['id']}")
    assert loaded.status_code == 200
    assert json.loads(loaded.content)["run"]["tags"] == ["\ud800 lone", "ok ✓"]


# --- the 25 MiB limit, counted in bytes while the body streams ---------------------------------------------------


async def test_a_declared_oversized_body_is_refused_before_it_is_read(base_url: str) -> None:
    # A raw request: the 413 arrives while the client has sent nothing but headers.
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        (
            "PUT /api/runs/run_big HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {token('alice')}\r\nContent-Length: {25 * MIB + 1}\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=30)
    length = int(next(line for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")).split()[1])
    body = await reader.readexactly(length)
    writer.close()
    assert head.startswith(b"HTTP/1.1 413 ")
    assert json.loads(body)["code"] == "LIMIT_EXCEEDED"


async def test_a_streamed_body_is_cut_off_at_the_limit(api: httpx.AsyncClient) -> None:
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:
        nonlocal sent
        block = b" " * MIB  # whitespace: valid JSON padding, so only the size can be the problem
        for _ in range(40):
            sent += len(block)
            yield block

    try:
        response = await api.put("/api/runs/run_big", content=chunks())
    except httpx.HTTPError:  # the server may close the connection before the client finished sending
        pytest.fail("the server should answer 413 while the client is still sending")
    assert response.status_code == 413
    assert error_of(response) == "LIMIT_EXCEEDED"


async def test_a_body_just_under_the_limit_is_parsed(api: httpx.AsyncClient, runs: RunFactory) -> None:
    state = runs.new()
    text = json.dumps(state)
    padded = text + " " * (25 * MIB - len(text))  # exactly 25 MiB: allowed
    response = await api.put(f"/api/runs/{state['run']['id']}", content=padded)
    assert response.status_code == 204


# --- headers and errors on every response --------------------------------------------------------------------------


async def test_every_response_carries_the_describedby_link(base_url: str, api: httpx.AsyncClient) -> None:
    async with httpx.AsyncClient(base_url=base_url) as anonymous:
        unauthorized = await anonymous.get("/api/runs")
    responses = {
        "401": unauthorized,
        "200": await api.get("/api/runs"),
        "404": await api.get("/api/runs/run_missing"),
        "204": await api.delete("/api/runs/run_missing"),
        "400": await api.get("/api/runs/nope"),
        "405": await api.post("/api/runs"),
    }
    for status, response in responses.items():
        assert str(response.status_code) == status
        assert DESCRIBED_BY in link_values(response), status
    assert error_of(unauthorized) == "UNAUTHORIZED"
    assert responses["405"].headers["allow"] == "GET"


async def test_a_bad_cursor_is_an_input_error(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/runs?cursor=not-a-cursor")
    assert response.status_code == 400
    assert error_of(response) == "INVALID_INPUT"


@pytest.mark.parametrize(
    ("raw", "limit"),
    [
        (None, None),
        ("", None),
        ("abc", None),
        ("1e999", None),
        ("2.9", 2),
        (" 0x3 ", 3),
        ("-4", -4),
        ("\u0661\u0662", None),
    ],
)
def test_list_limit_follows_the_deployment(raw: str | None, limit: int | None) -> None:
    assert list_limit(raw) == limit


async def test_limit_is_clamped_and_lenient(api: httpx.AsyncClient, runs: RunFactory) -> None:
    for _ in range(3):
        await put(api, runs.new())
    counts = {}
    for raw in ("0", "-5", "abc", "2.7", "0x2", "1e0"):
        counts[raw] = len((await api.get("/api/runs", params={"limit": raw})).json())
    assert counts == {"0": 1, "-5": 1, "abc": 3, "2.7": 2, "0x2": 2, "1e0": 1}
