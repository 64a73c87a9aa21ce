"""The fsutil DiffCopy protocol (``fsutil.types.Packet`` streams), transport-neutral.

``send_tree`` is the sender side of ``FileSync.DiffCopy`` (the daemon receives a local
directory); ``receive_tree`` is the receiver side used by the ``local`` exporter over
``FileSend.DiffCopy``. Both take an async iterator of incoming packets and an async
``send`` callable, so they run over grpc.aio streams or in-memory queues alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import errno
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from itertools import islice
from typing import Final, cast

from google.protobuf.message import DecodeError

from tui.buildkit.fsync.entry import NO_XATTRS, Entry
from tui.buildkit.fsync.errors import DiffCopyError, ProtocolError, RemoteError
from tui.buildkit.fsync.opener import FileOpener
from tui.buildkit.fsync.walk import Filter, open_filter, walk_filter
from tui.buildkit.proto import fsutil_types_pb2

__all__ = [
    "CHUNK_SIZE",
    "DATA",
    "ERR",
    "FIN",
    "REQ",
    "STAT",
    "DiffCopyError",
    "Packet",
    "ProtocolError",
    "RawPacket",
    "RemoteError",
    "parse_packet",
    "receive_tree",
    "send_tree",
    "stat_packet",
]

Packet = fsutil_types_pb2.Packet
SendFn = Callable[[Packet], Awaitable[None]]

STAT: Final = Packet.PACKET_STAT
REQ: Final = Packet.PACKET_REQ
DATA: Final = Packet.PACKET_DATA
FIN: Final = Packet.PACKET_FIN
ERR: Final = Packet.PACKET_ERR

CHUNK_SIZE: Final = 1024 * 1024
"""Largest DATA payload. Go sends 32 KiB, but per-message cost dominates in grpc.aio:
over a local grpc.aio stream 1 MiB chunks moved large files ~2.5x faster than 32 KiB.
BuildKit's session client accepts 16 MiB messages (4 MiB in old releases)."""
PARALLEL_FILES: Final = 4
"""Files served at once, as fsutil's sender."""
_INLINE_READ: Final = 64 * 1024
"""Files up to this size are read on the event loop (page-cache reads of a few
microseconds); larger ones are read in a worker thread, a chunk per call."""
_STAT_BATCH: Final = (64, 512)
_REPLACED: Final = (errno.ESTALE, errno.ELOOP, errno.EXDEV)
"""Open errors of a path that is no longer the regular file the walk listed."""


class RawPacket:
    """A STAT packet encoded by hand, for names that are not UTF-8.

    Python protobuf refuses such strings; Go's gogo-protobuf sends the raw bytes and the
    daemon takes them, so buildx uploads such names as they are. Stands in for a
    :class:`Packet` wherever the sender's packets are serialized.
    """

    __slots__ = ("_data",)
    type: Final = STAT

    def __init__(self, data: bytes) -> None:
        self._data = data

    def SerializeToString(self) -> bytes:
        """The encoded packet."""
        return self._data

    def ByteSize(self) -> int:
        """Its encoded size."""
        return len(self._data)

    def HasField(self, name: str) -> bool:
        """Only ``stat`` is set."""
        return name == "stat"


def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _len_field(num: int, data: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(data)) + data


