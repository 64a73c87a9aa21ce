"""DiffCopy sender and receiver over in-memory packet queues."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import pytest

from tui.buildkit.fsync.diffcopy import (
    CHUNK_SIZE,
    DATA,
    ERR,
    FIN,
    REQ,
    STAT,
    Packet,
    ProtocolError,
    RemoteError,
    receive_tree,
    send_tree,
)
from tui.buildkit.fsync.entry import MODE_TYPE
from tui.buildkit.fsync.walk import walk

T = TypeVar("T")


class Wire:
    """One direction of a stream; packets go through real (de)serialisation."""

    def __init__(self, capacity: int = 0) -> None:
        self.queue: asyncio.Queue[Packet | None] = asyncio.Queue(capacity)
        self.sent: list[Packet] = []
        self.changed = asyncio.Event()

    async def send(self, pkt: Packet) -> None:
        copy = Packet.FromString(pkt.SerializeToString())
        self.sent.append(copy)
        self.changed.set()
        await self.queue.put(copy)

    async def until(self, cond: Callable[[], bool]) -> None:
        """Wait (at most 10 s) until ``cond()`` holds after something was sent."""

        async def watch() -> None:
            while not cond():
                self.changed.clear()
                await self.changed.wait()

        await within(watch(), 10)

    def close(self) -> None:
        self.queue.put_nowait(None)

    async def packets(self) -> AsyncIterator[Packet]:
        while (pkt := await self.queue.get()) is not None:
            yield pkt


async def within(aw: Awaitable[T], seconds: float = 30) -> T:
    return await asyncio.wait_for(aw, seconds)


async def transfer(src: Path, dst: Path, **kw: object) -> tuple[Wire, Wire]:
    down, up = Wire(), Wire()  # sender -> receiver, receiver -> sender
    await within(
        asyncio.gather(
            send_tree(up.packets(), down.send, str(src), **kw),  # type: ignore[arg-type]
            receive_tree(down.packets(), up.send, str(dst)),
        )
    )
    return down, up


def snapshot(root: Path) -> dict[str, tuple[int, int, int, str, bytes | None]]:
    out = {}
    for e in walk(str(root)):
        data = Path(e.os_path).read_bytes() if e.is_regular else None
        out[e.path] = (e.mode, e.size, e.mod_time_ns, e.linkname, data)
    return out


def build_tree(root: Path) -> None:
    root.mkdir()
    (root / "empty-dir").mkdir()
    (root / "d").mkdir()
    (root / "d" / "x.txt").write_text("x")
    (root / "d.txt").write_text("dot")
    (root / "empty-file").write_bytes(b"")
    (root / "big.bin").write_bytes(os.urandom(3 * CHUNK_SIZE + 12345))
    (root / "mid.bin").write_bytes(os.urandom(200_000))
    for i in range(30):
        (root / "d" / f"n{i:02d}").write_bytes(os.urandom(i * 997))
    os.symlink("d/x.txt", root / "rel-link")
    os.symlink("/nonexistent/abs", root / "abs-link")
    os.symlink("missing", root / "d" / "dangling")
    os.link(root / "d.txt", root / "d" / "hard")
    os.mkfifo(root / "fifo")
    (root / "suid").write_text("s")
    os.chmod(root / "suid", 0o4755)
    (root / "ro").write_text("read only")
    os.chmod(root / "ro", 0o444)
    (root / "sticky").mkdir()
    os.chmod(root / "sticky", 0o1777)
    (root / "locked").mkdir()
    (root / "locked" / "inner").write_text("i")
    os.chmod(root / "locked", 0o555)
    if os.geteuid() == 0:
        os.mknod(root / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    stamp = 1_600_000_000_000_000_000
    for n, e in enumerate(sorted(walk(str(root)), key=lambda e: -e.path.count("/"))):
        os.utime(e.os_path, ns=(stamp, stamp + n * 1_000_003), follow_symlinks=False)


async def test_round_trip_reproduces_tree(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    build_tree(src)
    sent: list[int] = []
    down, up = await transfer(src, dst, progress=sent.append)
    assert snapshot(dst) == snapshot(src)
    assert os.stat(dst / "d.txt").st_ino == os.stat(dst / "d" / "hard").st_ino
    assert stat.S_ISFIFO(os.lstat(dst / "fifo").st_mode)
    assert os.readlink(dst / "abs-link") == "/nonexistent/abs"
    # protocol shape: listing, end of listing, DATA per requested file, FIN both ways
    stats = [p for p in down.sent if p.type == STAT]
    assert not stats[-1].HasField("stat")
    assert [p.stat.path for p in stats[:-1]] == [e.path for e in walk(str(src))]
    regular = {
        i for i, p in enumerate(stats[:-1]) if not p.stat.mode & MODE_TYPE and not p.stat.linkname
    }
    assert {p.ID for p in up.sent if p.type == REQ} == regular
    assert max(len(p.data) for p in down.sent if p.type == DATA) == CHUNK_SIZE
    assert down.sent[-1].type == FIN and up.sent[-1].type == FIN
    assert all(p.stat.uid == 0 and p.stat.gid == 0 for p in stats[:-1])  # like buildx
    assert sum(sent) > 3 * CHUNK_SIZE


async def test_filters_apply_to_the_transfer(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    build_tree(src)
    await transfer(
        src, dst, include_patterns=["d", "*.bin"], exclude_patterns=["d/n*", "!d/n01"],
        followpaths=["rel-link"],
    )
    got = sorted(e.path for e in walk(str(dst)))
    assert got == ["big.bin", "d", "d/dangling", "d/hard", "d/n01", "d/x.txt", "mid.bin",
                   "rel-link"]
    # d/hard's first occurrence (d.txt) was filtered out, so it arrives as a plain file
    assert (dst / "d" / "hard").read_text() == "dot"


async def test_merge_into_existing_destination(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    (src / "a").mkdir(parents=True)
    (src / "a" / "f").write_text("new")
    (src / "was-dir").write_text("file now")
    (dst / "a").mkdir(parents=True)
    (dst / "a" / "f").write_text("old content, longer")
    (dst / "a" / "keep").write_text("untouched")
    (dst / "was-dir" / "sub").mkdir(parents=True)
    await transfer(src, dst)
    assert (dst / "a" / "f").read_text() == "new"
    assert (dst / "a" / "keep").read_text() == "untouched"
    assert (dst / "was-dir").read_text() == "file now"


async def test_empty_tree(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    down, up = await transfer(tmp_path / "src", tmp_path / "dst")
    assert [p.type for p in down.sent] == [STAT, FIN]
    assert [p.type for p in up.sent] == [FIN]


async def go_like_sender(recv: AsyncIterator[Packet], send: Wire, root: Path) -> None:
    """fsutil's sender shape: REQs go to a small bounded pipeline that one worker drains,
    so it stops reading REQs while its DATA is not being consumed."""
    entries = list(walk(str(root)))
    pipeline: asyncio.Queue[int] = asyncio.Queue(1)

    async def worker() -> None:
        while True:
            file_id = await pipeline.get()
            await send.send(Packet(type=DATA, ID=file_id, data=entries[file_id].path.encode()))
            await send.send(Packet(type=DATA, ID=file_id))

    async def stats() -> None:
        for e in entries:
            await send.send(Packet(type=STAT, stat=e.to_stat()))
        await send.send(Packet(type=STAT))

    tasks = [asyncio.ensure_future(worker()), asyncio.ensure_future(stats())]
    async for pkt in recv:
        if pkt.type == REQ:
            await pipeline.put(pkt.ID)
        elif pkt.type == FIN:
            await send.send(Packet(type=FIN))
            break
    for task in tasks:
        task.cancel()


async def test_receiver_keeps_reading_while_requests_back_up(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for i in range(60):
        (src / f"f{i:02d}").write_text(f"f{i:02d}")
    down, up = Wire(capacity=1), Wire(capacity=1)  # tiny transport windows
    await within(
        asyncio.gather(
            go_like_sender(up.packets(), down, src),
            receive_tree(down.packets(), up.send, str(tmp_path / "dst")),
        ),
        10,
    )
    assert all((tmp_path / "dst" / f"f{i:02d}").read_text() == f"f{i:02d}" for i in range(60))


# ---------------------------------------------------------------- sender protocol


def eofs(wire: Wire) -> int:
    return sum(1 for p in wire.sent if p.type == DATA and not p.data)


async def run_sender(
    root: Path, script: list[Packet | int], **kw: object
) -> tuple[Wire, Exception | None]:
    """Feed ``script`` to the sender once the listing is complete (an int: wait for that
    many finished files first). The stream is never closed by this fake receiver.
    """
    down, up = Wire(), Wire()
    task = asyncio.ensure_future(send_tree(up.packets(), down.send, str(root), **kw))  # type: ignore[arg-type]
    await down.until(
        lambda: any(p.type == ERR or (p.type == STAT and not p.HasField("stat")) for p in down.sent)
    )
    for pkt in script:
        if isinstance(pkt, int):
            await down.until(lambda n=pkt: eofs(down) >= n)  # type: ignore[misc]
        else:
            await up.send(pkt)
    try:
        await within(task, 10)
    except Exception as exc:
        return down, exc
    return down, None


@pytest.mark.parametrize("bad", [999, 0, 1])  # 0 is the directory, 1 requested twice
async def test_sender_rejects_bad_request_ids(tmp_path: Path, bad: int) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("f")
    script = [Packet(type=REQ, ID=1), Packet(type=REQ, ID=bad)]
    down, exc = await run_sender(tmp_path, script)
    assert isinstance(exc, ProtocolError)
    assert f"invalid file id {bad}" in str(exc)
    assert down.sent[-1].type == ERR
    assert b"invalid file id" in down.sent[-1].data


async def test_sender_answers_fin_without_waiting_for_half_close(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"0123456789")
    # the fake receiver never closes its side: the sender returns on FIN alone
    down, exc = await run_sender(
        tmp_path, [Packet(type=REQ, ID=0), 1, Packet(type=FIN)], reset_owner=False
    )
    assert exc is None
    data = b"".join(p.data for p in down.sent if p.type == DATA)
    assert data == b"0123456789"
    assert [p.type for p in down.sent][-3:] == [DATA, DATA, FIN]
    assert down.sent[0].stat.uid == os.getuid()


async def test_sender_raises_on_receiver_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("f")
    _, exc = await run_sender(tmp_path, [Packet(type=ERR, data=b"disk full")])
    assert isinstance(exc, RemoteError)
    assert "disk full" in str(exc)


async def test_sender_fails_when_stream_ends_early(tmp_path: Path) -> None:
    down, up = Wire(), Wire()
    up.close()
    with pytest.raises(ProtocolError):
        await within(send_tree(up.packets(), down.send, str(tmp_path)))


async def test_sender_reports_bad_patterns(tmp_path: Path) -> None:
    down, up = Wire(), Wire()
    with pytest.raises(ValueError):
        await within(send_tree(up.packets(), down.send, str(tmp_path), exclude_patterns=["!"]))
    assert [p.type for p in down.sent] == [ERR]


async def test_unreadable_file_is_sent_empty(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("content")
    down, up = Wire(), Wire()
    task = asyncio.ensure_future(send_tree(up.packets(), down.send, str(tmp_path)))
    await down.until(lambda: len(down.sent) >= 2)
    (tmp_path / "f").unlink()  # vanished after the listing: fsutil sends just the EOF
    await up.send(Packet(type=REQ, ID=0))
    await down.until(lambda: eofs(down) == 1)
    await up.send(Packet(type=FIN))
    await within(task)
    assert [(p.type, p.data) for p in down.sent[2:]] == [(DATA, b""), (FIN, b"")]


# ---------------------------------------------------------------- receiver protocol


def stat_pkt(path: str, mode: int, linkname: str = "", size: int = 0) -> Packet:
    pkt = Packet(type=STAT)
    pkt.stat.path, pkt.stat.mode, pkt.stat.linkname, pkt.stat.size = path, mode, linkname, size
    pkt.stat.modTime = 1_000_000_000
    return pkt


DIR, FILE, LINK = 0x800001ED, 0o644, 0x080001FF


async def run_receiver(dest: Path, script: list[Packet]) -> tuple[Wire, Exception | None]:
    down, up = Wire(), Wire()
    for pkt in script:
        await down.send(pkt)
    down.close()
    try:
        await within(receive_tree(down.packets(), up.send, str(dest)))
    except Exception as exc:
        return up, exc
    return up, None


def find_evil(root: Path) -> list[Path]:
    return list(root.glob("**/evil")) + list(root.parent.glob("evil"))


@pytest.mark.parametrize(
    "script",
    [
        [stat_pkt("../evil", FILE)],
        [stat_pkt("/etc/evil", FILE)],
        [stat_pkt("a/../../evil", FILE)],
        [stat_pkt("..", DIR)],
        [stat_pkt(".", DIR)],
        [stat_pkt("b", FILE), stat_pkt("a", FILE)],  # out of order
        [stat_pkt("x/evil", FILE)],  # parent never sent
        [stat_pkt("l", LINK, "/"), stat_pkt("l/evil", FILE)],  # parent is a symlink
        [stat_pkt("f", FILE), stat_pkt("f/evil", FILE)],  # parent is a file
        [stat_pkt("h", FILE, "../../outside")],  # hardlink to an unknown path
        [stat_pkt("d", DIR), stat_pkt("d.txt", FILE), stat_pkt("d/x.txt", FILE)],
    ],
)
async def test_receiver_refuses_bad_paths(tmp_path: Path, script: list[Packet]) -> None:
    dest = tmp_path / "dest"
    up, exc = await run_receiver(dest, script)
    assert isinstance(exc, ProtocolError)
    assert up.sent[-1].type == ERR
    assert not find_evil(tmp_path)


async def test_receiver_replaces_planted_symlink(tmp_path: Path) -> None:
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    outside.mkdir()
    dest.mkdir()
    os.symlink(str(outside), dest / "d")
    down, up = Wire(), Wire()
    task = asyncio.ensure_future(receive_tree(down.packets(), up.send, str(dest)))
    for pkt in [stat_pkt("d", DIR), stat_pkt("d/f", FILE, size=2), Packet(type=STAT)]:
        await down.send(pkt)
    await up.until(lambda: bool(up.sent))
    assert (up.sent[0].type, up.sent[0].ID) == (REQ, 1)
    await down.send(Packet(type=DATA, ID=1, data=b"ok"))
    await down.send(Packet(type=DATA, ID=1))
    await down.send(Packet(type=FIN))
    await within(task)
    assert [p.type for p in up.sent] == [REQ, FIN]
    assert not (dest / "d").is_symlink()
    assert (dest / "d" / "f").read_bytes() == b"ok"
    assert list(outside.iterdir()) == []


async def test_receiver_rejects_unknown_data_id(tmp_path: Path) -> None:
    up, exc = await run_receiver(tmp_path / "dest", [Packet(type=DATA, ID=7, data=b"x")])
    assert isinstance(exc, ProtocolError)
    assert up.sent[-1].type == ERR


async def test_receiver_needs_fin_and_reports_sender_errors(tmp_path: Path) -> None:
    _, exc = await run_receiver(tmp_path / "a", [stat_pkt("f", DIR)])
    assert isinstance(exc, ProtocolError)  # stream ended early
    _, exc = await run_receiver(tmp_path / "b", [Packet(type=FIN)])
    assert isinstance(exc, ProtocolError)  # FIN before ours
    _, exc = await run_receiver(tmp_path / "c", [Packet(type=ERR, data=b"boom")])
    assert isinstance(exc, RemoteError)
    assert "boom" in str(exc)
