"""copy_state_path over a fake helper: the tar stream's end decides (a failing ``tar`` leaves
nothing behind), a writer error stops the process, the probe resolves links."""

from __future__ import annotations

import asyncio
import io
import os
import tarfile
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from tui.debug.engine.copyout import CopyError, copy_state_path
from tui.debug.engine.helper import Captured


def _archive(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            if name.endswith("/"):
                info.type, info.name = tarfile.DIRTYPE, name.rstrip("/")
                tar.addfile(info)
            else:
                info.size, info.mode = len(data), 0o640
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


class FakeProc:
    def __init__(self, chunks: list[bytes], code: int, err: bytes,
                 sink: Callable[[int, bytes], None],
                 drain: Callable[[], Awaitable[None]] | None) -> None:
        self.exit_code: int | None = None
        self.error: str | None = None
        self.aborted = False
        self._task = asyncio.ensure_future(self._run(chunks, code, err, sink, drain))

    async def _run(self, chunks: list[bytes], code: int, err: bytes,
                   sink: Callable[[int, bytes], None],
                   drain: Callable[[], Awaitable[None]] | None) -> None:
        for chunk in chunks:
            sink(1, chunk)
            if drain is not None:
                await drain()
        if err:
            sink(2, err)
        if code < 0:  # a process that would go on streaming: only abort() ends it
            await asyncio.Event().wait()
        self.exit_code = code

    async def wait(self) -> int:
        await self._task
        assert self.exit_code is not None
        return self.exit_code

    async def abort(self) -> None:
        self.aborted = True
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self.exit_code = 255


class FakeHelper:
    """Kinds per path for the probe; the tar output in chunks, then the exit code."""

    def __init__(self, kinds: dict[str, str], chunks: list[bytes], code: int = 0,
                 err: bytes = b"") -> None:
        self.kinds, self.chunks, self.code, self.err = kinds, chunks, code, err
        self.args: list[str] = []
        self.procs: list[FakeProc] = []

    def path(self, key: str, rel: str = "") -> str:
        return f"/s/{key}/{rel}".rstrip("/")

    async def run(self, args: list[str], cwd: str = "/") -> Captured:
        paths = args[5:]  # sh -c SCRIPT probe ROOT paths...
        out = "".join(self.kinds.get(p, "-") + "\n" for p in paths)
        return Captured(0, out.encode(), b"", None)

    async def spawn(self, args: list[str], sink: Callable[[int, bytes], None],
                    drain: Callable[[], Awaitable[None]] | None = None,
                    cwd: str = "/") -> FakeProc:
        self.args = args
        proc = FakeProc(self.chunks, self.code, self.err, sink, drain)
        self.procs.append(proc)
        return proc


def _chunks(data: bytes, size: int = 700) -> list[bytes]:
    return [data[i:i + size] for i in range(0, len(data), size)]


async def test_a_link_in_the_path_is_followed_inside_the_state(tmp_path: Path) -> None:
    data = _archive({"./d/": b"", "./d/f": b"hello" * 1000})
    helper = FakeHelper({"l": "L/real", "real": "D", "real/d": "D"}, _chunks(data))
    report = await copy_state_path(helper, "s", "/l/d", str(tmp_path / "out"))  # type: ignore[arg-type]
    assert helper.args == ["tar", "-C", "/s/s/real", "-cf", "-", "./d"]
    assert (tmp_path / "out" / "f").read_bytes() == b"hello" * 1000
    assert (report.files, report.dirs) == (1, 1)


async def test_a_failing_tar_leaves_nothing(tmp_path: Path) -> None:
    data = _archive({"./d/": b"", "./d/f": b"x" * 5000})
    helper = FakeHelper({"d": "D"}, _chunks(data)[:3], code=1, err=b"tar: d/f: Permission denied\n")
    with pytest.raises(CopyError, match="reading the state failed: tar: d/f: Permission denied"):
        await copy_state_path(helper, "s", "/d", str(tmp_path / "out"))  # type: ignore[arg-type]
    assert os.listdir(tmp_path) == []


async def test_a_writer_error_stops_the_process(tmp_path: Path) -> None:
    bad = _archive({"./d/": b"", "./e/x": b"x"})
    helper = FakeHelper({"d": "D"}, _chunks(bad, 512), code=-1)
    with pytest.raises(CopyError, match="outside the copy"):
        await copy_state_path(helper, "s", "/d", str(tmp_path / "out"))  # type: ignore[arg-type]
    assert helper.procs[0].aborted
    assert os.listdir(tmp_path) == []