def stat_packet(entry: Entry, reset_owner: bool) -> Packet:
    """The STAT packet of ``entry``; a :class:`RawPacket` if a name is not UTF-8."""
    try:
        return Packet(type=STAT, stat=entry.to_stat(reset_owner=reset_owner))
    except UnicodeEncodeError:
        pass
    bare = dataclasses.replace(entry, path="", linkname="", xattrs=NO_XATTRS)
    body = bare.to_stat(reset_owner=reset_owner).SerializeToString()
    body += _len_field(1, os.fsencode(entry.path))  # Stat.path
    if entry.linkname:
        body += _len_field(7, os.fsencode(entry.linkname))  # Stat.linkname
    for key, value in entry.xattrs.items():  # Stat.xattrs map entries
        body += _len_field(10, _len_field(1, os.fsencode(key)) + _len_field(2, value))
    return cast(Packet, RawPacket(_len_field(2, body)))  # Packet.stat; type STAT is 0


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise DecodeError("truncated varint")
        byte = buf[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, bytes, bytes]]:
    """(number, wire type, length-delimited payload or b"", the field's raw bytes)."""
    pos = 0
    while pos < len(buf):
        start = pos
        key, pos = _read_varint(buf, pos)
        wire = key & 7
        payload = b""
        if wire == 0:
            _, pos = _read_varint(buf, pos)
        elif wire == 2:
            size, pos = _read_varint(buf, pos)
            payload = buf[pos:pos + size]
            pos += size
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise DecodeError(f"unsupported wire type {wire}")
        if pos > len(buf):
            raise DecodeError("truncated field")
        yield key >> 3, wire, payload, buf[start:pos]


class _LooseStat:
    """A ``Stat`` with names that are not UTF-8.

    ``path``, ``linkname`` and xattr names are ``os.fsdecode``'d (surrogate escapes).
    """

    def __init__(self, base: fsutil_types_pb2.Stat, names: dict[int, bytes],
                 xattrs: dict[str, bytes]) -> None:
        self.path = os.fsdecode(names.get(1, b""))
        self.linkname = os.fsdecode(names.get(7, b""))
        self.xattrs = xattrs
        self.mode, self.uid, self.gid, self.size = base.mode, base.uid, base.gid, base.size
        self.modTime, self.devmajor, self.devminor = base.modTime, base.devmajor, base.devminor


class _LoosePacket:
    """A STAT packet carrying a :class:`_LooseStat`."""

    def __init__(self, base: Packet, stat: _LooseStat) -> None:
        self.type, self.ID, self.data, self.stat = base.type, base.ID, base.data, stat

    def HasField(self, name: str) -> bool:
        """Only ``stat`` is set."""
        return name == "stat"


def parse_packet(raw: bytes) -> Packet:
    """``Packet.FromString``, also taking the non-UTF-8 names a Go sender puts in a STAT.

    Python protobuf refuses them; such a packet's ``stat`` is a duck-typed stand-in.
    """
    try:
        return Packet.FromString(raw)
    except DecodeError as exc:
        error = exc
    rest, stat_raw = bytearray(), None
    for num, wire, payload, chunk in _fields(raw):
        if num == 2 and wire == 2:  # Packet.stat
            stat_raw = payload
        else:
            rest += chunk
    if stat_raw is None:
        raise error
    keep, names, xattrs = bytearray(), {}, {}
    for num, wire, payload, chunk in _fields(stat_raw):
        if wire == 2 and num in (1, 7):  # Stat.path, Stat.linkname
            names[num] = payload
        elif wire == 2 and num == 10:  # an xattrs map entry {1: key, 2: value}
            entry = {n: p for n, w, p, _ in _fields(payload) if w == 2}
            xattrs[os.fsdecode(entry.get(1, b""))] = entry.get(2, b"")
        else:
            keep += chunk
    base = Packet.FromString(bytes(rest))
    stat = _LooseStat(fsutil_types_pb2.Stat.FromString(bytes(keep)), names, xattrs)
    return cast(Packet, _LoosePacket(base, stat))


