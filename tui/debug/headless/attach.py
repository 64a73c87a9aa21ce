"""Attach a debug process to the real terminal: raw mode, resize, restored on every path."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import termios
import tty
from collections.abc import Awaitable, Callable
from typing import Any, BinaryIO

from tui.buildkit.aio import cancel_child
from tui.debug.engine.container import OutputFn, Process
from tui.debug.engine.result import ResultContext
from tui.debug.engine.shell import InputItem, forward_input
from tui.debug.model.invoke import InvokeConfig


def terminal_size(fd: int) -> tuple[int, int]:
    """(rows, cols) of the terminal on ``fd``; 24x80 when it is not a terminal."""
    try:
        size = os.get_terminal_size(fd)
    except OSError:
        return 24, 80
    return size.lines, size.columns


class RawMode:
    """Puts a terminal in raw mode and restores its previous settings on exit."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._saved: list[Any] | None = None

    def __enter__(self) -> RawMode:
        if os.isatty(self.fd):
            self._saved = termios.tcgetattr(self.fd)
            tty.setraw(self.fd, termios.TCSANOW)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)
            self._saved = None


Starter = Callable[[InvokeConfig, OutputFn, int, int], Awaitable[Process]]


async def run_attached(
    ctx: ResultContext | Starter,
    cfg: InvokeConfig,
    stdin: BinaryIO | None = None,
    stdout: BinaryIO | None = None,
    banner: str = "",
) -> int:
    """Run ``cfg`` in a new container with this process's terminal; return its exit code.

    ``ctx`` is the result context (the failed step or the result) or a function starting
    the process elsewhere.  Keystrokes go to the process (stdin EOF closes its stdin), its
    output to stdout, and SIGWINCH resizes it.  The terminal is restored however this ends.
    ``banner`` is written once the terminal is raw (so nothing typed early is echoed twice).
    """
    in_fd = (stdin or sys.stdin.buffer).fileno()
    out = stdout or sys.stdout.buffer
    is_tty = os.isatty(in_fd)
    if not is_tty:
        cfg.tty = False
    rows, cols = terminal_size(out.fileno() if os.isatty(out.fileno()) else in_fd)

    def on_output(_fd: int, data: bytes) -> None:
        out.write(data)
        out.flush()

    raw = RawMode(in_fd) if is_tty else contextlib.nullcontext()
    with raw:
        if banner:  # on stderr: stdout carries only the process's output
            sys.stderr.write(banner.replace("\n", "\r\n") if is_tty else banner)
            sys.stderr.flush()
        proc: Process
        if isinstance(ctx, ResultContext):
            _, proc = await ctx.exec(cfg, on_output, rows, cols)
        else:
            proc = await ctx(cfg, on_output, rows, cols)
        return await _pump_terminal(proc, in_fd, out)


async def _pump_terminal(proc: Process, in_fd: int, out: BinaryIO) -> int:
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[InputItem] = asyncio.Queue()

    def on_stdin() -> None:
        try:
            data = os.read(in_fd, 65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            loop.remove_reader(in_fd)
        queue.put_nowait(data)

    def on_winch() -> None:
        queue.put_nowait(terminal_size(out.fileno() if os.isatty(out.fileno()) else in_fd))

    forward = asyncio.create_task(forward_input(proc, queue))
    try:
        loop.add_reader(in_fd, on_stdin)
    except PermissionError:  # a regular file (e.g. < /dev/null) cannot be polled: read it here
        while data := await asyncio.to_thread(os.read, in_fd, 65536):
            queue.put_nowait(data)
        queue.put_nowait(b"")
    loop.add_signal_handler(signal.SIGWINCH, on_winch)
    try:
        return await proc.wait()
    finally:
        loop.remove_signal_handler(signal.SIGWINCH)
        loop.remove_reader(in_fd)
        await cancel_child(forward)  # a signal's cancel of ours goes on
