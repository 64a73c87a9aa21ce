"""The session's HTTP/2 bytes inside a ``Control.Session`` call (buildkitd, Docker ``/grpc``)."""

from __future__ import annotations

import asyncio

import grpc

from tui.buildkit.aio import wait_child
from tui.buildkit.proto import control_pb2

CHUNK = 1024 * 1024
"""Largest BytesMessage sent (old daemons accept 4 MiB messages)."""


class TunnelPipe:
    """A :class:`~tui.buildkit.session.pipe.Pipe` over ``Control.Session``.

    Each ``BytesMessage.data`` from the daemon is the next piece of the connection; what we
    write goes out as BytesMessages of at most :data:`CHUNK` bytes. Message boundaries mean
    nothing. :meth:`close` cancels the call, which ends the session on the daemon's side.
    """

    def __init__(self, call: grpc.aio.StreamStreamCall) -> None:
        self._call = call
        self._out = bytearray()
        self._closed = False

    async def read(self) -> bytes:
        """The next bytes from the daemon; ``b""`` once the call has ended."""
        if self._closed:
            return b""
        # cancelled by our own close(), or ended: no more bytes (our caller's cancel goes on)
        msg = await wait_child(self._call.read(), grpc.RpcError)
        if msg is None or msg is grpc.aio.EOF:
            return b""
        data: bytes = msg.data
        return data

    def write(self, data: bytes | bytearray) -> None:
        """Queue bytes for the daemon (sent by :meth:`drain`)."""
        self._out += data

    async def drain(self) -> None:
        """Send the queued bytes; raises ConnectionResetError once the call has ended."""
        out = self._out
        while out:
            chunk = bytes(out[:CHUNK])
            del out[:CHUNK]
            if self._closed:
                raise ConnectionResetError("the session call was closed")
            try:
                await self._call.write(control_pb2.BytesMessage(data=chunk))
            except (grpc.RpcError, asyncio.InvalidStateError) as exc:
                raise ConnectionResetError(f"the session call ended: {exc}") from None

    def close(self) -> None:
        """Cancel the call: the daemon sees the session end."""
        self._closed = True
        self._call.cancel()
