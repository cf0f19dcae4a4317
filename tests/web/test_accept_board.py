"""The board on which the workers of `serve --workers N` count their connections."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench_mcp.web.accept_board import AcceptBoard, accept_board

REPO = Path(__file__).resolve().parents[2]

HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from workbench_mcp.web.accept_board import AcceptBoard
    board = AcceptBoard.join(Path(sys.argv[1]))
    board.hold(int(sys.argv[2]))
    print(board.slot, flush=True)
    time.sleep(60)
    """
)

JOIN_ONLY = "import sys; from pathlib import Path; from workbench_mcp.web.accept_board import AcceptBoard; " + (
    "print(AcceptBoard.join(Path(sys.argv[1])))"
)


@pytest.fixture
def board_path() -> Iterator[Path]:
    with accept_board(workers=2) as path:
        assert path is not None
        yield path
    assert not path.exists()


def _worker(board: Path, connections: int) -> tuple[subprocess.Popen[str], int]:
    """Another worker process: it claims a slot, holds `connections`, and keeps the slot until killed."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(board), str(connections)], stdout=subprocess.PIPE, text=True, cwd=REPO
    )
    assert process.stdout is not None
    return process, int(process.stdout.readline())


def _stop(process: subprocess.Popen[str]) -> None:
    """SIGKILL: the worker gets no chance to leave its slot, as after a crash."""
    with process:
        process.kill()


def test_each_worker_reads_the_fewest_connections_held_by_another(board_path: Path) -> None:
    first, second, third = (AcceptBoard.at(board_path, slot) for slot in range(3))
    assert first.fewest_elsewhere() == 0
    first.hold(5)
    second.hold(2)
    third.hold(7)
    assert (first.fewest_elsewhere(), second.fewest_elsewhere(), third.fewest_elsewhere()) == (2, 5, 2)
    second.leave()
    assert first.fewest_elsewhere() == 7
    third.leave()
    assert first.fewest_elsewhere() is None  # alone: nobody to leave a connection to
    first.leave()


def test_workers_in_different_processes_claim_different_slots(board_path: Path) -> None:
    other, other_slot = _worker(board_path, connections=3)
    try:
        mine = AcceptBoard.join(board_path)
        assert mine is not None
        assert mine.slot != other_slot
        assert mine.fewest_elsewhere() == 3
    finally:
        _stop(other)
    mine.leave()


def test_a_killed_worker_is_not_waited_for_and_its_slot_is_reused(board_path: Path) -> None:
    killed, killed_slot = _worker(board_path, connections=0)
    _stop(killed)  # its pid stays on the board
    mine = AcceptBoard.at(board_path, slot=(killed_slot + 1) % 4)
    assert mine.fewest_elsewhere() is None
    successor, successor_slot = _worker(board_path, connections=1)
    try:
        assert successor_slot == killed_slot  # the kernel dropped the dead worker's claim
        assert mine.fewest_elsewhere() == 1
    finally:
        _stop(successor)
    mine.leave()


def test_a_full_board_is_refused(board_path: Path) -> None:
    workers = [_worker(board_path, connections=0) for _ in range(4)]  # two workers' board: four slots
    try:
        assert sorted(slot for _, slot in workers) == [0, 1, 2, 3]
        late = subprocess.run(
            [sys.executable, "-c", JOIN_ONLY, str(board_path)], capture_output=True, text=True, cwd=REPO, check=True
        )
        assert late.stdout.strip() == "None"
    finally:
        for process, _ in workers:
            _stop(process)


def test_a_slot_off_the_board_is_refused(board_path: Path) -> None:
    with pytest.raises(ValueError, match="not on a board of 4"):
        AcceptBoard.at(board_path, slot=4)


def test_without_a_usable_temporary_directory_there_is_no_board(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The workers then serve unbalanced rather than not at all (a read-only container, say)."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    with accept_board(workers=2) as path:
        assert path is None
    assert "connections are not balanced" in caplog.text