class _Sender:
    def __init__(
        self,
        send: SendFn,
        entries: Iterator[Entry],
        opener: FileOpener,
        reset_owner: bool,
        progress: Callable[[int], None] | None,
        stop_walk: threading.Event,
    ) -> None:
        self._send = send
        self._lock = asyncio.Lock()
        self._entries = entries
        self._stop_walk = stop_walk
        self._opener = opener
        self._reset_owner = reset_owner
        self._progress = progress
        self.finished = False
        self.files: dict[int, Entry] = {}
        self.queue: asyncio.Queue[tuple[int, Entry]] = asyncio.Queue()

    async def emit(self, pkt: Packet) -> None:
        async with self._lock:
            if self.finished:
                return  # nothing may follow our FIN
            self.finished = pkt.type == FIN
            await self._send(pkt)
        if self._progress is not None:
            self._progress(pkt.ByteSize())

    def _batch(self, size: int) -> list[tuple[Entry, Packet]]:
        reset = self._reset_owner
        return [(e, stat_packet(e, reset)) for e in islice(self._entries, size)]

    async def stats(self) -> None:
        """Send a STAT per entry (walking in a thread, one batch ahead), then the empty STAT."""
        ahead = asyncio.ensure_future(asyncio.to_thread(self._batch, _STAT_BATCH[0]))
        idx = 0
        try:
            while batch := await ahead:
                ahead = asyncio.ensure_future(asyncio.to_thread(self._batch, _STAT_BATCH[1]))
                for entry, pkt in batch:
                    if entry.is_regular:
                        self.files[idx] = entry
                    idx += 1
                    await self.emit(pkt)
        finally:
            self._stop_walk.set()  # a batch still walking (we were cancelled) ends at once
            ahead.cancel()
        await self.emit(Packet(type=STAT))

    async def serve(self) -> None:
        """One of the parallel file senders."""
        while True:
            file_id, entry = await self.queue.get()
            await self._send_file(file_id, entry)

    async def _send_file(self, file_id: int, entry: Entry) -> None:
        try:
            fd = self._opener.open(entry)
        except OSError as exc:
            if exc.errno in _REPLACED:
                # fsutil would read whatever is there now (through a symlink, from a
                # fifo); we never do, and say so rather than send an empty file.
                raise DiffCopyError(
                    f"open {entry.os_path}: replaced during the upload, try again"
                ) from exc
            fd = -1  # vanished or unreadable: fsutil sends just the closing empty DATA
        if fd >= 0:
            try:
                await self._stream(file_id, fd, entry.size)
            finally:
                os.close(fd)
        await self.emit(Packet(type=DATA, ID=file_id))

    async def _stream(self, file_id: int, fd: int, size: int) -> None:
        inline = size <= _INLINE_READ
        while True:
            if inline:
                data = os.read(fd, _INLINE_READ + 1)
                inline = len(data) <= _INLINE_READ  # grew since the walk: use the thread
            else:
                data = await asyncio.to_thread(os.read, fd, CHUNK_SIZE)
            if not data:
                return
            await self.emit(Packet(type=DATA, ID=file_id, data=data))

    def request(self, file_id: int) -> None:
        entry = self.files.pop(file_id, None)
        if entry is None:
            raise ProtocolError(f"invalid file id {file_id}")
        self.queue.put_nowait((file_id, entry))


async def _send_error(send: SendFn, exc: BaseException) -> None:
    with contextlib.suppress(Exception):
        await send(Packet(type=ERR, data=str(exc).encode("utf-8", "replace")))


