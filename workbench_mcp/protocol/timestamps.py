"""Protocol datetimes (docs/protocol.md 1.3) as instants: `Date.parse` semantics without `datetime`.

`datetime` cannot hold year 0000 and rejects more than six fraction digits, both of which the
protocol accepts, so the arithmetic is done by hand.
"""

from __future__ import annotations

import re

from workbench_mcp.errors import ErrorCode, WorkbenchError

_TIMESTAMP = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:Z|([+-])(\d{2}):(\d{2}))")


def epoch_micros(timestamp: str) -> int:
    """UTC microseconds since 1970 of a schema-valid timestamp (offsets applied, extra digits truncated)."""
    match = _TIMESTAMP.fullmatch(timestamp)
    if match is None:
        raise WorkbenchError(ErrorCode.INVALID_INPUT, f"not a protocol datetime: {timestamp!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    seconds = _days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second
    if match.group(8) is not None:
        offset = int(match.group(9)) * 3_600 + int(match.group(10)) * 60
        seconds -= offset if match.group(8) == "+" else -offset
    fraction = (match.group(7) or "")[:6].ljust(6, "0")
    return seconds * 1_000_000 + int(fraction)


def _days_from_civil(year: int, month: int, day: int) -> int:
    # Howard Hinnant's algorithm: days since 1970-01-01 in the proleptic Gregorian calendar.
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468
