"""A small Docker Engine API client: one HTTP/1.1 request, its JSON-lines answer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from tui.buildkit.address import Endpoint
from tui.buildkit.relay import open_stream

#: How long the engine may take to answer the request line (a push may run much longer).
HEAD_TIMEOUT = 30.0


class EngineAPIError(Exception):
    """The engine refused a request or its answer could not be read."""


@dataclass(frozen=True)
class Response:
    """The status and headers of an answer; its body is read with :meth:`lines`."""

    status: int
    headers: dict[str, str]
    reader: asyncio.StreamReader

    @property
    def chunked(self) -> bool:
        """Whether the body comes in chunked transfer encoding."""
        return "chunked" in self.headers.get("transfer-encoding", "").lower()

    async def body(self) -> bytes:
        """The whole body."""
        parts = [line async for line in self._raw()]
        return b"".join(parts)

    async def _raw(self) -> AsyncIterator[bytes]:
        if not self.chunked:
            length = self.headers.get("content-length")
            if length is not None and length.isdigit():
                yield await self.reader.readexactly(int(length))
            else:
                yield await self.reader.read()
            return
        while True:
            size_line = await self.reader.readline()
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                return
            yield await self.reader.readexactly(size)
            await self.reader.readexactly(2)  # CRLF after the chunk

    async def lines(self) -> AsyncIterator[dict[str, Any]]:
        """The body's JSON objects, one per line, as they arrive."""
        buf = b""
        async for chunk in self._raw():
            buf += chunk
            *whole, buf = buf.split(b"\n")
            for line in whole:
                item = _json_object(line)
                if item is not None:
                    yield item
        item = _json_object(buf)
        if item is not None:
            yield item


def _json_object(line: bytes) -> dict[str, Any] | None:
    if not line.strip():
        return None
    try:
        item = json.loads(line)
    except ValueError:
        raise EngineAPIError(f"the engine sent a line that is not JSON: {line[:80]!r}") from None
    return item if isinstance(item, dict) else None


@asynccontextmanager
async def request(endpoint: Endpoint, method: str, path: str,
                  headers: Sequence[tuple[str, str]] = ()) -> AsyncIterator[Response]:
    """Send ``method path`` (no body) to the engine; the connection closes on exit."""
    reader, writer = await open_stream(endpoint)
    try:
        head = [f"{method} {path} HTTP/1.1", "Host: docker", "Connection: close",
                "Content-Length: 0", *(f"{k}: {v}" for k, v in headers)]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        try:
            async with asyncio.timeout(HEAD_TIMEOUT):
                raw = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            raise EngineAPIError(f"the engine closed the connection on {method} "
                                 f"{path.split('?', 1)[0]}") from None
        except TimeoutError:
            raise EngineAPIError(f"no answer from the engine to {method} "
                                 f"{path.split('?', 1)[0]}") from None
        status_line, *fields = raw.decode("latin-1").rstrip("\r\n").split("\r\n")
        parts = status_line.split(" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        hdrs = {}
        for f in fields:
            key, _, value = f.partition(":")
            hdrs[key.strip().lower()] = value.strip()
        yield Response(status, hdrs, reader)
    finally:
        writer.close()


async def error_message(resp: Response) -> str:
    """The ``message`` of an error answer (its body when that is not JSON)."""
    body = (await resp.body()).decode("utf-8", "replace").strip()
    try:
        data = json.loads(body)
    except ValueError:
        return body or f"status {resp.status}"
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return body
