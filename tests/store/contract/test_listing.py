"""list_runs: newest first, opaque cursors, clamped limits, SavedRunMeta items."""

from __future__ import annotations

import pytest

from tests.clocks import CountingClock
from tests.store.backends import StoreBackend
from tests.store.conftest import ALICE, TENANT, create, mutate, new_run
from workbench_mcp.engine.lifecycle import complete_run
from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.store.run_store import RunStore


async def test_list_runs_pages_newest_first_with_an_opaque_cursor(store: RunStore, clock: CountingClock) -> None:
    created = [await create(store, clock) for _ in range(7)]

    pages: list[list[str]] = []
    cursor = None
    while True:
        page = await store.list_runs(TENANT, limit=3, cursor=cursor)
        pages.append([item["id"] for item in page.items])
        cursor = page.next_cursor
        if cursor is None:
            break

    assert pages == [created[::-1][0:3], created[::-1][3:6], created[::-1][6:7]]


async def test_list_runs_returns_saved_run_meta(store: RunStore, clock: CountingClock) -> None:
    tagged = await create(store, clock, tags=["a", "b"])
    plain = await create(store, clock)
    await mutate(store, clock, plain, complete_run)
    state = await store.load_state(TENANT, plain)

    items = (await store.list_runs(TENANT)).items

    assert items == [
        {
            "id": plain,
            "workflowId": "jobSearchWorkflow",
            "startedAt": state.run.started_at,
            "endedAt": state.run.ended_at,
            "status": "completed",
        },
        {
            "id": tagged,
            "workflowId": "jobSearchWorkflow",
            "startedAt": (await store.load_state(TENANT, tagged)).run.started_at,
            "status": "running",
            "tags": ["a", "b"],
        },
    ]


async def test_list_runs_orders_by_time_not_by_text(store: RunStore, clock: CountingClock) -> None:
    """10:00+02:00 is 08:00Z, earlier than 09:00Z although it sorts later as text."""
    starts = {
        "run_a": "2026-01-05T09:00:00.000Z",
        "run_b": "2026-01-05T10:00:00+02:00",
        "run_c": "2026-01-05T09:00:00.5Z",
    }
    for run_id, started_at in starts.items():
        state, events = new_run(clock)
        run = state.run.model_copy(update={"id": run_id, "started_at": started_at})
        await store.replace_run(TENANT, state.evolve(run=run), [e | {"runId": run_id} for e in events], ALICE)

    assert [item["id"] for item in (await store.list_runs(TENANT)).items] == ["run_c", "run_a", "run_b"]


@pytest.mark.parametrize(("asked", "served"), [(0, 1), (-5, 1), (2, 2), (10_000, 500)])
async def test_list_runs_clamps_the_limit(store: RunStore, backend: StoreBackend, asked: int, served: int) -> None:
    await _bulk_runs(store, backend, 501)
    page = await store.list_runs(TENANT, limit=asked)
    assert len(page.items) == served
    assert page.next_cursor is not None


async def test_list_runs_default_page_is_100(store: RunStore, backend: StoreBackend) -> None:
    await _bulk_runs(store, backend, 150)
    assert len((await store.list_runs(TENANT)).items) == 100


async def _bulk_runs(store: RunStore, backend: StoreBackend, count: int) -> None:
    run_id = await create(store, CountingClock())
    backend.copy_run(TENANT, run_id, count - 1)  # fast, and the listing only reads the run rows


async def test_a_bad_cursor_is_invalid_input(store: RunStore) -> None:
    for cursor in ("not base64!", "W10", "WzEsMl0", "e30"):
        with pytest.raises(WorkbenchError) as caught:
            await store.list_runs(TENANT, cursor=cursor)
        assert caught.value.code is ErrorCode.INVALID_INPUT
