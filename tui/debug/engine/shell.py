"""A debug process seen as a terminal link: ordered input and resizes, exit status."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from tui.buildkit.aio import cancel_child
from tui.debug.engine.container import Process

if TYPE_CHECKING:
    from tui.debug.engine.handle import ProcessHandle

InputItem = bytes | tuple[int, int]
MAX_WRITE = 32 * 1024
"""Largest stdin message: the daemon refuses a gRPC message over 4 MiB by ending the stream."""


async def forward_input(proc: Process, queue: asyncio.Queue[InputItem]) -> None:
    """Send queued keystrokes (bytes) and resizes ((rows, cols)) to ``proc``, in order.

    An empty bytes item closes the process's stdin and ends the forwarding. Bytes go out in
    messages of at most ``MAX_WRITE`` (a 10 MB paste in one message killed the shell).
    """
    while True:
        item = await queue.get()
        if isinstance(item, tuple):
            await proc.resize(*item)
            continue
        if not item:
            await proc.close_stdin()
            return
        for off in range(0, len(item), MAX_WRITE):
            await proc.write(item[off:off + MAX_WRITE])


class Shell:
    """A running debug process, driven without blocking: ``send`` and ``resize`` queue.

    ``label`` says where it runs (e.g. ``final state of [4/5] RUN ...``).
    """

    def __init__(self, proc: ProcessHandle, label: str) -> None:
        self.proc = proc
        self.label = label
        self._queue: asyncio.Queue[InputItem] = asyncio.Queue()
        self._forward = asyncio.create_task(forward_input(proc, self._queue))

    def send(self, data: bytes) -> None:
        """Queue bytes for the process's stdin."""
        if data:
            self._queue.put_nowait(data)

    def resize(self, rows: int, cols: int) -> None:
        """Queue a terminal size for the process."""
        self._queue.put_nowait((max(rows, 1), max(cols, 1)))

    @property
    def finished(self) -> bool:
        """Whether the process has exited."""
        return self.proc.finished

    async def wait(self) -> int:
        """The exit status, once the process has exited."""
        try:
            return await self.proc.wait()
        finally:
            await self.stop_forwarding()

    async def stop_forwarding(self) -> None:
        """Stop sending input (the process is gone or being released)."""
        await cancel_child(self._forward, Exception)

    async def kill(self) -> None:
        """End the process (SIGKILL); its container is released once it has exited."""
        await self.stop_forwarding()
        with contextlib.suppress(Exception):
            await self.proc.signal("KILL")

    def exit_message(self) -> str:
        """One line on how the process ended."""
        code = self.proc.exit_code
        if code is None:
            return "still running"
        if code == 0:
            return "exited with status 0"
        detail = self.proc.error or ""
        # The daemon's text for a plain non-zero exit just repeats the code.
        if detail and "exit code" not in detail:
            return f"exited with status {code}: {detail}"
        return f"exited with status {code}"
