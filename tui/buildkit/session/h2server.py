"""A small gRPC server on HTTP/2 (``h2``, sans-IO) over one asyncio byte pipe.

A BuildKit session is a reversed connection: after Docker's ``POST /session`` upgrade, or
inside ``Control.Session``, the daemon is the HTTP/2 *client* and calls the services we
serve.  :class:`GrpcConnection` serves them right on that connection, on the event loop.

Cost per message is the point (a context upload is ~3 messages per file): ``write`` only
serializes into a per-stream buffer and returns; a single writer task turns the buffers
into DATA frames (built here, with h2's flow-control counters kept in step) within the
stream and connection windows, and hands each flush to the transport in one write.
Everything else (HPACK, SETTINGS, PING, WINDOW_UPDATE, RST_STREAM, GOAWAY, stream states,
request parsing) is h2's.

Handlers follow grpc.aio's servicer shape: ``handler(request, context)`` for unary calls,
``handler(request_iterator, context)`` for stream-stream calls, with a context offering
``invocation_metadata()``, ``await write(msg)`` and ``await abort(code, details)``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import logging
import struct
from collections import deque
from collections.abc import AsyncIterator, Mapping
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

from tui.buildkit.session.call import (
    LOW_WATER,
    MAX_MESSAGE,
    MESSAGE_PREFIX,
    CallStream,
    RequestIterator,
    StreamClosed,
)
from tui.buildkit.session.methods import RpcMethod
from tui.buildkit.session.pipe import Pipe
from tui.buildkit.session.status import (
    DEADLINE_EXCEEDED,
    INTERNAL,
    OK,
    RESOURCE_EXHAUSTED,
    UNIMPLEMENTED,
    UNKNOWN,
    RpcAbort,
    percent_encode,
)

log = logging.getLogger(__name__)

WINDOW = 16 * 1024 * 1024
"""Our receive window, per stream and for the connection."""
FLUSH_BYTES = 1024 * 1024
"""DATA bytes per transport write."""
QUANTUM = 256 * 1024
"""DATA bytes one stream may send before the others get a turn (health checks stay prompt)."""
ACK_BACKLOG = 1024 * 1024
"""Received data is acknowledged while a stream's unread messages stay below this."""

_FRAME = struct.Struct(">HBBBL")  # HTTP/2 frame header: 24-bit length, type, flags, stream
_RESPONSE_HEADERS = [(b":status", b"200"), (b"content-type", b"application/grpc")]
_NOT_METADATA = frozenset(
    {b"content-type", b"te", b"grpc-timeout", b"grpc-encoding", b"grpc-accept-encoding"}
)
_TIMEOUT_UNITS = {b"H": 3600.0, b"M": 60.0, b"S": 1.0, b"m": 1e-3, b"u": 1e-6, b"n": 1e-9}


def _parse_timeout(value: bytes) -> float | None:
    unit = _TIMEOUT_UNITS.get(value[-1:])
    if unit is None or not value[:-1].isdigit():
        return None
    return int(value[:-1]) * unit


