"""The byte pipe an HTTP/2 session connection runs over, and one on asyncio streams."""

from __future__ import annotations

import asyncio
from typing import Protocol

READ_SIZE = 256 * 1024


class Pipe(Protocol):
    """A bidirectional byte stream carrying the HTTP/2 connection."""

    async def read(self) -> bytes:
        """Next bytes from the peer; ``b""`` at end of stream."""

    def write(self, data: bytes | bytearray) -> None:
        """Queue bytes for the peer."""

    async def drain(self) -> None:
        """Wait until queued bytes have (mostly) gone out."""

    def close(self) -> None:
        """Close the stream (the peer sees the connection end)."""


class StreamPipe:
    """A :class:`Pipe` on asyncio streams (a hijacked daemon connection)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self) -> bytes:
        """Next bytes from the peer; ``b""`` at end of stream."""
        return await self._reader.read(READ_SIZE)

    def write(self, data: bytes | bytearray) -> None:
        """Queue bytes for the peer."""
        self._writer.write(data)

    async def drain(self) -> None:
        """Wait for the transport's buffer to drain."""
        await self._writer.drain()

    def close(self) -> None:
        """Close the transport."""
        self._writer.close()
