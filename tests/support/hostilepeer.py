"""Helpers for the hostile-context tests: an inotify open-watcher and a hand-made FileSync peer.

:class:`OpenWatch` records every open and read (by any process) of the files in watched
directories, event-based: no timing, independent of atime mount options. :class:`FileSyncPeer`
serves our real session server on a private unix socket and calls ``FileSync.DiffCopy`` on it
the way the daemon does, but with whatever metadata and requests a test chooses.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from h2served import Served

from tui.buildkit.fsync.diffcopy import DATA, ERR, FIN, REQ, STAT
from tui.buildkit.fsync.entry import MODE_TYPE
from tui.buildkit.proto import fsutil_types_pb2
from tui.buildkit.session.server import SessionServer

Packet = fsutil_types_pb2.Packet
Stat = fsutil_types_pb2.Stat
DIFFCOPY = "/moby.filesync.v1.FileSync/DiffCopy"

IN_ACCESS = 0x001
IN_OPEN = 0x020
IN_ISDIR = 0x40000000
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC
_EVENT = struct.Struct("iIII")


class OpenWatch:
    """inotify ``IN_OPEN | IN_ACCESS`` on directories: who opened or read what in them.

    A watch on a directory reports opens and reads of the directory itself (listing it) and
    of every file directly in it. Events are queued by the kernel at the time of the open,
    so reading them after the watched process has exited misses nothing.
    """

    def __init__(self, dirs: Iterable[Path]) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self._names: dict[int, Path] = {}
        for d in dirs:
            wd = libc.inotify_add_watch(self._fd, os.fsencode(d), IN_OPEN | IN_ACCESS)
            if wd < 0:
                raise OSError(ctypes.get_errno(), "inotify_add_watch", str(d))
            self._names[wd] = d

    def events(self) -> list[tuple[str, Path]]:
        """Events since the last call: ``("open"|"access", path)``."""
        out: list[tuple[str, Path]] = []
        while True:
            try:
                buf = os.read(self._fd, 65536)
            except BlockingIOError:
                return out
            pos = 0
            while pos < len(buf):
                wd, mask, _cookie, size = _EVENT.unpack_from(buf, pos)
                raw = buf[pos + _EVENT.size: pos + _EVENT.size + size].rstrip(b"\0")
                pos += _EVENT.size + size
                base = self._names.get(wd)
                if base is None:
                    continue
                path = base / os.fsdecode(raw) if raw else base
                out.append(("open" if mask & IN_OPEN else "access", path))

    def close(self) -> None:
        """Stop watching."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> OpenWatch:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class DiffCopyResult:
    """What the peer saw on one ``DiffCopy`` call."""

    stats: list[Stat] = field(default_factory=list)
    data: dict[int, bytes] = field(default_factory=dict)
    err: str | None = None
    fin: bool = False
    code: grpc.StatusCode | None = None
    details: str = ""

    @property
    def paths(self) -> list[str]:
        """Listed paths, in order."""
        return [s.path for s in self.stats]


def regular_ids(stats: Sequence[Stat]) -> list[int]:
    """Ids the daemon would request: regular files that are not hardlinks."""
    return [i for i, s in enumerate(stats) if not s.mode & MODE_TYPE and not s.linkname]


class FileSyncPeer:
    """A fake daemon: serves ``server`` on a unix socket and calls its DiffCopy."""

    def __init__(self, server: SessionServer) -> None:
        self.server = server
        self._served = Served(server.rpc_methods)
        self.channel: grpc.aio.Channel | None = None

    async def __aenter__(self) -> FileSyncPeer:
        await self._served.__aenter__()
        self.channel = grpc.aio.insecure_channel(f"unix:{self._served.path}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.channel is not None:
            await self.channel.close()
        await self._served.__aexit__(*exc)

    async def diffcopy(
        self,
        metadata: Sequence[tuple[str, str]],
        choose: Callable[[list[Stat]], Sequence[int]] = regular_ids,
        limit: float = 20,
    ) -> DiffCopyResult:
        """One DiffCopy as the receiver: list, REQ what ``choose`` picks, FIN (``limit`` s)."""
        assert self.channel is not None
        call = self.channel.stream_stream(
            DIFFCOPY,
            request_serializer=Packet.SerializeToString,
            response_deserializer=Packet.FromString,
        )(metadata=tuple(metadata))
        res = DiffCopyResult()
        inbox: asyncio.Queue[Packet | None] = asyncio.Queue()

        async def receive() -> None:
            # always reading, as the daemon does: grpc drops unread messages when the call
            # ends while we write
            try:
                while (pkt := await call.read()) is not grpc.aio.EOF:
                    assert isinstance(pkt, Packet)
                    inbox.put_nowait(pkt)
            except grpc.aio.AioRpcError:
                pass
            finally:
                inbox.put_nowait(None)

        async def read() -> Packet | None:
            pkt = await inbox.get()
            if pkt is None:
                inbox.put_nowait(None)
                return None
            if pkt.type == ERR:
                res.err = pkt.data.decode("utf-8", "replace")
                return None
            return pkt

        async def write(pkt: Packet) -> bool:
            try:
                await call.write(pkt)
            except grpc.aio.AioRpcError:
                return False  # the sender ended the call (after an ERR, still to be read)
            return True

        async def run() -> None:
            while (pkt := await read()) is not None:
                if pkt.type == STAT:
                    if not pkt.HasField("stat"):
                        break
                    res.stats.append(pkt.stat)
            else:
                return
            wanted = list(choose(res.stats))
            pending = set(wanted)
            for file_id in wanted:
                if not await write(Packet(type=REQ, ID=file_id)):
                    pending.clear()
                    break
            while pending and (pkt := await read()) is not None:
                if pkt.type == DATA:
                    if pkt.data:
                        res.data[pkt.ID] = res.data.get(pkt.ID, b"") + pkt.data
                    else:
                        pending.discard(pkt.ID)
            if not pending and res.err is None:
                await write(Packet(type=FIN))
            while (pkt := await read()) is not None:
                res.fin = res.fin or pkt.type == FIN

        receiver = asyncio.ensure_future(receive())
        try:
            async with asyncio.timeout(limit):
                await run()
                await receiver
                res.code = await call.code()
                res.details = await call.details() or ""
        finally:
            call.cancel()
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver
        return res
