"""Time and identity, handed to the engine so that it never reads the clock or draws randomness itself.

The engine calls these in exactly the order the reference runtime calls `new Date()`,
`crypto.randomUUID()` and `performance.now()`, so a deterministic clock reproduces the
reference's ids and timestamps operation for operation.
"""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    def now_iso(self) -> str:
        """UTC `YYYY-MM-DDTHH:MM:SS.mmmZ`, milliseconds truncated."""
        ...

    def new_uuid(self) -> str:
        """A lowercase UUID v4 string."""
        ...

    def monotonic_ms(self) -> float:
        """Milliseconds on a clock that only moves forward; used for span durations."""
        ...


def new_id(clock: Clock, prefix: str) -> str:
    return f"{prefix}_{clock.new_uuid()}"
