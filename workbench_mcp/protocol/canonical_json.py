"""JSON exactly as the JavaScript reference writes it, and a strict parser (docs/protocol.md 1.4, 3.3, 5.5).

Four writers share one value model and one rendering of primitives (JavaScript `JSON.stringify`):

- `canonical_json`: the bundle canonical JSON hashed for `integrity.sha256` (`stableStringify`);
- `artifact_canonical_json`: the artifact payload encoding hashed for `payloadHash` (array-index
  keys first, and a `__proto__` member dropped, see `_artifact_keys`);
- `compact_json` / `pretty_json`: `JSON.stringify(v)` / `JSON.stringify(v, null, 2)` with the
  member order a JavaScript object would have (array-index keys first, then insertion order).

Accepted values: `None`, `bool`, `int`, `float`, `str`, `list`/`tuple` (arrays), `dict` with `str`
keys (objects); subclasses of these (e.g. `StrEnum`) render as their base type. Tuples are accepted
because Python code naturally builds pairs such as engine map entries as tuples; they render as
arrays, exactly like `json.dumps`.

Numbers: JavaScript holds every number as a double, so integers are rendered through `float()`.
Instead of silently rounding, integers beyond +-(2^53-1) and non-finite floats are rejected with
`UNSAFE_NUMBER` (the reference would print a rounded integer, or `null` for non-finite values).

Unlike the reference (defect D1) an object reached twice is fine; only real cycles are refused.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
from collections.abc import Callable
from json.encoder import encode_basestring
from typing import Final, TypeAlias

import orjson

from workbench_mcp.errors import ErrorCode, WorkbenchError
from workbench_mcp.protocol.js import array_index, may_reorder, object_keys

JsonValue: TypeAlias = bool | int | float | str | list["JsonValue"] | dict[str, "JsonValue"] | None

MAX_SAFE_INTEGER: Final = 2**53 - 1
_TWO_53: Final = 2.0**53
_MAX_SAFE_DIGITS: Final = 16  # len(str(2**53 - 1)); any shorter integer literal is safe

_SURROGATE_UNIT = re.compile("[\ud800-\udbff][\udc00-\udfff]|[\ud800-\udfff]")
# Code-point order equals UTF-16 order unless a key holds a character at or above U+D800.
_BEYOND_UTF16_SAFE = re.compile("[\ud800-\U0010ffff]")


class _SlowPath(Exception):
    """The C-accelerated writer cannot render this value byte-identically; use the exact writer."""


class _Unencodable(Exception):
    """The exact writer met something that is not JSON; check_json_value explains where."""


def _unsafe(message: str) -> WorkbenchError:
    return WorkbenchError(ErrorCode.UNSAFE_NUMBER, message)


# ---------------------------------------------------------------------------------------------
# Primitives
# ---------------------------------------------------------------------------------------------


def js_number(x: int | float) -> str:
    """Render a number as JavaScript `JSON.stringify` does (docs/protocol.md 5.5).

    Integers are treated as the double they become in JavaScript. Integers outside +-(2^53-1) and
    NaN/Infinity raise `UNSAFE_NUMBER` rather than being rounded or turned into `null`.
    """
    if isinstance(x, bool):
        raise WorkbenchError(ErrorCode.INVALID_INPUT, "a boolean is not a number")
    if isinstance(x, int):
        if -MAX_SAFE_INTEGER <= x <= MAX_SAFE_INTEGER:
            return int.__repr__(x)  # int.__repr__ so IntEnum members print their value
        raise _unsafe(f"integer {x} is outside the JavaScript safe range +-(2^53-1)")
    if isinstance(x, float):
        return _js_float(float(x))
    raise WorkbenchError(ErrorCode.INVALID_INPUT, f"{type(x).__name__} is not a number")


def _js_float(x: float) -> str:
    if not math.isfinite(x):
        raise _unsafe(f"non-finite number {x!r} cannot be written as JSON")
    if x == 0.0:
        return "0"  # also -0.0
    if x.is_integer() and -_TWO_53 < x < _TWO_53:
        # Below 2^53 every integer is a distinct double, so its exact digits are the shortest.
        return int.__repr__(int(x))
    sign, digits, point = _shortest_digits(x)
    return sign + _place_point(digits, point)


def _shortest_digits(x: float) -> tuple[str, str, int]:
    """Return (sign, d, n) with |x| = 0.d * 10**n and d the shortest round-trip digits (no zeros at the ends)."""
    text = float.__repr__(x)
    sign = ""
    if text[0] == "-":
        sign, text = "-", text[1:]
    mantissa, _, exponent = text.partition("e")
    whole, _, fraction = mantissa.partition(".")
    all_digits = whole + fraction
    significant = all_digits.lstrip("0")
    leading_zeros = len(all_digits) - len(significant)
    point = len(whole) + (int(exponent) if exponent else 0) - leading_zeros
    return sign, significant.rstrip("0"), point


def _place_point(d: str, n: int) -> str:
    # ECMAScript Number::toString, steps for radix 10.
    k = len(d)
    if k <= n <= 21:
        return d + "0" * (n - k)
    if 0 < n <= 21:
        return d[:n] + "." + d[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + d
    e = n - 1
    return d[0] + ("." + d[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))


def js_string(s: str) -> str:
    """Render a string as JavaScript `JSON.stringify` does.

    `"`, `\\`, `\\b \\f \\n \\r \\t` and other C0 controls (`\\u00XX`, lowercase hex) are escaped;
    non-ASCII, DEL, U+2028/U+2029 and `/` are not. Lone surrogates become `\\udXXX`. Two adjacent
    surrogate code points form one character, because a JavaScript string is UTF-16.
    """
    out = encode_basestring(s)
    if out.isascii():
        return out
    return _escape_surrogates(out)


def _escape_surrogates(text: str) -> str:
    try:
        text.encode("utf-8")  # fails exactly on surrogates, and beats a regex scan by 2-3x
    except UnicodeEncodeError:
        return _SURROGATE_UNIT.sub(_surrogate_replacement, text)
    return text


def _surrogate_replacement(match: re.Match[str]) -> str:
    unit = match.group()
    if len(unit) == 2:
        high, low = ord(unit[0]), ord(unit[1])
        return chr(0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00))
    return f"\\u{ord(unit):04x}"


# ---------------------------------------------------------------------------------------------
# Member order
# ---------------------------------------------------------------------------------------------


def _utf16_key(key: str) -> bytes:
    return key.encode("utf-16-be", "surrogatepass")


def _utf16_sorted(keys: list[str]) -> list[str]:
    keys.sort()
    joined = "".join(keys)
    if not joined.isascii() and _BEYOND_UTF16_SAFE.search(joined):
        keys.sort(key=_utf16_key)
    return keys


def _canonical_keys(obj: dict[str, object]) -> list[str]:
    return _utf16_sorted(list(obj))


def _artifact_keys(obj: dict[str, object]) -> list[str]:
    # The reference sorts, then rebuilds a plain object: array-index keys move to the front, and
    # `out["__proto__"] = x` hits the prototype setter instead of creating a member, so that
    # member disappears from the encoding (verified against runtime 0.3.3).
    keys = _utf16_sorted([k for k in obj if k != "__proto__"])
    indices = [k for k in keys if array_index(k) is not None]
    if not indices:
        return keys
    indices.sort(key=int)
    index_set = set(indices)
    return indices + [k for k in keys if k not in index_set]


# ---------------------------------------------------------------------------------------------
# Exact writers (pure Python; every value, every key order)
# ---------------------------------------------------------------------------------------------

_KeyOrder: TypeAlias = Callable[[dict[str, object]], list[str]]


def _scalar(v: object) -> str:
    if isinstance(v, str):
        return js_string(v)
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, int | float):
        return js_number(v)
    raise _Unencodable


def _exact_compact(v: object, order: _KeyOrder) -> str:
    if isinstance(v, dict):
        return "{" + ",".join([js_string(k) + ":" + _exact_compact(v[k], order) for k in order(v)]) + "}"
    if isinstance(v, list | tuple):
        return "[" + ",".join([_exact_compact(x, order) for x in v]) + "]"
    return _scalar(v)


def _exact_pretty(v: object, indent: str) -> str:
    if isinstance(v, dict):
        if not v:
            return "{}"
        inner = indent + "  "
        members = [inner + js_string(k) + ": " + _exact_pretty(v[k], inner) for k in object_keys(v)]
        return "{\n" + ",\n".join(members) + "\n" + indent + "}"
    if isinstance(v, list | tuple):
        if not v:
            return "[]"
        inner = indent + "  "
        return "[\n" + ",\n".join([inner + _exact_pretty(x, inner) for x in v]) + "\n" + indent + "]"
    return _scalar(v)


def _run_exact(value: object, write: Callable[[object], str]) -> str:
    try:
        return write(value)
    except (_Unencodable, TypeError, WorkbenchError, RecursionError) as exc:
        # The writers stay lean; on failure one checking walk names the offending path.
        check_json_value(value)
        if isinstance(exc, WorkbenchError):
            raise
        if isinstance(exc, RecursionError):
            raise WorkbenchError(ErrorCode.LIMIT_EXCEEDED, "JSON value is nested too deeply") from None
        raise WorkbenchError(ErrorCode.INVALID_INPUT, f"value cannot be written as JSON: {exc!r}") from exc


# ---------------------------------------------------------------------------------------------
# Fast writer: orjson (Rust) on a value whose every part it renders like JavaScript
# ---------------------------------------------------------------------------------------------
# orjson writes what JSON.stringify writes for str/int/bool/None, arrays and objects: the same
# escapes (short forms, lowercase \u00XX, nothing else escaped), the same two-space layout for
# OPT_INDENT_2, and the shortest round-trip digits for floats in [1e-4, 2^53) (checked against
# _js_float on 300,000 random doubles; the interop tests compare with Node). What it would render
# differently is fixed by the _Preparer walk first; what it refuses (lone surrogates, str
# subclasses as keys, nesting deeper than 255) falls back to the exact writers. Measured on an
# 88 KB bundle: pretty 2.3 ms -> 0.5 ms, compact 1.0 ms -> 0.5 ms.

_ORJSON_OPTIONS: Final = {"sorted": orjson.OPT_SORT_KEYS, "ordered": 0, "pretty": orjson.OPT_INDENT_2}


class _Preparer:
    """Walk a value once and make it safe for orjson.

    What orjson would render differently from JavaScript is rewritten (integral floats become
    ints) or replaced by a per-call random placeholder string that is swapped for the JavaScript
    text afterwards (tiny or huge floats). Objects whose member order orjson cannot produce
    (array-index keys, which JavaScript moves first; keys orjson would sort differently from
    UTF-16) raise `_SlowPath`, or are rebuilt in JavaScript order.
    """

    def __init__(self, sort_keys: bool) -> None:
        self.sort_keys = sort_keys
        self.token = ""  # drawn at the first special number: most values have none (saves ~1 us a call)
        self.specials: list[str] = []

    def number(self, x: float) -> object:
        if x.is_integer():  # False for NaN and infinities
            if -_TWO_53 < x < _TWO_53:
                return int(x)
            if x >= 1e21 or x <= -1e21:
                return x  # Python's repr ("1e+21", "1.5e+300") already matches
        elif x - x == 0.0 and (x >= 1e-4 or x <= -1e-4):
            return x  # fixed notation in both languages, same shortest digits
        self.specials.append(_js_float(x))  # raises UNSAFE_NUMBER for NaN/inf (no path yet)
        if not self.token:
            self.token = secrets.token_hex(12)
        return f"\x00{self.token}{len(self.specials) - 1}\x00"

    def walk(self, v: object) -> object:
        t = type(v)
        if t is dict:
            return self.visit_object(v)  # type: ignore[arg-type]
        if t is list or t is tuple:
            return self.visit_array(v)  # type: ignore[arg-type]
        if t is str or t is bool or v is None:
            return v
        if t is int:
            if -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:  # type: ignore[operator]
                return v
            raise _SlowPath
        if t is float:
            return self.number(v)  # type: ignore[arg-type]
        raise _SlowPath  # subclasses, foreign types: the exact writer decides

    def visit_object(self, obj: dict[str, object]) -> dict[str, object]:
        copy: dict[str, object] | None = None
        for k, x in obj.items():
            tx = type(x)
            if tx is str or tx is bool or x is None:
                continue
            if tx is int and -MAX_SAFE_INTEGER <= x <= MAX_SAFE_INTEGER:  # type: ignore[operator]
                continue
            y = self.number(x) if tx is float else self.walk(x)  # type: ignore[arg-type]
            if y is not x:
                if copy is None:
                    copy = dict(obj)
                copy[k] = y
        return self.ordered(obj if copy is None else copy)

    def ordered(self, obj: dict[str, object]) -> dict[str, object]:
        try:
            joined = "\x00".join(obj)
        except TypeError:
            raise _SlowPath from None  # a non-str key
        if self.sort_keys:
            if not joined.isascii() and _BEYOND_UTF16_SAFE.search(joined):
                raise _SlowPath
            return obj
        if not may_reorder(joined):
            return obj
        keys = object_keys(obj)
        return obj if keys == list(obj) else {k: obj[k] for k in keys}

    def visit_array(self, arr: list[object] | tuple[object, ...]) -> list[object] | tuple[object, ...]:
        copy: list[object] | None = None
        for i, x in enumerate(arr):
            tx = type(x)
            if tx is str or tx is bool or x is None:
                continue
            if tx is int and -MAX_SAFE_INTEGER <= x <= MAX_SAFE_INTEGER:  # type: ignore[operator]
                continue
            y = self.number(x) if tx is float else self.walk(x)  # type: ignore[arg-type]
            if y is not x:
                if copy is None:
                    copy = list(arr)
                copy[i] = y
        return arr if copy is None else copy

    def finish(self, text: str) -> str:
        if self.specials:
            placeholder = re.compile('"\\\\u0000' + self.token + '([0-9]+)\\\\u0000"')
            text = placeholder.sub(lambda m: self.specials[int(m.group(1))], text)
        if text.isascii():
            return text
        return _escape_surrogates(text)


def _fast(value: object, layout: str) -> str:
    preparer = _Preparer(sort_keys=layout == "sorted")
    try:
        prepared = preparer.walk(value)
        text = orjson.dumps(prepared, option=_ORJSON_OPTIONS[layout]).decode("utf-8")
    except (WorkbenchError, RecursionError, TypeError):  # orjson.JSONEncodeError is a TypeError
        raise _SlowPath from None
    return preparer.finish(text)


def _fast_or_exact(value: object, layout: str, exact: Callable[[object], str]) -> str:
    try:
        return _fast(value, layout)
    except _SlowPath:
        return _run_exact(value, exact)


# ---------------------------------------------------------------------------------------------
# Public writers
# ---------------------------------------------------------------------------------------------


def canonical_json(value: object) -> str:
    """Bundle canonical JSON (`stableStringify`): members sorted by UTF-16 code units, no whitespace."""
    return _fast_or_exact(value, "sorted", lambda v: _exact_compact(v, _canonical_keys))


def artifact_canonical_json(value: object) -> str:
    """Artifact payload encoding (`encodeArtifactPayloadBytes`, docs/protocol.md 3.3) as text.

    Array-index keys come first in numeric order, then the other keys sorted by UTF-16 code
    units; a `__proto__` member is dropped, as the reference's object rebuild drops it.
    """
    return _run_exact(value, lambda v: _exact_compact(v, _artifact_keys))


def compact_json(value: object) -> str:
    """`JSON.stringify(value)`: JavaScript member order, JavaScript rendering."""
    return _fast_or_exact(value, "ordered", lambda v: _exact_compact(v, object_keys))


def pretty_json(value: object) -> str:
    """`JSON.stringify(value, null, 2)`: two-space indent, `": "`, JavaScript member order."""
    return _fast_or_exact(value, "pretty", lambda v: _exact_pretty(v, ""))


def sha256_hex(text: str) -> str:
    """Lowercase hex SHA-256 of the UTF-8 bytes of `text` (as `crypto.subtle` over `TextEncoder`).

    Canonical texts escape lone surrogates, so they always encode; a raw surrogate means the
    text was not produced by these writers, and TextEncoder would have replaced it, so refuse.
    """
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise WorkbenchError(ErrorCode.INVALID_INPUT, "text to hash contains a lone surrogate") from None
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------
# Strict parser
# ---------------------------------------------------------------------------------------------


def _parse_int(literal: str) -> int | float:
    if len(literal) < _MAX_SAFE_DIGITS:
        return int(literal)
    # float() first: int() of a 5000-digit literal would hit Python's digit limit.
    number = float(literal)
    if abs(number) <= MAX_SAFE_INTEGER:
        return int(number)
    if math.isfinite(number) and _js_float(number) == literal:
        # JavaScript prints this double back as exactly this literal (e.g. 2**53, 1e20, or the
        # reference's own rendering of 2**60), so nothing observable changes; keep it a float.
        return number
    raise _unsafe(f"integer {_abbreviate(literal)} would be rounded to a double (safe range +-(2^53-1))")


def _parse_float(literal: str) -> float:
    number = float(literal)
    if number - number != 0.0:
        raise _unsafe(f"number {_abbreviate(literal)} overflows a double")
    return number


def _parse_constant(literal: str) -> object:
    raise WorkbenchError(ErrorCode.INVALID_JSON, f"Invalid JSON: {literal} is not a JSON value", reason=literal)


def _abbreviate(literal: str) -> str:
    return literal if len(literal) <= 40 else literal[:20] + "..." + literal[-8:]


_DECODER: Final = json.JSONDecoder(parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)


def parse_json(text: str | bytes) -> JsonValue:
    """Parse untrusted JSON text like `JSON.parse`, refusing what JavaScript would silently change.

    Invalid JSON, `NaN`/`Infinity` literals and (for bytes) invalid UTF-8 raise `INVALID_JSON`
    with the reason also in `details["reason"]`; nesting too deep for Python raises `LIMIT_EXCEEDED`.
    Duplicate keys: the last value wins, at the position of the first (as in JavaScript).

    `UNSAFE_NUMBER`: numbers that overflow a double (`1e400`) and integer literals beyond
    +-(2^53-1) that a double would round (`9007199254740993`). An integer literal beyond that range
    which JavaScript prints back unchanged (`9007199254740992`, `100000000000000000000`, i.e. every
    integer the reference itself writes) is accepted and returned as a float, so our own and the
    reference's canonical texts always parse; integers within the range come back as `int`.
    """
    if isinstance(text, bytes | bytearray):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _invalid_json(f"input is not valid UTF-8 ({exc.reason} at byte {exc.start})") from None
    try:
        value: JsonValue = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise _invalid_json(str(exc)) from None
    except RecursionError:
        raise WorkbenchError(ErrorCode.LIMIT_EXCEEDED, "JSON input is nested too deeply") from None
    return value


def _invalid_json(reason: str) -> WorkbenchError:
    return WorkbenchError(ErrorCode.INVALID_JSON, f"Invalid JSON: {reason}", reason=reason)


# ---------------------------------------------------------------------------------------------
# Checking already-parsed values
# ---------------------------------------------------------------------------------------------


class _Invalid(Exception):
    def __init__(self, code: ErrorCode, problem: str) -> None:
        super().__init__(problem)
        self.code = code
        self.problem = problem
        self.segments: list[str] = []  # innermost first, collected while unwinding


def check_json_value(value: object, path: str = "") -> None:
    """Raise unless `value` is a JSON value every writer here renders exactly.

    `UNSAFE_NUMBER`: an integer beyond +-(2^53-1) or a NaN/infinite float. `INVALID_INPUT`: a
    non-JSON type (bytes, sets, objects, ...), a non-str key, or a cycle. `LIMIT_EXCEEDED`: nesting
    too deep to walk. Messages name the location in the reference's style, after `path`:
    `.key` for members, `[i]` for elements, `(root)` for the value itself.
    """
    try:
        _check(value, set())
    except _Invalid as exc:
        location = path + "".join(reversed(exc.segments))
        raise WorkbenchError(exc.code, f"{exc.problem} at {location or '(root)'}") from None
    except RecursionError:
        raise WorkbenchError(
            ErrorCode.LIMIT_EXCEEDED, f"JSON value at {path or '(root)'} is nested too deeply"
        ) from None


def _check(v: object, active: set[int]) -> None:
    if isinstance(v, dict):
        _enter(v, active)
        _check_members(v, active)
        active.discard(id(v))
    elif isinstance(v, list | tuple):
        _enter(v, active)
        _check_elements(v, active)
        active.discard(id(v))
    else:
        _check_scalar(v)


def _enter(container: object, active: set[int]) -> None:
    # Only the containers on the current path count: a shared (non-cyclic) reference is fine.
    marker = id(container)
    if marker in active:
        raise _Invalid(ErrorCode.INVALID_INPUT, "cyclic structure")
    active.add(marker)


def _is_plain_leaf(v: object) -> bool:
    # Exact-type tests first: they settle almost every member without a call to _check.
    t = type(v)
    if t is str or t is bool or v is None:
        return True
    if t is int:
        return -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER  # type: ignore[operator]
    return t is float and v - v == 0.0  # type: ignore[operator]


def _check_scalar(v: object) -> None:
    if v is None or isinstance(v, str | bool):
        return
    if isinstance(v, int):
        if not -MAX_SAFE_INTEGER <= v <= MAX_SAFE_INTEGER:
            raise _Invalid(ErrorCode.UNSAFE_NUMBER, f"integer {v} is outside the JavaScript safe range +-(2^53-1)")
    elif isinstance(v, float):
        if not math.isfinite(v):
            raise _Invalid(ErrorCode.UNSAFE_NUMBER, f"non-finite number {v!r} is not JSON")
    else:
        raise _Invalid(ErrorCode.INVALID_INPUT, f"{type(v).__name__} is not a JSON value")


def _check_members(obj: dict[object, object], active: set[int]) -> None:
    for key, member in obj.items():
        if not isinstance(key, str):
            raise _Invalid(ErrorCode.INVALID_INPUT, f"object key {key!r} is not a string")
        if _is_plain_leaf(member):
            continue
        try:
            _check(member, active)
        except _Invalid as exc:
            exc.segments.append(f".{key}")
            raise


def _check_elements(arr: list[object] | tuple[object, ...], active: set[int]) -> None:
    for index, element in enumerate(arr):
        if _is_plain_leaf(element):
            continue
        try:
            _check(element, active)
        except _Invalid as exc:
            exc.segments.append(f"[{index}]")
            raise
