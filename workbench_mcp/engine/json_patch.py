"""RFC 6902 JSON Patch applied exactly as fast-json-patch 3.1.1 applies it (docs/protocol.md 3.4, 6.7).

The reference runs `applyPatch(structuredClone(data ?? {}), patch, true, false)` and turns any thrown
error into `PATCH_FAILED` with the error's `message`. This module is a port of that call
(`applyPatch`, `applyOperation`, `validator`, `getValueByPointer`, `_areEquals` in
`commonjs/core.js`), the CommonJS build the runtime loads, which runs in *sloppy* mode. Because the
library reads properties JavaScript-style (`obj[key] === undefined`), the port carries a small model
of JavaScript property access on JSON values (`_read`): inherited members such as `{}.toString` or
`[].length` exist, writes to primitives are silently ignored, reads from `null` throw.

Outcomes are identical to the reference (differentially tested against the real library in
`tests/interop/test_json_patch_interop.py`), including these quirks:

- Root path `""`: `add`/`replace` swap the document, `remove` makes it `None`, `test` compares the
  whole document, `move`/`copy` replace it with the `from` value (which is never validated).
- Array indices: any all-digit segment is an index, so `01` means 1 and the empty segment means 0;
  it goes through JavaScript `~~` (ToInt32), so `4294967297` means 1 and `4294967295` means -1,
  which `splice` counts from the end. `-` is the length. Only `add` rejects an index > length;
  `copy`/`move` to such an index append. Non-digit segments on arrays are
  `OPERATION_PATH_ILLEGAL_ARRAY_INDEX`.
- Existence is `obj[key] !== undefined`: a key holding `null` exists; so do inherited members, so
  `remove` of a missing `toString` succeeds without change and `replace` of it creates it; on
  arrays `length` exists, so `copy` from `/arr/length` copies the length and `move` from it (or
  from `/arr/<method>`) moves the first element (`splice(NaN, 1)`).
- `add` needs an existing parent, `replace`/`remove` an existing target, `move`/`copy` a `from`
  whose lookup does not fail with `OPERATION_PATH_UNRESOLVABLE`. Every other failure of that lookup
  is ignored, so a `from` without a leading `/` is accepted: its first segment is skipped, and a
  `from` without any `/` names the property `"undefined"`. `copy` of a missing value adds `null`.
- `move` removes first, then adds through the changed document: moving a value into its own child
  is a `TypeError`, and an add whose parent turned into a primitive silently drops the value.
- `__proto__` anywhere, or `prototype` right after `constructor`, is a `TypeError`.
- A primitive document accepts `add`/`replace`/`remove` of single-segment paths and ignores them;
  `test` reads characters and `length` of strings.
- `test` is `_areEquals`: numbers compare as doubles (`1 == 1.0`, `2**53 + 1 == 2**53`), `True`
  differs from `1`, key order is irrelevant, and an object value with its own `hasOwnProperty`
  member throws `b.hasOwnProperty is not a function`.

Deliberate deviations, raised as `PatchError` with `reference_differs=True` (the reference would put
non-JSON values into the document or loop it into itself):

- an `op` that is not one of the six strings but that the library still finds in its operation
  table (`_get`, `Object.prototype` member names, arrays such as `["add"]`): `OPERATION_OP_INVALID`;
- `move`/`copy` whose source is an inherited member (a function in JavaScript), a root `move`/
  `copy` whose source is missing (the document would become `undefined`), and a `move` whose
  removed value is `undefined`: `OPERATION_FROM_UNRESOLVABLE`;
- `move` from `""` into a container document (a cycle): `OPERATION_MOVE_INTO_ITSELF`;
- a `move`/`copy` add that lands on a non-index property of an array (`arr.length = v` or a hidden
  property): `OPERATION_PATH_ILLEGAL_ARRAY_INDEX`; a walk through an inherited method:
  `OPERATION_PATH_UNRESOLVABLE`.

Numbers are kept as given (an int stays an int, even beyond 2**53 where JavaScript rounds); only
comparisons and index conversions use JavaScript doubles. The caller's document and operations are
never mutated: both are copied first. The reference, however, inserts each operation's own `value`
object, so later operations of the same patch mutate the patch it then records in its event
(`[add /x {"y": []}, add /x/y/- 1]` is recorded with `"value": {"y": [1]}`); `patchArtifact`
records the patch as the caller sent it instead (D28).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

from workbench_mcp.errors import WorkbenchError
from workbench_mcp.protocol.canonical_json import js_number, pretty_json
from workbench_mcp.protocol.js import array_index, object_keys, to_number

# ---------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------


class _Absent:
    """Marks an argument the JavaScript error formatter leaves out (it skips `undefined`)."""


_ABSENT: Final = _Absent()


class PatchError(ValueError):
    """A patch the reference rejects; `str(error)` is the JavaScript `error.message`.

    `name` is the `JsonPatchError` name (`TEST_OPERATION_FAILED`, ...) or `TypeError`; `index` is the
    index the library reports (0 for every check made by its `validator`). `reference_differs` marks
    the deliberate deviations listed in the module docstring, where the reference does not fail.
    """

    def __init__(
        self,
        text: str,
        *,
        name: str,
        index: int | None = None,
        operation: Any = _ABSENT,
        tree: Any = _ABSENT,
        reference_differs: bool = False,
    ) -> None:
        super().__init__(text)
        self.name = name
        self.index = index
        self.reference_differs = reference_differs
        self._text = text
        self._operation = operation
        self._tree = tree
        self._message: str | None = None

    @property
    def message(self) -> str:
        # Rendered lazily: the lookup of a `from` path raises and swallows errors, and the tree is
        # the whole document. Nothing mutates the document once an error propagates.
        if self._message is None:
            self._message = self._render()
        return self._message

    def _render(self) -> str:
        if self.name == "TypeError":
            return self._text
        # `patchErrorMessageFormatter`: one `key: value` line per defined argument.
        parts = [self._text, f"name: {self.name}"]
        if self.index is not None:
            parts.append(f"index: {self.index}")
        if not isinstance(self._operation, _Absent):
            parts.append(f"operation: {_js_text(self._operation)}")
        if not isinstance(self._tree, _Absent):
            parts.append(f"tree: {_js_text(self._tree)}")
        return "\n".join(parts)

    def __str__(self) -> str:
        return self.message


def _type_error(text: str) -> PatchError:
    return PatchError(text, name="TypeError")


_BANNED: Final = (
    "JSON-Patch: modifying `__proto__` or `constructor/prototype` prop is banned for security reasons, "
    "if this was on purpose, please set `banPrototypeModifications` flag false and pass it to this "
    "function. More info in fast-json-patch README"
)
_NOT_AN_OBJECT: Final = "Operation is not an object"
_OP_INVALID: Final = "Operation `op` property is not one of operations defined in RFC-6902"
_PATH_NOT_STRING: Final = "Operation `path` property is not a string"
_PATH_NO_SLASH: Final = 'Operation `path` property must start with "/"'
_FROM_REQUIRED: Final = "Operation `from` property is not present (applicable in `move` and `copy` operations)"
_VALUE_REQUIRED: Final = (
    "Operation `value` property is not present (applicable in `add`, `replace` and `test` operations)"
)
_CANNOT_ADD: Final = "Cannot perform an `add` operation at the desired path"
_TARGET_MISSING: Final = "Cannot perform the operation at a path that does not exist"
_FROM_MISSING: Final = "Cannot perform the operation from a path that does not exist"
_PARENT_MISSING: Final = "Cannot perform operation at the desired path"
_ILLEGAL_INDEX: Final = (
    "Expected an unsigned base-10 integer value, making the new referenced value the array element with the "
    "zero-based index"
)
_OUT_OF_BOUNDS: Final = "The specified index MUST NOT be greater than the number of elements in the array"
_TEST_FAILED: Final = "Test operation failed"


# ---------------------------------------------------------------------------------------------
# A model of JavaScript values and property reads
# ---------------------------------------------------------------------------------------------


class _JsOnly:
    """A JavaScript value without a JSON form that a property read can still produce."""

    __slots__ = ("_label",)

    def __init__(self, label: str) -> None:
        self._label = label

    def __repr__(self) -> str:
        return self._label


_UNDEFINED: Final = _JsOnly("undefined")
_METHOD: Final = _JsOnly("function")  # an inherited member such as `{}.toString`


# Inherited property names under Node 20 (Object.getOwnPropertyNames of each prototype). `__proto__`
# is left out: the library bans it before any read. `length` is an own property of arrays/strings.
def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


_OBJECT_MEMBERS: Final = _names(
    "constructor __defineGetter__ __defineSetter__ hasOwnProperty __lookupGetter__ __lookupSetter__ "
    "isPrototypeOf propertyIsEnumerable toString valueOf toLocaleString"
)
_ARRAY_MEMBERS: Final = _OBJECT_MEMBERS | _names(
    "at concat copyWithin fill find findIndex findLast findLastIndex lastIndexOf pop push reverse shift "
    "unshift slice sort splice includes indexOf join keys entries values forEach filter flat flatMap map "
    "every some reduce reduceRight toReversed toSorted toSpliced with"
)
_STRING_MEMBERS: Final = _OBJECT_MEMBERS | _names(
    "anchor at big blink bold charAt charCodeAt codePointAt concat endsWith fontcolor fontsize fixed "
    "includes indexOf isWellFormed italics lastIndexOf link localeCompare match matchAll normalize padEnd "
    "padStart repeat replace replaceAll search slice small split strike sub substr substring sup "
    "startsWith toWellFormed trim trimStart trimLeft trimEnd trimRight toLocaleLowerCase "
    "toLocaleUpperCase toLowerCase toUpperCase"
)
_NUMBER_MEMBERS: Final = _OBJECT_MEMBERS | _names("toExponential toFixed toPrecision")
_BOOLEAN_MEMBERS: Final = _OBJECT_MEMBERS

_OPS: Final = frozenset({"add", "remove", "replace", "move", "copy", "test"})


def _prop(key: str | int | None) -> str:
    """The property name JavaScript uses for `obj[key]` (`undefined` when a pointer has no `/`)."""
    return "undefined" if key is None else str(key)


def _is_digits(key: str) -> bool:
    # helpers.isInteger: every char is 0-9; the empty string qualifies.
    return key == "" or (key.isascii() and key.isdigit())


def _utf16(text: str) -> bytes:
    return text.encode("utf-16-le", "surrogatepass")


def _read(obj: Any, key: str | int | None) -> Any:
    """`obj[key]` in JavaScript; raises the `TypeError` JavaScript raises for `null`/`undefined`."""
    if obj is None or obj is _UNDEFINED:
        raise _type_error(f"Cannot read properties of {_js_text(obj)} (reading '{_prop(key)}')")
    if obj is _METHOD:
        raise _through_method()
    if isinstance(obj, list) and isinstance(key, int):
        return obj[key] if 0 <= key < len(obj) else _UNDEFINED
    name = _prop(key)
    if isinstance(obj, dict):
        if name in obj:
            return obj[name]
        return _METHOD if name in _OBJECT_MEMBERS else _UNDEFINED
    if isinstance(obj, list):
        return _read_sequence(len(obj), name, _ARRAY_MEMBERS, obj.__getitem__)
    if isinstance(obj, str):
        units = _utf16(obj)
        return _read_sequence(len(units) // 2, name, _STRING_MEMBERS, lambda i: _utf16_unit(units, i))
    if isinstance(obj, bool):
        return _METHOD if name in _BOOLEAN_MEMBERS else _UNDEFINED
    return _METHOD if name in _NUMBER_MEMBERS else _UNDEFINED


def _read_sequence(length: int, name: str, members: frozenset[str], item: Any) -> Any:
    # Arrays and strings: own indices and `length`, then the prototype chain.
    index = array_index(name)
    if index is not None:
        return item(index) if index < length else _UNDEFINED
    if name == "length":
        return length
    return _METHOD if name in members else _UNDEFINED


def _utf16_unit(units: bytes, index: int) -> str:
    return units[2 * index : 2 * index + 2].decode("utf-16-le", "surrogatepass")


def _write(obj: Any, key: str | int | None, value: Any) -> None:
    """`obj[key] = value` on a non-array in sloppy mode: primitives ignore it silently."""
    if obj is None or obj is _UNDEFINED:
        raise _type_error(f"Cannot set properties of {_js_text(obj)} (setting '{_prop(key)}')")
    if obj is _METHOD:
        raise _through_method()
    if isinstance(obj, dict):
        obj[_prop(key)] = value


def _delete(obj: Any, key: str | int | None) -> Any:
    """`removed = obj[key]; delete obj[key]` on a non-array; deleting a missing key changes nothing."""
    removed = _read(obj, key)
    if isinstance(obj, dict):
        obj.pop(_prop(key), None)
    return removed


def _int32(digits: str) -> int:
    """`~~digits`: ToNumber (correctly rounded, like float()), then ToInt32."""
    number = float(digits) if digits else 0.0
    if math.isinf(number):
        return 0
    wrapped = int(number) & 0xFFFFFFFF
    return wrapped - 2**32 if wrapped >= 2**31 else wrapped


def _splice_start(length: int, key: str | int) -> int:
    """Where `arr.splice(key, ...)` starts: ToIntegerOrInfinity, then clamped; negative counts back."""
    start = float(key) if isinstance(key, int) else to_number(key)
    start = 0.0 if math.isnan(start) else (math.trunc(start) if math.isfinite(start) else start)
    if start < 0:
        return int(max(length + start, 0))
    return int(min(start, length))


# ---------------------------------------------------------------------------------------------
# Copies
# ---------------------------------------------------------------------------------------------


def _copy(value: Any) -> Any:
    """A fresh copy of a JSON value, so nothing of the caller's is ever shared or mutated."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(item) for item in value]
    return value