class GrpcConnection:
    """Serves ``methods`` (full path → :class:`RpcMethod`) on one HTTP/2 connection.

    We are the HTTP/2 server: the peer sends the preface. :meth:`run` serves until the peer
    goes away (EOF or GOAWAY) or :meth:`close` is called, then cancels running handlers.
    """

    def __init__(self, methods: Mapping[str, RpcMethod], pipe: Pipe) -> None:
        self._methods = methods
        self._pipe = pipe
        self._h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=False, header_encoding=None)
        )
        self._streams: dict[int, CallStream] = {}
        self._ready: deque[CallStream] = deque()
        self._blocked: list[CallStream] = []
        self._kick = asyncio.Event()
        self._closing = False
        self._done = asyncio.Event()

    # ------------------------------------------------------------------ lifecycle

    async def run(self) -> None:
        """Serve until the connection ends."""
        conn = self._h2
        conn.initiate_connection()
        conn.update_settings({h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: WINDOW})
        conn.increment_flow_control_window(WINDOW - conn.inbound_flow_control_window)
        self._kick.set()
        writer = asyncio.create_task(self._write_loop())
        try:
            await self._read_loop()
        finally:
            self._closing = True
            tasks = [st.task for st in self._streams.values() if st.task is not None]
            for st in list(self._streams.values()):
                self._drop(st)  # cancels its handler
            writer.cancel()
            await asyncio.gather(writer, *tasks, return_exceptions=True)
            self._pipe.close()
            self._done.set()

    def close(self) -> None:
        """Say GOAWAY and close the pipe; :meth:`run` then ends."""
        if self._closing:
            return
        self._closing = True
        with contextlib.suppress(Exception):
            self._h2.close_connection()
            self._pipe.write(self._h2.data_to_send())
        self._pipe.close()

    async def wait_closed(self) -> None:
        """Wait until :meth:`run` has finished."""
        await self._done.wait()

    # ------------------------------------------------------------------ reading

    async def _read_loop(self) -> None:
        conn = self._h2
        pipe = self._pipe
        while not self._closing:
            try:
                data = await pipe.read()
            except (OSError, EOFError):
                return
            if not data:
                return
            try:
                events = conn.receive_data(data)
            except h2.exceptions.ProtocolError as exc:
                log.debug("session connection: protocol error: %s", exc)
                self.close()
                return
            for ev in events:
                if isinstance(ev, h2.events.DataReceived):
                    self._on_data(ev)
                elif isinstance(ev, h2.events.RequestReceived):
                    self._on_request(ev)
                elif isinstance(ev, h2.events.StreamEnded):
                    self._on_end(ev)
                elif isinstance(ev, h2.events.StreamReset):
                    self._on_reset(ev)
                elif isinstance(ev, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
                    if self._blocked:
                        self._ready.extend(self._blocked)
                        self._blocked.clear()
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    self._closing = True  # GOAWAY: end every call
            self._kick.set()  # h2 may have queued acks, window updates, ...

    def _on_request(self, ev: h2.events.RequestReceived) -> None:
        sid = ev.stream_id
        assert sid is not None
        path = ""
        timeout: float | None = None
        md: list[tuple[str, str | bytes]] = []
        for key, value in ev.headers or ():
            k = key if isinstance(key, bytes) else key.encode()
            v = value if isinstance(value, bytes) else value.encode()
            if k[:1] == b":":
                if k == b":path":
                    path = v.decode("utf-8", "replace")
            elif k == b"grpc-timeout":
                timeout = _parse_timeout(v)
            elif k not in _NOT_METADATA:
                name = k.decode("ascii", "replace")
                if name.endswith("-bin"):
                    for part in v.split(b","):
                        part = part.strip()
                        with contextlib.suppress(ValueError):
                            md.append((name, base64.b64decode(part + b"=" * (-len(part) % 4))))
                else:
                    md.append((name, v.decode("utf-8", "replace")))
        st = CallStream(self, sid, tuple(md))
        self._streams[sid] = st
        method = self._methods.get(path)
        if method is None:
            self._finish(st, UNIMPLEMENTED, f"unknown method {path}")
            return
        st.decode = method.decode
        st.encode = method.encode
        loop = asyncio.get_running_loop()
        st.task = loop.create_task(self._serve_call(st, method))
        if timeout is not None:
            st.deadline = loop.call_later(timeout, self._expire, st)

    def _on_data(self, ev: h2.events.DataReceived) -> None:
        sid = ev.stream_id
        assert sid is not None
        size = ev.flow_controlled_length or 0
        st = self._streams.get(sid)
        if st is None or st.finished:
            if size:
                self._h2.acknowledge_received_data(size, sid)
            return
        st.pending_ack += size
        buf = st.inbuf
        if ev.data:
            buf += ev.data
        pos = 0
        end_all = len(buf)
        with memoryview(buf) as view:
            while end_all - pos >= 5:
                flag, length = MESSAGE_PREFIX.unpack_from(buf, pos)
                if flag or length > MAX_MESSAGE:
                    break
                end = pos + 5 + length
                if end > end_all:
                    break
                st.inbox.append(bytes(view[pos + 5 : end]))
                st.inbox_bytes += end - pos
                pos = end
        if pos:
            del buf[:pos]
        if len(buf) >= 5:
            flag, length = MESSAGE_PREFIX.unpack_from(buf, 0)
            if flag:
                self._fail(st, UNIMPLEMENTED, "compressed messages are not supported")
                return
            if length > MAX_MESSAGE:
                self._fail(st, RESOURCE_EXHAUSTED, f"message of {length} bytes is too large")
                return
        if st.inbox:
            st.wake_reader()
        if st.inbox_bytes <= ACK_BACKLOG:
            self._ack(st)

    def _on_end(self, ev: h2.events.StreamEnded) -> None:
        st = self._streams.get(ev.stream_id or 0)
        if st is not None:
            st.remote_ended = True
            st.wake_reader()

    def _on_reset(self, ev: h2.events.StreamReset) -> None:
        st = self._streams.get(ev.stream_id or 0)
        if st is not None:
            self._drop(st)

    def _ack(self, st: CallStream) -> None:
        if st.pending_ack:
            self._h2.acknowledge_received_data(st.pending_ack, st.id)
            st.pending_ack = 0

    async def next_message(self, st: CallStream) -> bytes | None:
        """The next raw request message, or None after the peer's half-close."""
        while not st.inbox:
            if st.remote_ended or st.finished:
                return None
            st.read_waiter = asyncio.get_running_loop().create_future()
            try:
                await st.read_waiter
            finally:
                st.read_waiter = None
        raw = st.inbox.popleft()
        st.inbox_bytes -= len(raw) + 5
        if st.pending_ack and st.inbox_bytes <= ACK_BACKLOG:
            self._ack(st)
            self._kick.set()
        return raw

    # ------------------------------------------------------------------ calls

    async def _serve_call(self, st: CallStream, method: RpcMethod) -> None:
        ctx = st.context
        code, message = OK, ""
        try:
            if method.streaming:
                result = method.handler(RequestIterator(st), ctx)
            else:
                raw = await self.next_message(st)
                while not st.remote_ended and not st.finished:  # then the half-close
                    if await self.next_message(st) is not None:
                        raise RpcAbort(UNIMPLEMENTED, "more than one request message")
                if raw is None:
                    raise RpcAbort(INTERNAL, "missing request message")
                result = method.handler(raw if method.decode is None else method.decode(raw), ctx)
            if inspect.isawaitable(result):
                result = await result
            if not method.streaming:
                if result is None:
                    if ctx.code() in (None, OK):
                        raise RpcAbort(INTERNAL, "the handler returned no response")
                else:
                    await ctx.write(result)
            elif isinstance(result, AsyncIterator):
                async for item in result:
                    await ctx.write(item)
            if ctx.code() is not None:
                code, message = ctx.code() or OK, ctx.details() or ""
        except RpcAbort as exc:
            code, message = exc.code, exc.details
        except asyncio.CancelledError:
            if not st.deadline_hit or st.reset or self._closing:
                return  # reset by the peer or the connection is going away
            code, message = DEADLINE_EXCEEDED, "Deadline Exceeded"
        except Exception as exc:
            log.debug("session call failed", exc_info=True)
            if ctx.code() not in (None, OK):
                code, message = ctx.code() or UNKNOWN, ctx.details() or str(exc)
            else:
                code, message = UNKNOWN, f"Unexpected {type(exc).__name__}: {exc}"
        self._finish(st, code, message)

    def _expire(self, st: CallStream) -> None:
        if not st.finished and st.task is not None:
            st.deadline_hit = True
            st.task.cancel()

    def _finish(self, st: CallStream, code: int, message: str) -> None:
        """The handler is done: queue the trailers after its remaining output."""
        if st.finished:
            return
        st.finished = True
        st.status = (code, message)
        if st.deadline is not None:
            st.deadline.cancel()
        st.wake_reader()
        self.schedule(st)

    def _fail(self, st: CallStream, code: int, message: str) -> None:
        """End a call for a transport-level reason: cancel its handler, send the status."""
        if st.task is not None:
            st.task.cancel()
        st.outq.clear()
        st.outlen = st.outpos = 0
        self._finish(st, code, message)

    def _drop(self, st: CallStream) -> None:
        """Forget a stream (reset, or the connection is closing)."""
        st.finished = True
        st.reset = True
        if st.deadline is not None:
            st.deadline.cancel()
        st.outq.clear()
        st.outlen = st.outpos = 0
        st.wake_reader()
        st.wake_writer()
        if st.task is not None and not st.task.done() and st.task is not _current_task():
            st.task.cancel()
        if self._streams.pop(st.id, None) is not None and st.pending_ack and not self._closing:
            self._ack(st)  # returns the bytes to the connection window

    def _retire(self, st: CallStream) -> None:
        """The trailers are out: forget the stream, resetting it if the peer still sends."""
        conn = self._h2
        if not st.remote_ended:
            with contextlib.suppress(h2.exceptions.H2Error):
                conn.reset_stream(st.id, h2.errors.ErrorCodes.NO_ERROR)
        self._streams.pop(st.id, None)
        self._ack(st)
        st.queued = False

    # ------------------------------------------------------------------ writing

    def schedule(self, st: CallStream) -> None:
        """``st`` has output (or its trailers) to send: queue it for the writer."""
        if not st.queued:
            st.queued = True
            self._ready.append(st)
        self._kick.set()

    async def wait_drained(self, st: CallStream) -> None:
        """Wait until ``st``'s unsent output is below LOW_WATER (StreamClosed if reset)."""
        while st.outlen > LOW_WATER and not st.finished:
            st.drain_waiter = asyncio.get_running_loop().create_future()
            try:
                await st.drain_waiter
            finally:
                st.drain_waiter = None
        if st.reset:
            raise StreamClosed("the call was reset")

    async def _write_loop(self) -> None:
        pipe = self._pipe
        try:
            while True:
                await self._kick.wait()
                await asyncio.sleep(0)  # let the writers woken with us add to this flush
                self._kick.clear()
                out = self._collect()
                if self._ready:
                    self._kick.set()
                if out:
                    pipe.write(out)
                    await pipe.drain()
        except Exception as exc:  # the transport failed (or a bug): the connection is over
            log.debug("session connection: write failed: %r", exc)
            self.close()

    def _collect(self) -> bytes:
        """Everything ready to go out: h2's frames, then DATA and trailers by stream."""
        conn = self._h2
        out: list[bytes | bytearray | memoryview] = [conn.data_to_send()]
        budget = FLUSH_BYTES
        ready = self._ready
        while ready and budget > 0:
            st = ready.popleft()
            if st.reset:
                st.queued = False
                continue
            try:
                budget -= self._emit(st, out, budget)
            except h2.exceptions.H2Error as exc:  # the stream is gone on h2's side
                log.debug("session stream %d: %s", st.id, exc)
                self._drop(st)
            out.append(conn.data_to_send())
        data = b"".join(out)
        out.clear()  # releases the views on queued buffers before anyone appends to them
        return data

    def _emit(self, st: CallStream, out: list[bytes | bytearray | memoryview], budget: int) -> int:
        """Append one stream's headers, DATA (up to its turn) and trailers; bytes sent."""
        conn = self._h2
        sid = st.id
        if not st.headers_sent:
            st.headers_sent = True
            if not st.outlen and st.status is not None:  # trailers-only response
                conn.send_headers(sid, _RESPONSE_HEADERS + _trailers(st.status), end_stream=True)
                self._retire(st)
                return 0
            conn.send_headers(sid, _RESPONSE_HEADERS)
            out.append(conn.data_to_send())
        sent = 0
        if st.outlen:
            stream = conn.streams.get(sid)
            if stream is None or stream.closed:
                self._drop(st)
                return 0
            window = min(conn.outbound_flow_control_window, stream.outbound_flow_control_window)
            turn = min(budget, QUANTUM)
            sent = min(st.outlen, window, turn)
            if sent > 0:
                _frames(st, sent, conn.max_outbound_frame_size, out)
                conn.outbound_flow_control_window -= sent
                stream.outbound_flow_control_window -= sent
                if st.outlen <= LOW_WATER:
                    st.wake_writer()
            if st.outlen:
                if window < turn:
                    self._blocked.append(st)  # until a WINDOW_UPDATE
                else:
                    self._ready.append(st)
                return sent
        if st.status is not None:
            conn.send_headers(sid, _trailers(st.status), end_stream=True)
            self._retire(st)
        else:
            st.queued = False
        return sent


def _frames(
    st: CallStream, count: int, frame_max: int, out: list[bytes | bytearray | memoryview]
) -> None:
    """Move ``count`` bytes of ``st``'s output into ``out`` as DATA frames (headers + views)."""
    q = st.outq
    pos = st.outpos
    pack = _FRAME.pack
    sid = st.id
    left = count
    while left:
        size = min(frame_max, left)
        out.append(pack(size >> 8, size & 0xFF, 0, 0, sid))
        left -= size
        while size:
            chunk = q[0]
            avail = len(chunk) - pos
            if avail <= size:
                out.append(memoryview(chunk)[pos:] if pos else chunk)
                q.popleft()
                pos = 0
                size -= avail
            else:
                out.append(memoryview(chunk)[pos : pos + size])
                pos += size
                size = 0
    st.outpos = pos
    st.outlen -= count


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def _trailers(status: tuple[int, str]) -> list[tuple[bytes, bytes]]:
    code, message = status
    out = [(b"grpc-status", str(code).encode())]
    if message:
        out.append((b"grpc-message", percent_encode(message)))
    return out
