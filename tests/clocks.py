"""A deterministic Clock that mirrors the patched Node reference (tests/interop/reference_runner.mjs)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

START = datetime(2026, 1, 1, tzinfo=UTC)


class CountingClock:
    """The first now_iso() is 2026-01-01T00:00:00.000Z, each next one 1 ms later; uuids count up from 1;
    monotonic_ms() advances 1.5 ms per read."""

    def __init__(self) -> None:
        self.ticks = 0
        self.uuids = 0
        self.mono = 0.0

    def now_iso(self) -> str:
        moment = START + timedelta(milliseconds=self.ticks)
        self.ticks += 1
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def new_uuid(self) -> str:
        self.uuids += 1
        return f"00000000-0000-4000-8000-{self.uuids:012x}"

    def monotonic_ms(self) -> float:
        self.mono += 1.5
        return self.mono
