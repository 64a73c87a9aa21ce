"""The server side of one gRPC call: its stream state, servicer context, request iterator.

Handlers follow grpc.aio's servicer shape: ``handler(request, context)`` for unary calls,
``handler(request_iterator, context)`` for stream-stream calls, with a context offering
``invocation_metadata()``, ``await write(msg)`` and ``await abort(code, details)``.

A call needs three things from the connection it lives on (:class:`CallConnection`, which
:class:`~tui.buildkit.session.h2server.GrpcConnection` implements): send my output, wait
until my output is drained, the next request message.  This module imports nothing of the
connection's.
"""

from __future__ import annotations

import asyncio
import struct
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, Protocol

from tui.buildkit.session.status import RESOURCE_EXHAUSTED, RpcAbort, status_code

if TYPE_CHECKING:
    import grpc

MAX_MESSAGE = 16 * 1024 * 1024
"""Largest message accepted or sent (BuildKit's session client allows 16 MiB)."""
HIGH_WATER = 2 * 1024 * 1024
"""``write`` waits while a stream has this much unsent output..."""
LOW_WATER = 1024 * 1024
"""...until the writer has brought it below this."""
GATHER = 32 * 1024
"""Messages below this are copied together into one buffer; larger ones are queued as is."""

MESSAGE_PREFIX = struct.Struct(">BI")
"""What precedes each gRPC message: compressed flag, length."""

Metadata = tuple[tuple[str, str | bytes], ...]


class StreamClosed(ConnectionError):
    """A write on a call that has already ended (reset by the peer or finished)."""


class CallConnection(Protocol):
    """What a call needs from the connection it lives on."""

    def schedule(self, stream: CallStream) -> None:
        """``stream`` has output (or its trailers) to send: queue it for the writer."""

    async def wait_drained(self, stream: CallStream) -> None:
        """Wait until ``stream``'s unsent output is below LOW_WATER (StreamClosed if reset)."""

    async def next_message(self, stream: CallStream) -> bytes | None:
        """The next raw request message, or None after the peer's half-close."""


class CallStream:
    """Server-side state of one call (the connection reads and writes its fields)."""

    __slots__ = (
        "conn", "context", "deadline", "deadline_hit", "decode", "drain_waiter", "encode",
        "finished", "headers_sent", "id", "inbox", "inbox_bytes", "inbuf", "metadata",
        "outlen", "outpos", "outq", "pending_ack", "queued", "read_waiter", "remote_ended",
        "reset", "status", "task",
    )

    def __init__(self, conn: CallConnection, stream_id: int, metadata: Metadata) -> None:
        self.conn = conn
        self.id = stream_id
        self.metadata = metadata
        self.context = CallContext(self)
        self.decode: Callable[[bytes], Any] | None = None
        self.encode: Callable[[Any], bytes] | None = None
        self.task: asyncio.Task[None] | None = None
        self.deadline: asyncio.TimerHandle | None = None
        self.deadline_hit = False
        self.inbuf = bytearray()
        self.inbox: deque[bytes] = deque()
        self.inbox_bytes = 0
        self.pending_ack = 0
        self.remote_ended = False
        self.read_waiter: asyncio.Future[None] | None = None
        # Unsent output: message prefixes and small messages gathered in bytearrays, large
        # serialized messages kept as they are (no copy until the flush joins a frame batch).
        self.outq: deque[bytes | bytearray] = deque()
        self.outpos = 0  # bytes of outq[0] already sent
        self.outlen = 0  # unsent bytes in outq
        self.drain_waiter: asyncio.Future[None] | None = None
        self.queued = False  # in the connection's ready or blocked list
        self.headers_sent = False
        self.finished = False  # the handler is done (status set) or the stream was reset
        self.reset = False
        self.status: tuple[int, str] | None = None

    def wake_reader(self) -> None:
        """A request message came (or the stream ended): wake the handler reading."""
        w = self.read_waiter
        if w is not None and not w.done():
            w.set_result(None)

    def wake_writer(self) -> None:
        """Output went out (or the stream ended): wake the handler waiting to write."""
        w = self.drain_waiter
        if w is not None and not w.done():
            w.set_result(None)


class CallContext:
    """The servicer context of one call (the part of grpc.aio's that handlers use)."""

    __slots__ = ("_code", "_details", "_stream")

    def __init__(self, stream: CallStream) -> None:
        self._stream = stream
        self._code: int | None = None
        self._details: str | None = None

    def invocation_metadata(self) -> Metadata:
        """Request metadata: ``(key, str)``, or ``(key, bytes)`` for ``-bin`` keys."""
        return self._stream.metadata

    async def write(self, message: Any) -> None:
        """Queue one response message; waits only while the stream's buffer is full."""
        st = self._stream
        if st.finished:
            raise StreamClosed("the call has ended")
        data = message if st.encode is None else st.encode(message)
        if type(data) is not bytes:
            data = bytes(data)  # queued without a copy below: must not change later
        size = len(data)
        if size > MAX_MESSAGE:
            raise RpcAbort(RESOURCE_EXHAUSTED, f"response message of {size} bytes is too large")
        q = st.outq
        tail = q[-1] if q else None
        if type(tail) is not bytearray or len(tail) >= GATHER:
            tail = bytearray()
            q.append(tail)
        tail += MESSAGE_PREFIX.pack(0, size)
        if size < GATHER:
            tail += data
        else:
            q.append(data)
        st.outlen += size + 5
        if not st.queued:
            st.conn.schedule(st)
        if st.outlen >= HIGH_WATER:
            await st.conn.wait_drained(st)

    async def abort(self, code: grpc.StatusCode | int, details: str = "",
                    trailing_metadata: Any = ()) -> NoReturn:
        """End the call with ``code`` (a ``grpc.StatusCode`` or int) and ``details``."""
        raise RpcAbort(status_code(code), details)

    def set_code(self, code: grpc.StatusCode | int) -> None:
        """Status to end the call with when the handler returns (or raises)."""
        self._code = status_code(code)

    def set_details(self, details: str) -> None:
        """Status message to go with :meth:`set_code`."""
        self._details = details

    def code(self) -> int | None:
        """The status set with :meth:`set_code`."""
        return self._code

    def details(self) -> str | None:
        """The message set with :meth:`set_details`."""
        return self._details

    def time_remaining(self) -> float | None:
        """Seconds to the call's deadline, or None without one."""
        handle = self._stream.deadline
        if handle is None:
            return None
        return max(0.0, handle.when() - asyncio.get_running_loop().time())

    def cancelled(self) -> bool:
        """Whether the peer reset the call."""
        return self._stream.reset

    def done(self) -> bool:
        """Whether the call has ended."""
        return self._stream.finished

    def peer(self) -> str:
        """The peer's name (the session's daemon)."""
        return "session-peer"


class RequestIterator:
    """The request iterator of a stream-stream call: decoded messages until half-close."""

    __slots__ = ("_stream",)

    def __init__(self, stream: CallStream) -> None:
        self._stream = stream

    def __aiter__(self) -> RequestIterator:
        return self

    async def __anext__(self) -> Any:
        raw = await self._stream.conn.next_message(self._stream)
        if raw is None:
            raise StopAsyncIteration
        decode = self._stream.decode
        return raw if decode is None else decode(raw)