async def send_tree(
    recv: AsyncIterator[Packet],
    send: SendFn,
    root: str,
    *,
    include_patterns: Iterable[str] = (),
    exclude_patterns: Iterable[str] = (),
    followpaths: Iterable[str] = (),
    prepared: Filter | None = None,
    progress: Callable[[int], None] | None = None,
    reset_owner: bool = True,
) -> None:
    """Send ``root`` as the fsutil sender until the receiver's FIN (answered with FIN).

    Streams a STAT per walked entry (ids by position) and an empty STAT while serving
    REQs with DATA chunks and a closing empty DATA, :data:`PARALLEL_FILES` files at a
    time. Returns right after sending FIN, without waiting for the stream to close.
    ``progress`` receives the size of every packet sent. ``reset_owner`` sends uid/gid 0
    like the Go client (``resetUIDAndGID``); so files COPY'd without ``--chown`` are
    root-owned as with buildx. ``prepared``: the walk's :class:`Filter`, already built by
    :func:`open_filter` for ``root`` (the pattern arguments are then not used). Raises
    :class:`RemoteError` on the peer's ERR and :class:`ProtocolError` (after sending ERR)
    on a bad REQ or a stream that ends early.
    """
    try:
        flt = prepared if prepared is not None else open_filter(
            root, include_patterns, exclude_patterns, followpaths)
        stop_walk = threading.Event()
        entries = walk_filter(flt, stop_walk)
        opener = FileOpener(root)
    except Exception as exc:
        await _send_error(send, exc)
        raise
    sender = _Sender(send, entries, opener, reset_owner, progress, stop_walk)

    async def read() -> None:
        async for pkt in recv:
            if pkt.type == REQ:
                sender.request(pkt.ID)
            elif pkt.type == FIN:
                await sender.emit(Packet(type=FIN))
                return
            elif pkt.type == ERR:
                raise RemoteError(f"error from receiver: {pkt.data.decode('utf-8', 'replace')}")
        raise ProtocolError("stream ended before FIN")

    reader: asyncio.Future[None] = asyncio.ensure_future(read())
    others: list[asyncio.Future[None]] = [asyncio.ensure_future(sender.stats())]
    others += [asyncio.ensure_future(sender.serve()) for _ in range(PARALLEL_FILES)]
    try:
        await _until_done(reader, others)
    except Exception as exc:
        await _cancel([reader, *others])
        if not isinstance(exc, RemoteError):
            await _send_error(send, exc)
        raise
    finally:
        await _cancel([reader, *others])
        opener.close()


async def _until_done(main: asyncio.Future[None], helpers: list[asyncio.Future[None]]) -> None:
    """Wait for ``main``; re-raise the first failure of any task."""
    pending: set[asyncio.Future[None]] = {main, *helpers}
    while True:
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                task.result()
        if main in done:
            return


async def _cancel(tasks: list[asyncio.Future[None]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def receive_tree(recv: AsyncIterator[Packet], send: SendFn, dest: str) -> None:
    """Receive a tree into ``dest`` as the fsutil receiver (``local`` exporter).

    Creates entries as their STATs arrive (dirs, symlinks, hardlinks, fifos/devices,
    empty regular files), REQuests every regular file, writes its DATA until the empty
    DATA, then sets modes and mtimes; after the empty STAT and the last file it applies
    directory metadata, sends FIN and returns on the sender's FIN. Existing files are
    replaced, others kept (fsutil's merge mode); ownership is left to the current user.
    Paths must be clean, relative, in walk order and under ``dest``.
    """
    from tui.buildkit.fsync.receiver import Receiver  # exports only

    rx: Receiver | None = None
    outbox: asyncio.Queue[Packet] = asyncio.Queue()

    async def write() -> None:
        # REQs go out from here so that reading never waits on the peer (fsutil's sender
        # stops reading REQs while its DATA is not consumed: waiting would deadlock).
        while True:
            await send(await outbox.get())

    async def read() -> None:
        nonlocal rx
        rx = Receiver(dest)
        fin_sent = False
        async for pkt in recv:
            kind = pkt.type
            if kind == DATA:
                rx.data(pkt.ID, pkt.data)
            elif kind == STAT:
                if pkt.HasField("stat"):
                    file_id = rx.stat(pkt.stat)
                    if file_id is not None:
                        outbox.put_nowait(Packet(type=REQ, ID=file_id))
                else:
                    rx.end_of_listing()
            elif kind == FIN:
                if not fin_sent:
                    raise ProtocolError("FIN from sender before the transfer completed")
                return
            elif kind == ERR:
                raise RemoteError(f"error from sender: {pkt.data.decode('utf-8', 'replace')}")
            if not fin_sent and rx.complete:
                rx.finish()
                outbox.put_nowait(Packet(type=FIN))
                fin_sent = True
        raise ProtocolError("stream ended before FIN")

    reader: asyncio.Future[None] = asyncio.ensure_future(read())
    writer: asyncio.Future[None] = asyncio.ensure_future(write())
    try:
        await _until_done(reader, [writer])
    except Exception as exc:
        await _cancel([reader, writer])
        if not isinstance(exc, RemoteError):
            await _send_error(send, exc)
        raise
    finally:
        await _cancel([reader, writer])
        if rx is not None:
            rx.close()
