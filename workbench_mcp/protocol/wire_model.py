"""Base classes and field types shared by every protocol model.

Python code uses snake_case; the wire uses the reference's camelCase. Absent optional members
use pydantic's MISSING sentinel, so "absent" and `null` stay distinct exactly as in JavaScript
(an artifact with `"data": null` hashes differently from one without `data`).
"""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, Strict
from pydantic.alias_generators import to_camel

from workbench_mcp.protocol.canonical_json import check_json_value

MAX_SAFE_INTEGER = 2**53 - 1


class WireModel(BaseModel):
    """Unknown members are dropped, like the reference's (non-strict) zod objects."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        frozen=True,
        extra="ignore",
    )


class StrictWireModel(WireModel):
    """Unknown members are an error (JSON Patch ops, usage, cost, RunSubjectRef)."""

    model_config = ConfigDict(extra="forbid")


def _js_integer(value: Any) -> int:
    # JavaScript has one number type: 1.0 is the integer 1, "1" and true are not numbers.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    if isinstance(value, float) and (not math.isfinite(value) or not value.is_integer()):
        raise ValueError("must be an integer")
    integer = int(value)
    if abs(integer) > MAX_SAFE_INTEGER:
        raise ValueError("must be a safe integer (|n| <= 2^53-1)")
    return integer


def _js_number(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    if isinstance(value, int) and abs(value) > MAX_SAFE_INTEGER:
        raise ValueError("must be a safe integer (|n| <= 2^53-1)")
    return value


JsInt = Annotated[int, BeforeValidator(_js_integer), Strict(False)]
NonNegativeInt = Annotated[JsInt, Field(ge=0)]
PositiveInt = Annotated[JsInt, Field(ge=1)]
JsNumber = Annotated[float | int, BeforeValidator(_js_number)]
NonNegativeNumber = Annotated[JsNumber, Field(ge=0)]

Str = Annotated[str, Strict()]
NonEmptyStr = Annotated[str, Strict(), Field(min_length=1)]
Bool = Annotated[bool, Strict()]


def _checked_json(value: Any) -> Any:
    check_json_value(value)
    return value


JsonAny = Annotated[Any, AfterValidator(_checked_json)]
"""A free-form JSON value (`data`, `payload`, `args`, ...): any JSON, numbers JavaScript-safe."""

V = TypeVar("V")


def without_proto_key(record: dict[str, V]) -> dict[str, V]:
    # zod's z.record rebuilds the object by assignment, so the reference silently drops a
    # `__proto__` member of records (metadata, span attributes, checkpoints); hashes must agree.
    if "__proto__" not in record:
        return record
    return {key: value for key, value in record.items() if key != "__proto__"}


JsonRecord = Annotated[dict[str, JsonAny], AfterValidator(without_proto_key)]
"""A zod `z.record(z.string(), ...)` of free-form values."""

_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[+-](\d{2}):(\d{2}))",
)


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
        return 29 if leap else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _check_datetime(value: str) -> str:
    # The reference accepts exactly zod's `datetime({offset: true})`; the text is kept verbatim.
    match = _DATETIME.fullmatch(value)
    if match is None:
        raise ValueError("must be an ISO 8601 datetime like 2026-01-05T10:00:00.000Z")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    offset_hour, offset_minute = match.group(7), match.group(8)
    if not 1 <= month <= 12 or not 1 <= day <= _days_in_month(year, month):
        raise ValueError("names a date that does not exist")
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError("has an out-of-range time")
    if offset_hour is not None and (int(offset_hour) > 23 or int(offset_minute) > 59):
        raise ValueError("has an out-of-range UTC offset")
    return value


Timestamp = Annotated[str, Strict(), AfterValidator(_check_datetime)]
