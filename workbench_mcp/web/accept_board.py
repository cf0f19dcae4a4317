"""How many connections each worker of `serve --workers N` holds, on a small file every worker maps.

A worker about to accept a connection reads it to learn whether another worker holds fewer; see
`balanced_accept`. The supervisor creates the file before it starts the workers and names it in
`ACCEPT_BOARD_ENV`; each worker claims a slot of its own with a lock it holds for its lifetime, so a
worker that dies frees its slot for the one that replaces it. Only a slot's owner writes it, one aligned
8-byte word at a time, so a reader never needs a lock.
"""

from __future__ import annotations

import logging
import mmap
import os
import struct
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ACCEPT_BOARD_ENV = "WORKBENCH_ACCEPT_BOARD"

logger = logging.getLogger("workbench_mcp")

_SLOT = struct.Struct("=qq")
"""A slot: the owner's pid (0 when free or left) and the connections it holds."""


@contextmanager
def accept_board(workers: int) -> Iterator[Path | None]:
    """A new board in a private temporary directory, removed afterwards (the supervisor's part); None where
    there can be none (no POSIX record locks, as on Windows, or no writable temporary directory): the workers
    then accept the way the event loop does, unbalanced.

    Twice as many slots as workers: a worker being replaced may still hold its slot while its successor starts."""
    if os.name != "posix":
        yield None
        return
    try:
        directory = tempfile.TemporaryDirectory(prefix="workbench-accept-")
        path = Path(directory.name) / "board"
        path.write_bytes(bytes(_SLOT.size * 2 * workers))
    except OSError as exc:
        logger.warning("no accept board (%s): connections are not balanced over the workers", exc)
        yield None
        return
    with directory:
        yield path


class AcceptBoard:
    """One worker's view of the board: its own slot to write, everyone's to read."""

    def __init__(self, fd: int, slot: int) -> None:
        """The board open at `fd`, writing at `slot`: use `join` (or `at`), which say how the slot was chosen."""
        self._fd = fd
        self._map = mmap.mmap(fd, 0)
        self._slots = len(self._map) // _SLOT.size
        if not 0 <= slot < self._slots:
            self._map.close()
            raise ValueError(f"slot {slot} is not on a board of {self._slots}")
        self.slot = slot
        self._pid = os.getpid()
        _SLOT.pack_into(self._map, slot * _SLOT.size, self._pid, 0)

    @classmethod
    def join(cls, path: Path) -> AcceptBoard | None:
        """Claim the first slot no living worker holds; None when every slot is held.

        The claim is a POSIX record lock on the slot's bytes, which the kernel drops when the process ends. Such
        locks belong to the process, so two boards of one process never exclude each other: see `at`."""
        import fcntl  # POSIX only, as `accept_board` makes sure

        fd = os.open(path, os.O_RDWR)
        slots = os.fstat(fd).st_size // _SLOT.size
        for slot in range(slots):
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, _SLOT.size, slot * _SLOT.size)
            except OSError:
                continue
            return cls(fd, slot)
        os.close(fd)
        return None

    @classmethod
    def at(cls, path: Path, slot: int) -> AcceptBoard:
        """Write at `slot` without claiming it: several workers' boards in one process (tests)."""
        return cls(os.open(path, os.O_RDWR), slot)

    def hold(self, connections: int) -> None:
        """Publish how many connections this worker holds now."""
        _SLOT.pack_into(self._map, self.slot * _SLOT.size, self._pid, connections)

    def fewest_elsewhere(self) -> int | None:
        """The fewest connections any other living worker holds; None when there is no other."""
        fewest: int | None = None
        for slot in range(self._slots):
            if slot == self.slot:
                continue
            pid, connections = _SLOT.unpack_from(self._map, slot * _SLOT.size)
            if pid and (fewest is None or connections < fewest) and _alive(pid):
                fewest = connections
        return fewest

    def leave(self) -> None:
        """Free the slot (a worker shutting down takes no more connections, so nobody should wait for it)."""
        if self._map.closed:
            return
        _SLOT.pack_into(self._map, self.slot * _SLOT.size, 0, 0)
        self._map.close()
        os.close(self._fd)


def _alive(pid: int) -> bool:
    """A worker killed before it could `leave` keeps its pid on the board until its replacement claims the slot."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
