"""ProcessHandle: one process for its user, switched to the toolbox variant when missing."""

from __future__ import annotations

import asyncio

import pytest

from tui.debug.engine.container import Drain, OutputFn, ProcessError
from tui.debug.engine.handle import RUNC_FAILED, ProcessHandle, StartSniffer

pytestmark = pytest.mark.timeout(30)

MISSING = RUNC_FAILED + b'unable to start container process: exec: "bash": ' \
    b"executable file not found in $PATH\r\n"


class FakeProcess:
    """A process that prints ``output`` and exits with ``code`` once told to."""

    def __init__(self, on_output: OutputFn, output: bytes = b"", code: int = 0) -> None:
        self.on_output = on_output
        self.output = output
        self.code = code
        self.exit = asyncio.Event()
        self.written: list[bytes] = []
        self.got_input = asyncio.Event()
        self.eof = False
        self.sizes: list[tuple[int, int]] = []
        self.drain: Drain | None = None
        self.exit_code: int | None = None
        self.error: str | None = None

    @property
    def finished(self) -> bool:
        return self.exit_code is not None

    def set_drain(self, drain: Drain | None) -> None:
        self.drain = drain

    async def write(self, data: bytes) -> None:
        self.written.append(data)
        self.got_input.set()

    async def close_stdin(self) -> None:
        self.eof = True

    async def resize(self, rows: int, cols: int) -> None:
        self.sizes.append((rows, cols))

    async def signal(self, name: str) -> None:
        self.exit.set()

    async def abort(self) -> None:
        self.exit.set()

    def end(self) -> None:
        if self.output:
            self.on_output(1, self.output)
        self.exit_code = self.code
        self.exit.set()

    async def wait(self) -> int:
        await self.exit.wait()
        assert self.exit_code is not None
        return self.exit_code


async def _drain() -> None:
    return None


async def test_a_missing_command_switches_to_the_toolbox_variant() -> None:
    shown = bytearray()
    sniffer = StartSniffer(lambda _fd, data: shown.extend(data))
    first = FakeProcess(sniffer.sink, MISSING, code=1)
    second = FakeProcess(lambda _fd, data: shown.extend(data), b"toolbox$ ", code=0)
    sizes: list[tuple[int, int]] = []

    async def restart(rows: int, cols: int) -> FakeProcess:
        sizes.append((rows, cols))
        return second

    handle = ProcessHandle(first, 24, 80, sniffer=sniffer, restart=restart)
    notices: list[str] = []
    handle.on_fallback(lambda: notices.append("toolbox"))
    handle.set_drain(_drain)
    await handle.write(b"ls\r")  # typed before anything showed: replayed to the variant
    await handle.resize(30, 100)
    waiter = asyncio.create_task(handle.wait())
    first.end()
    await asyncio.wait_for(second.got_input.wait(), 5)  # the switch replays the input
    assert not handle.finished  # the first ended, but the variant runs
    assert handle.fell_back and notices == ["toolbox"] and not handle.missing
    assert second.written == [b"ls\r"] and second.drain is _drain and sizes == [(30, 100)]
    assert bytes(shown) == b""  # runc's message was held back, never shown
    second.end()
    assert await waiter == 0
    assert handle.finished and handle.exit_code == 0 and bytes(shown) == b"toolbox$ "
    late: list[str] = []
    handle.on_fallback(lambda: late.append("now"))  # registered after the switch: at once
    assert late == ["now"]


async def test_missing_without_a_restart_says_so_and_keeps_runcs_message() -> None:
    shown = bytearray()
    sniffer = StartSniffer(lambda _fd, data: shown.extend(data))
    first = FakeProcess(sniffer.sink, MISSING, code=1)
    handle = ProcessHandle(first, 24, 80, sniffer=sniffer, restart=None)
    first.end()
    assert await handle.wait() == 1
    assert handle.missing and not handle.fell_back and handle.finished
    assert bytes(shown) == MISSING


async def test_a_failing_restart_leaves_the_command_missing() -> None:
    sniffer = StartSniffer(lambda _fd, _data: None)
    first = FakeProcess(sniffer.sink, MISSING, code=1)

    async def restart(_rows: int, _cols: int) -> FakeProcess:
        raise ProcessError("no toolbox")

    handle = ProcessHandle(first, 24, 80, sniffer=sniffer, restart=restart)
    first.end()
    assert await handle.wait() == 1
    assert handle.missing and not handle.fell_back


async def test_a_plain_handle_passes_everything_on() -> None:
    proc = FakeProcess(lambda _fd, _data: None, b"out", code=3)
    handle = ProcessHandle(proc, 24, 80)
    handle.set_drain(_drain)
    await handle.write(b"x")
    await handle.close_stdin()
    proc.end()
    assert await handle.wait() == 3
    assert proc.written == [b"x"] and proc.eof and proc.drain is _drain
    assert handle.finished and handle.exit_code == 3 and not handle.missing
