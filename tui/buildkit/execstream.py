"""LLBBridge.ExecProcess spoken directly over HTTP/2 (h2), on a connection of its own.

A process's output comes in messages of a few hundred bytes to 4 KiB, so a long flood is tens
of thousands of them. Through grpc.aio (and, on a Docker Engine, the relay threads that splice
grpc's socket to the hijacked ``/grpc`` connection) each one cost the event loop and the GIL
several times what it costs here: one process stream, read by one task, framed by ``h2``.

Flow control keeps a slow reader in charge: received bytes are acknowledged only as the
messages they carried are read (so at most :data:`WINDOW` bytes wait), and the daemon, with
the process behind it, waits for the reader as it did with grpc.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import struct
from urllib.parse import unquote

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings

from tui.buildkit.errors import BuildError, error_from_status
from tui.buildkit.proto import gateway_pb2, rpc_status_pb2
from tui.buildkit.session.pipe import Pipe

__all__ = ["EXEC_PATH", "WINDOW", "ExecStream"]

EXEC_PATH = "/moby.buildkit.v1.frontend.LLBBridge/ExecProcess"
#: Bytes of output the daemon may send ahead of the reader (the stream's receive window).
WINDOW = 1 << 20
#: gRPC status codes used here (google.rpc.Code).
_UNAVAILABLE, _INTERNAL = 14, 13
_HEADER = struct.Struct(">BI")


def _lost(reason: str) -> BuildError:
    status = rpc_status_pb2.Status(code=_UNAVAILABLE, message=f"connection lost: {reason}")
    return BuildError(status.message, _UNAVAILABLE)


def _status_from_trailers(headers: dict[bytes, bytes]) -> rpc_status_pb2.Status:
    """The call's status from its trailers (``grpc-status-details-bin`` when present)."""
    raw = headers.get(b"grpc-status-details-bin")
    if raw is not None:
        status = rpc_status_pb2.Status()
        with contextlib.suppress(ValueError):
            status.ParseFromString(base64.b64decode(raw + b"=" * (-len(raw) % 4)))
            if status.code:
                return status
    code = headers.get(b"grpc-status", b"")
    message = unquote(headers.get(b"grpc-message", b"").decode("utf-8", "replace"))
    return rpc_status_pb2.Status(code=int(code) if code.isdigit() else _INTERNAL,
                                 message=message or "the call ended without a status")


