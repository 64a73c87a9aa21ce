"""FileSync (the daemon reads local directories) and FileSend (exports written locally)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote_plus

import grpc

from tui.buildkit.fsync.diffcopy import parse_packet, receive_tree, send_tree
from tui.buildkit.fsync.goregex import go_utf8
from tui.buildkit.fsync.patterns import PatternError
from tui.buildkit.fsync.walk import open_filter
from tui.buildkit.proto import filesync_pb2_grpc, fsutil_types_pb2
from tui.buildkit.session.rpc import abort

Packet = fsutil_types_pb2.Packet


def decode_metadata(md: Sequence[tuple[str, str | bytes]]) -> dict[str, list[str]]:
    """Group request metadata by key, undoing the ``<key>-encoded`` query escaping."""
    raw: dict[str, list[str]] = {}
    for key, value in md:
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        raw.setdefault(key.lower(), []).append(text)
    out: dict[str, list[str]] = {}
    for key, values in raw.items():
        flag = raw.get(f"{key}-encoded", [""])[0].lower()
        if flag in ("1", "true", "t"):
            values = [unquote_plus(v) for v in values]
        out[key] = values
    return out


class FileSyncService(filesync_pb2_grpc.FileSyncServicer):
    """Sends the requested local directory with the fsutil DiffCopy protocol."""

    def __init__(
        self, dirs: Mapping[str, str], on_bytes: Callable[[str, int], None] | None
    ) -> None:
        self._dirs = dict(dirs)
        self._on_bytes = on_bytes
        self.requests: list[dict[str, list[str]]] = []

    async def DiffCopy(
        self, request_iterator: AsyncIterator[Packet], context: grpc.aio.ServicerContext
    ) -> None:
        """Send one directory: the daemon names it with the ``dir-name`` header."""
        md = decode_metadata(context.invocation_metadata() or ())
        self.requests.append(md)
        name = (md.get("dir-name") or [""])[0]
        root = self._dirs.get(name)
        if root is None:
            await abort(context, grpc.StatusCode.NOT_FOUND, f"no access allowed to dir {name!r}")
            return
        try:
            flt = await asyncio.to_thread(
                open_filter,
                root,
                md.get("include-patterns", []),
                md.get("exclude-patterns", []),
                md.get("followpaths", []),
            )
        except (PatternError, OSError) as exc:
            # fsutil's NewFilterFS fails the call itself, before any packet: the daemon
            # reports "rpc error: code = Unknown desc = invalid excludepatterns: ...".
            text = go_utf8(str(exc)).decode("utf-8")
            await abort(context, grpc.StatusCode.UNKNOWN, text)
            return
        on_bytes = self._on_bytes
        progress = (lambda n: on_bytes(name, n)) if on_bytes else None
        await send_tree(
            request_iterator.__aiter__(), context.write, root, prepared=flt, progress=progress
        )

    async def TarStream(
        self, request_iterator: AsyncIterator[Packet], context: grpc.aio.ServicerContext
    ) -> None:
        """Not negotiated by BuildKit; refused."""
        await abort(context, grpc.StatusCode.UNIMPLEMENTED, "tarstream is not supported")


@dataclass(frozen=True)
class ExportTarget:
    """Where a session-backed exporter writes: ``local`` into a directory, ``tar`` to a file."""

    kind: str
    dest: str


class FileSendHandler:
    """FileSend.DiffCopy with raw bytes: tar chunks, or fsutil packets for ``local``."""

    SERVICE = "moby.filesync.v1.FileSend"

    def __init__(self, targets: Sequence[ExportTarget]) -> None:
        self._targets = list(targets)

    def generic_handler(self) -> grpc.GenericRpcHandler:
        """The handler to register on the session server."""
        method = grpc.stream_stream_rpc_method_handler(self._diffcopy)
        return grpc.method_handlers_generic_handler(self.SERVICE, {"DiffCopy": method})

    async def _diffcopy(
        self, request_iterator: AsyncIterator[bytes], context: grpc.aio.ServicerContext
    ) -> None:
        md = decode_metadata(context.invocation_metadata() or ())
        index_text = (md.get("buildkit-attachable-exporter-id") or ["0"])[0]
        try:
            target = self._targets[int(index_text)]
        except (ValueError, IndexError):
            await abort(context, grpc.StatusCode.NOT_FOUND, f"no exporter {index_text}")
            return
        if target.kind == "local":
            await self._receive_local(request_iterator, context, target.dest)
        else:
            await self._receive_tar(request_iterator, target.dest)

    @staticmethod
    async def _receive_local(
        request_iterator: AsyncIterator[bytes], context: grpc.aio.ServicerContext, dest: str
    ) -> None:
        async def packets() -> AsyncIterator[Packet]:
            async for raw in request_iterator:
                yield parse_packet(raw)  # names may be any bytes

        async def send(p: Packet) -> None:
            await context.write(p.SerializeToString())

        from tui.buildkit.fsync.receiver import make_private_dirs  # exports only

        await asyncio.to_thread(make_private_dirs, dest)
        await receive_tree(packets(), send, dest)

    @staticmethod
    async def _receive_tar(request_iterator: AsyncIterator[bytes], dest: str) -> None:
        from tui.buildkit.proto import filesync_pb2

        loop = asyncio.get_running_loop()
        tmp = f"{dest}.bxtui-partial"
        fh = await loop.run_in_executor(None, open, tmp, "wb")
        ok = False
        try:
            async for raw in request_iterator:
                data = filesync_pb2.BytesMessage.FromString(raw).data
                if data:
                    await loop.run_in_executor(None, fh.write, data)
            ok = True
        finally:
            fh.close()
            if ok:
                os.replace(tmp, dest)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