def _json_roundtrip(value: Any) -> Any:
    """`_deepClone`: `JSON.parse(JSON.stringify(value))` for objects, primitives unchanged."""
    if isinstance(value, dict | list | tuple):
        return _normalized(value)
    return value


def _normalized(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _normalized(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_normalized(item) for item in value]
    if isinstance(value, float):
        if not math.isfinite(value):
            return None  # JSON.stringify writes null
        if value == 0.0:
            return 0.0  # -0 is written as 0
    return value


# ---------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------


def apply_patch(document: Any, ops: Sequence[Mapping[str, Any]]) -> Any:
    """Return the patched copy of `document`, or raise `PatchError` and leave everything untouched.

    Same as `applyPatch(structuredClone(document), ops, true, false).newDocument` in the reference:
    operations apply in order to the evolving document; any failure discards all of them.
    """
    # Private working operations: each `value` is copied once, then inserted by reference exactly as
    # the library does, so the caller's operations are never changed by later ones.
    current = _json_roundtrip(document)
    for index, op in enumerate(_working_op(op) for op in ops):
        current = _apply_operation(current, op, index)
    return current


def _working_op(op: Any) -> Any:
    if not isinstance(op, Mapping):
        return op  # rejected by the first check
    work = dict(op)
    if "value" in work:
        work["value"] = _copy(work["value"])
    return work


def _apply_operation(document: Any, op: Any, index: int, *, probe: bool = False) -> Any:
    """`applyOperation(document, op, true, true, true, index)`; returns the new document.

    `probe` admits the library's internal `_get` op, used to check that a `from` path exists.
    """
    _check_shape(op, probe=probe)
    if op["path"] == "":
        return _apply_at_root(document, op, index)
    return _walk_and_apply(document, op, index)


def _check_shape(op: Any, *, probe: bool = False) -> None:
    """`validator(operation, 0)` without a document: the operation's own members."""
    if not isinstance(op, Mapping):
        raise PatchError(_NOT_AN_OBJECT, name="OPERATION_NOT_AN_OBJECT", index=0, operation=op)
    name = op.get("op")
    if not (isinstance(name, str) and (name in _OPS or (probe and name == "_get"))):
        raise PatchError(
            _OP_INVALID, name="OPERATION_OP_INVALID", index=0, operation=op, reference_differs=_in_op_table(name)
        )
    path = op.get("path")
    if not isinstance(path, str):
        raise PatchError(_PATH_NOT_STRING, name="OPERATION_PATH_INVALID", index=0, operation=op)
    if path and not path.startswith("/"):
        raise PatchError(_PATH_NO_SLASH, name="OPERATION_PATH_INVALID", index=0, operation=op)
    if name in ("move", "copy") and not isinstance(op.get("from"), str):
        raise PatchError(_FROM_REQUIRED, name="OPERATION_FROM_REQUIRED", index=0, operation=op)
    if name in ("add", "replace", "test") and "value" not in op:
        raise PatchError(_VALUE_REQUIRED, name="OPERATION_VALUE_REQUIRED", index=0, operation=op)


def _in_op_table(name: Any) -> bool:
    """Whether `objOps[name]` is truthy in JavaScript although `name` is not one of the six ops.

    The library then runs `_get` (a no-op), an `Object.prototype` method, or coerces an array such as
    `["add"]` to its op. We reject all of these; the reference does not.
    """
    if isinstance(name, list) and len(name) == 1:
        # String(["add"]) is "add"; other element types never spell an op name.
        inner = name[0]
        return (isinstance(inner, str) and inner in _OPS) or _in_op_table(inner)
    return isinstance(name, str) and (name == "_get" or name == "__proto__" or name in _OBJECT_MEMBERS)


# ---------------------------------------------------------------------------------------------
# Root operations
# ---------------------------------------------------------------------------------------------


def _apply_at_root(document: Any, op: Mapping[str, Any], index: int) -> Any:
    name = op["op"]
    if name in ("add", "replace"):
        return op["value"]  # by reference, like the library (a private copy: see apply_patch)
    if name == "remove":
        return None
    if name == "test":
        if not _are_equal(document, op["value"]):
            raise PatchError(_TEST_FAILED, name="TEST_OPERATION_FAILED", index=index, operation=op, tree=document)
        return document
    if name in ("move", "copy"):
        # The source is looked up without validation; the document becomes that value itself.
        value = _get_unvalidated(document, op["from"])
        if isinstance(value, _JsOnly):  # the reference's document would become undefined/a function
            raise _deviation(_FROM_MISSING, "OPERATION_FROM_UNRESOLVABLE", index, op, document)
        return value
    return document  # `_get`


# ---------------------------------------------------------------------------------------------
# The validating walk
# ---------------------------------------------------------------------------------------------


def _unescape(key: str) -> str:
    return key.replace("~1", "/").replace("~0", "~") if "~" in key else key


def _check_ban(key: str | None, previous: str | None) -> None:
    # `previous` is the raw (still escaped) segment before `key`, as the library compares it.
    if key == "__proto__" or (key == "prototype" and previous == "constructor"):
        raise _type_error(_BANNED)


def _walk_and_apply(document: Any, op: Mapping[str, Any], index: int) -> Any:
    """The `while (true)` loop of `applyOperation` with validation on."""
    path: str = op["path"]
    keys = path.split("/")
    last = len(keys) - 1
    obj = document
    existing: str | None = None  # existingPathFragment: the longest prefix known to exist
    for t in range(1, last + 1):
        key = _unescape(keys[t])
        _check_ban(key, keys[t - 1])
        if existing is None:
            if _read(obj, key) is _UNDEFINED:
                existing = "/".join(keys[:t])
            elif t == last:
                existing = path
            if existing is not None:
                _check_against_document(document, op, existing)
        if isinstance(obj, list):
            position = _array_position(obj, key, op, index, document)
            if t == last:
                if op["op"] == "add" and position > len(obj):
                    raise PatchError(
                        _OUT_OF_BOUNDS, name="OPERATION_VALUE_OUT_OF_BOUNDS", index=index, operation=op, tree=document
                    )
                return _apply_to_array(document, obj, position, op, index)
            obj = _read(obj, position)
        else:
            if t == last:
                return _apply_to_object(document, obj, key, op, index)
            obj = _read(obj, key)
        if not isinstance(obj, dict | list):
            raise PatchError(
                _PARENT_MISSING, name="OPERATION_PATH_UNRESOLVABLE", index=index, operation=op, tree=document
            )
    raise AssertionError("unreachable: a non-empty path starting with / has a last segment")


def _array_position(arr: list[Any], key: str, op: Mapping[str, Any], index: int, document: Any) -> int:
    if key == "-":
        return len(arr)
    if not _is_digits(key):
        raise PatchError(
            _ILLEGAL_INDEX, name="OPERATION_PATH_ILLEGAL_ARRAY_INDEX", index=index, operation=op, tree=document
        )
    return _int32(key)


def _check_against_document(document: Any, op: Mapping[str, Any], existing: str) -> None:
    """`validator(operation, 0, document, existingPathFragment)`: the checks that need the document."""
    if not _js_truthy(document):
        return  # `else if (document)`: a falsy document (0, "", false) skips them all
    name = op["op"]
    if name == "add":
        wanted, known = op["path"].count("/"), existing.count("/")
        if wanted not in (known, known + 1):
            raise PatchError(_CANNOT_ADD, name="OPERATION_PATH_CANNOT_ADD", index=0, operation=op, tree=document)
    elif name in ("replace", "remove", "_get"):
        if op["path"] != existing:
            raise PatchError(_TARGET_MISSING, name="OPERATION_PATH_UNRESOLVABLE", index=0, operation=op, tree=document)
    elif name in ("move", "copy") and not _source_exists(document, op["from"]):
        raise PatchError(_FROM_MISSING, name="OPERATION_FROM_UNRESOLVABLE", index=0, operation=op, tree=document)


def _source_exists(document: Any, pointer: str) -> bool:
    """`validate([{op: "_get", path: from}], document)` as the validator uses it.

    Only `OPERATION_PATH_UNRESOLVABLE` counts as missing; every other `JsonPatchError` (a `from`
    without a leading `/`, a non-index array segment) is ignored. A `TypeError` propagates.
    """
    try:
        _apply_operation(document, {"op": "_get", "path": pointer}, 0, probe=True)
    except PatchError as error:
        if error.name == "TypeError" or error.reference_differs:
            raise
        return error.name != "OPERATION_PATH_UNRESOLVABLE"
    return True


def _apply_to_array(document: Any, arr: list[Any], position: int, op: Mapping[str, Any], index: int) -> Any:
    """`arrOps[op]` after validation: `position` is an int (or the length, for `-`)."""
    name = op["op"]
    if name == "add":
        arr.insert(_splice_start(len(arr), position), op["value"])
    elif name == "remove":
        start = _splice_start(len(arr), position)
        if start < len(arr):
            del arr[start]
    elif name == "replace":
        arr[position] = op["value"]  # the target exists, so the index is in range
    elif name == "test":
        _check_test(document, _read(arr, position), op, index)
    elif name == "move":
        _move(document, op, index)
    elif name == "copy":
        _copy_op(document, op, index)
    return document


def _apply_to_object(document: Any, obj: Any, key: str, op: Mapping[str, Any], index: int) -> Any:
    """`objOps[op]` after validation: `obj` is an object, or the document itself when primitive."""
    name = op["op"]
    if name in ("add", "replace"):
        _write(obj, key, op["value"])
    elif name == "remove":
        _delete(obj, key)
    elif name == "test":
        _check_test(document, _read(obj, key), op, index)
    elif name == "move":
        _move(document, op, index)
    elif name == "copy":
        _copy_op(document, op, index)
    return document


def _check_test(document: Any, actual: Any, op: Mapping[str, Any], index: int) -> None:
    if not _are_equal(actual, op["value"]):
        raise PatchError(_TEST_FAILED, name="TEST_OPERATION_FAILED", index=index, operation=op, tree=document)


# ---------------------------------------------------------------------------------------------
# move and copy: the library re-runs `remove`/`add`/`_get` WITHOUT validation
# ---------------------------------------------------------------------------------------------


def _move(document: Any, op: Mapping[str, Any], index: int) -> None:
    source: str = op["from"]
    if source == "":
        # A root `remove` reports the whole document and leaves it in place: the add would nest
        # the document inside itself. A primitive document just ignores the add.
        if isinstance(document, dict | list):
            raise _deviation("Cannot move a value into itself", "OPERATION_MOVE_INTO_ITSELF", index, op, document)
        value = document
    else:
        container, key = _locate(document, source)
        value = _take(container, key)
        if isinstance(value, _JsOnly):  # an inherited method, or `undefined` (e.g. `length` of [])
            raise _deviation(_FROM_MISSING, "OPERATION_FROM_UNRESOLVABLE", index, op, document)
    _put(document, op["path"], value, op, index)


def _copy_op(document: Any, op: Mapping[str, Any], index: int) -> None:
    value = _get_unvalidated(document, op["from"])
    if value is _METHOD:
        raise _deviation(_FROM_MISSING, "OPERATION_FROM_UNRESOLVABLE", index, op, document)
    # `_deepClone(undefined)` is null: copying a missing value adds null.
    _put(document, op["path"], None if value is _UNDEFINED else _json_roundtrip(value), op, index)


def _locate(document: Any, pointer: str) -> tuple[Any, str | int | None]:
    """Walk to the last segment without validation: (container, key as the library uses it).

    Segment 0 is skipped whatever it holds, so `x/a` means `/a`; a pointer without `/` has no
    segment 1 and reads property `"undefined"`.
    """
    keys = pointer.split("/")
    obj = document
    t = 1
    while True:
        segment = _unescape(keys[t]) if t < len(keys) else None
        _check_ban(segment, keys[t - 1])
        t += 1
        key = _unvalidated_position(obj, segment) if isinstance(obj, list) else segment
        if t >= len(keys):
            return obj, key
        obj = _read(obj, key)


def _unvalidated_position(arr: list[Any], key: str | None) -> str | int:
    if key == "-":
        return len(arr)
    if key is None:  # helpers.isInteger(undefined) reads undefined.length
        raise _type_error("Cannot read properties of undefined (reading 'length')")
    if _is_digits(key):
        return _int32(key)
    return key  # a non-index property such as `length`


def _get_unvalidated(document: Any, pointer: str) -> Any:
    """`getValueByPointer`: `""` is the document; anything else is read without validation."""
    if pointer == "":
        return document
    container, key = _locate(document, pointer)
    return _read(container, key)


def _take(container: Any, key: str | int | None) -> Any:
    """Unvalidated `remove`: arrays `splice(key, 1)` (a non-index key counts as 0), others delete."""
    if isinstance(container, list):
        start = _splice_start(len(container), _prop(key) if key is None else key)
        return container.pop(start) if start < len(container) else _UNDEFINED
    return _delete(container, key)


def _put(document: Any, pointer: str, value: Any, op: Mapping[str, Any], index: int) -> None:
    """Unvalidated `add` at a non-root pointer (no bounds check: a large index appends)."""
    container, key = _locate(document, pointer)
    if isinstance(container, list):
        if not isinstance(key, int):
            # `arr[key] = value` would set `length` or a property JSON never shows.
            raise _deviation(_ILLEGAL_INDEX, "OPERATION_PATH_ILLEGAL_ARRAY_INDEX", index, op, document)
        container.insert(_splice_start(len(container), key), value)
    else:
        _write(container, key, value)


def _through_method() -> PatchError:
    # Reading or writing properties of an inherited function would touch shared built-ins.
    return PatchError(_PARENT_MISSING, name="OPERATION_PATH_UNRESOLVABLE", reference_differs=True)


def _deviation(text: str, name: str, index: int, op: Mapping[str, Any], document: Any) -> PatchError:
    return PatchError(text, name=name, index=index, operation=op, tree=document, reference_differs=True)


# ---------------------------------------------------------------------------------------------
# `_areEquals` (fast-deep-equal) with JavaScript primitives
# ---------------------------------------------------------------------------------------------


def _are_equal(a: Any, b: Any) -> bool:
    """`_areEquals(a, b)`; `a` comes from the document, `b` is the operation's value.

    The traversal order is the library's (last element / last key first), because an own
    `hasOwnProperty` member in `b` throws only if the comparison gets that far.
    """
    if _strict_equal(a, b):
        return True
    if isinstance(a, dict | list) and isinstance(b, dict | list):
        if isinstance(a, list) and isinstance(b, list):
            return len(a) == len(b) and all(_are_equal(a[i], b[i]) for i in reversed(range(len(a))))
        if isinstance(a, list) or isinstance(b, list):
            return False
        keys = object_keys(a)
        if len(keys) != len(b):
            return False
        if keys and "hasOwnProperty" in b:
            raise _type_error("b.hasOwnProperty is not a function")
        if any(key not in b for key in keys):
            return False
        return all(_are_equal(a[key], b[key]) for key in reversed(keys))
    return _is_nan(a) and _is_nan(b)


def _strict_equal(a: Any, b: Any) -> bool:
    """`a === b` for JSON values: numbers as doubles, booleans never equal to numbers."""
    if a is b:
        return True
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_number(a) and _is_number(b):
        return _double(a) == _double(b)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def _double(value: int | float) -> float:
    try:
        return float(value)
    except OverflowError:  # an integer beyond the double range parses to Infinity in JavaScript
        return math.copysign(math.inf, value)


def _js_truthy(value: Any) -> bool:
    if value is None or value is _UNDEFINED:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0 and not _is_nan(value)
    if isinstance(value, str):
        return value != ""
    return True  # objects, arrays (even empty ones) and functions


# ---------------------------------------------------------------------------------------------
# Error message rendering (`JSON.stringify(v, null, 2)` for objects, `String(v)` otherwise)
# ---------------------------------------------------------------------------------------------


def _js_text(value: Any) -> str:
    if value is _UNDEFINED:
        return "undefined"
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if _is_number(value):
        number = _double(value)
        if not math.isfinite(number):
            return "NaN" if math.isnan(number) else ("Infinity" if number > 0 else "-Infinity")
        return js_number(number)
    try:
        return pretty_json(_as_js_json(value))
    except WorkbenchError:  # not JSON at all; only reachable with non-JSON input
        return json.dumps(value, indent=2, default=str)


def _as_js_json(value: Any) -> Any:
    """The JSON text JavaScript would print: numbers as doubles, non-finite ones as null."""
    if isinstance(value, Mapping):
        return {key: _as_js_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_as_js_json(item) for item in value]
    if _is_number(value):
        number = _double(value)
        return number if math.isfinite(number) else None
    return value