class ExecStream:
    """One ExecProcess call: ``write`` / ``done_writing`` messages, ``read`` the replies.

    ``read`` returns the next :class:`~gateway_pb2.ExecMessage`, or None once the call has
    ended cleanly; it raises :class:`~tui.buildkit.errors.BuildError` when the call failed
    or the connection was lost. ``cancel`` resets the call and closes the connection.
    """

    def __init__(self, pipe: Pipe, metadata: tuple[tuple[str, str], ...]) -> None:
        self._pipe = pipe
        config = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self._conn = h2.connection.H2Connection(config)
        self._conn.local_settings = h2.settings.Settings(
            client=True, initial_values={h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: WINDOW})
        self._conn.initiate_connection()
        self._conn.increment_flow_control_window(WINDOW)
        self._sid = self._conn.get_next_available_stream_id()
        headers = [(b":method", b"POST"), (b":scheme", b"http"), (b":path", EXEC_PATH.encode()),
                   (b":authority", b"buildkit"), (b"content-type", b"application/grpc"),
                   (b"te", b"trailers")]
        headers += [(k.encode(), v.encode()) for k, v in metadata]
        self._conn.send_headers(self._sid, headers)
        self._messages: collections.deque[tuple[gateway_pb2.ExecMessage, int]] = \
            collections.deque()
        self._buf = bytearray()
        self._held = 0  # bytes of messages received but not read yet
        self._unacked = 0  # flow-controlled bytes not acknowledged yet
        self._taken = 0  # bytes of messages read since the last acknowledgement
        self._arrived = asyncio.Event()
        self._window = asyncio.Event()
        self._ended = False
        self._half_closed = False
        self._error: BuildError | None = None
        self._flush()
        self._task = asyncio.create_task(self._run())

    # -- the caller's side ----------------------------------------------------------------------
    @property
    def backlog(self) -> int:
        """Bytes of messages received but not read yet."""
        return self._held

    async def write(self, msg: gateway_pb2.ExecMessage) -> None:
        """Send ``msg`` (waits while the daemon's window is full)."""
        body = msg.SerializeToString()
        data = memoryview(_HEADER.pack(0, len(body)) + body)
        while data:
            if self._ended or self._half_closed:
                raise BuildError("the process stream has ended", _UNAVAILABLE)
            room = min(self._conn.local_flow_control_window(self._sid),
                       self._conn.max_outbound_frame_size)
            if room <= 0:
                self._window.clear()
                await self._window.wait()
                continue
            self._conn.send_data(self._sid, data[:room].tobytes())
            data = data[room:]
            self._flush()
        await self._pipe.drain()

    async def done_writing(self) -> None:
        """No more messages will be sent (half-closes the call)."""
        if self._ended or self._half_closed:
            return
        self._half_closed = True
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self._conn.end_stream(self._sid)
            self._flush()

    async def read(self) -> gateway_pb2.ExecMessage | None:
        """The next message; None once the call has ended; raises its error."""
        while not self._messages:
            if self._ended:
                if self._error is not None:
                    raise self._error
                return None
            self._arrived.clear()
            await self._arrived.wait()
        msg, size = self._messages.popleft()
        self._held -= size
        self._taken += size
        self._acknowledge()
        return msg

    def cancel(self) -> None:
        """Reset the call and close its connection (``read`` then returns None)."""
        if not self._ended:
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self._conn.reset_stream(self._sid, h2.errors.ErrorCodes.CANCEL)
                self._flush()
            self._end(None)
        self._task.cancel()
        self._pipe.close()

    # -- the connection's side ------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            while not self._ended:
                data = await self._pipe.read()
                if not data:
                    self._end(_lost("the daemon closed it"))
                    break
                for event in self._conn.receive_data(data):
                    self._on_event(event)
                self._flush()
        except (OSError, h2.exceptions.ProtocolError) as exc:
            self._end(_lost(str(exc) or type(exc).__name__))
        finally:
            self._pipe.close()

    def _on_event(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.DataReceived):
            self._unacked += event.flow_controlled_length
            self._take(event.data)
        elif isinstance(event, h2.events.ResponseReceived | h2.events.TrailersReceived):
            headers = dict(event.headers)
            if b"grpc-status" in headers:  # trailers (or a trailers-only response)
                status = _status_from_trailers(headers)
                self._end(error_from_status(status) if status.code else None)
            elif headers.get(b":status", b"200") != b"200":
                self._end(_lost(f"HTTP status {headers[b':status'].decode()}"))
        elif isinstance(event, h2.events.StreamEnded):
            self._end(self._error or None)
        elif isinstance(event, h2.events.StreamReset):
            self._end(BuildError(f"the daemon reset the process stream ({event.error_code})",
                                 _UNAVAILABLE))
        elif isinstance(event, h2.events.ConnectionTerminated):
            self._end(_lost("the daemon ended it"))
        elif isinstance(event, h2.events.WindowUpdated):
            self._window.set()

    def _take(self, data: bytes) -> None:
        buf = self._buf
        buf += data
        start = 0
        while len(buf) - start >= 5:
            _, length = _HEADER.unpack_from(buf, start)
            end = start + 5 + length
            if len(buf) < end:
                break
            msg = gateway_pb2.ExecMessage.FromString(bytes(buf[start + 5:end]))
            self._messages.append((msg, end - start))
            self._held += end - start
            start = end
        if start:
            del buf[:start]
            self._arrived.set()

    def _acknowledge(self) -> None:
        """Open the window again by what the reader has taken (a quarter window at a time)."""
        done = min(self._unacked, self._taken)
        if done >= WINDOW // 4 and not self._ended:
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self._conn.acknowledge_received_data(done, self._sid)
                self._flush()
            self._unacked -= done
            self._taken -= done

    def _end(self, error: BuildError | None) -> None:
        if self._ended:
            return
        self._ended = True
        self._error = error
        self._arrived.set()
        self._window.set()

    def _flush(self) -> None:
        data = self._conn.data_to_send()
        if data:
            self._pipe.write(data)
