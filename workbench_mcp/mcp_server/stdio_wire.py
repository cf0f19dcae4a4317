"""The stdio wire: the SDK's `stdio_server`, except that a lone surrogate neither silences nor kills it.

A run may hold lone surrogates in string values (valid JSON, stored as given; README "JSON inputs").
The SDK's stdio transport parses each line with pydantic, which refuses a `\\ud800` escape (the
request then gets no reply at all), and writes each reply with pydantic, which raises on one (the
writer task dies and takes the server with it). Here a line pydantic refuses is parsed again with
the standard library, as the SDK's HTTP path for 2026-07-28 does, and a reply pydantic cannot
write goes out with `\\u` escapes, as JSON.stringify writes it. Everything else is the SDK's
behaviour: one JSON-RPC message per line, UTF-8, and while serving fd 0 reads the null device and
fd 1 writes to stderr, so stray output of handlers or children cannot corrupt the wire.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from io import TextIOWrapper
from typing import Any

import anyio
import mcp_types as types
import pydantic_core
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from mcp.shared.message import SessionMessage


def parse_line(line: str) -> types.JSONRPCMessage | Exception:
    """One line as a JSON-RPC message, or the error the server reports for it."""
    try:
        return types.jsonrpc_message_adapter.validate_json(line, by_name=False)
    except Exception as exc:
        try:
            decoded = json.loads(line)
        except (ValueError, RecursionError):
            return exc
        try:
            return types.jsonrpc_message_adapter.validate_python(decoded, by_name=False)
        except Exception:
            return exc


def message_text(message: Any) -> str:
    """The SDK's rendering of a message, or `\\u` escapes where pydantic cannot encode a string."""
    try:
        text: str = message.model_dump_json(by_alias=True, exclude_unset=True)
    except pydantic_core.PydanticSerializationError:
        return json.dumps(message.model_dump(mode="json", by_alias=True, exclude_unset=True), separators=(",", ":"))
    return text


@asynccontextmanager
async def _claimed_std_streams() -> AsyncIterator[tuple[TextIOWrapper, TextIOWrapper]]:
    """Private duplicates of fds 0 and 1 for the wire; fd 0 -> null device, fd 1 -> stderr meanwhile."""
    sys.stdout.flush()  # what was printed before serving goes out before the wire is taken
    wire_in, wire_out = os.dup(0), os.dup(1)
    saved_in, saved_out = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(null, 0)
        os.dup2(2, 1)
        with (
            os.fdopen(wire_in, "rb") as raw_in,
            os.fdopen(wire_out, "wb") as raw_out,
            TextIOWrapper(raw_in, encoding="utf-8", errors="replace") as text_in,
            TextIOWrapper(raw_out, encoding="utf-8", write_through=True) as text_out,
        ):
            yield text_in, text_out
    finally:
        sys.stdout.flush()
        os.dup2(saved_in, 0)
        os.dup2(saved_out, 1)
        for fd in (null, saved_in, saved_out):
            os.close(fd)


@asynccontextmanager
async def stdio_wire() -> AsyncIterator[
    tuple[MemoryObjectReceiveStream[SessionMessage | Exception], MemoryObjectSendStream[SessionMessage]]
]:
    """(read stream, write stream) for `Server.run`, over the process's stdin and stdout."""
    async with _claimed_std_streams() as (text_in, text_out):
        stdin, stdout = anyio.wrap_file(text_in), anyio.wrap_file(text_out)
        incoming_send, incoming = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        outgoing, outgoing_receive = anyio.create_memory_object_stream[SessionMessage](0)

        async def read() -> None:
            async with incoming_send:
                async for line in stdin:
                    parsed = parse_line(line)
                    await incoming_send.send(parsed if isinstance(parsed, Exception) else SessionMessage(parsed))

        async def write() -> None:
            async with outgoing_receive:
                async for session_message in outgoing_receive:
                    await stdout.write(message_text(session_message.message) + "\n")
                    await stdout.flush()

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(read)
            tasks.start_soon(write)
            try:
                yield incoming, outgoing
            finally:
                tasks.cancel_scope.cancel()
