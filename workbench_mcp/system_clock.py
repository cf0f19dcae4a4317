"""The production Clock: wall time, random UUIDs."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime


class SystemClock:
    def now_iso(self) -> str:
        return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def new_uuid(self) -> str:
        return str(uuid.uuid4())

    def monotonic_ms(self) -> float:
        # Spans begin and end in different requests, possibly in different worker processes, so
        # the shared wall clock is the only "monotonic" time they have in common.
        return time.time() * 1000.0
