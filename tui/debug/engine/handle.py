"""One debug process as its user sees it, whichever container process runs it now.

A command missing from the state shows only as an exit after the start (runc's message on
the output, exit 1).  The handle then starts the same command with the toolbox and switches
to it: the user keeps one object, its input, size, flow control and exit status follow the
process that runs (as buildx's monitor keeps one process with a switchable forwarder).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from tui.debug.engine.container import Drain, OutputFn, Process, ProcessError

__all__ = ["RUNC_FAILED", "ProcessHandle", "Restart", "StartSniffer", "command_not_found"]

_NOT_FOUND = re.compile(r'exec: "[^"]*": (?:stat [^:]*: )?(?:no such file or directory|'
                        r"executable file not found)|exec format error")
#: How runc's init reports a command it cannot start (on the process's output, exit 1).
RUNC_FAILED = b"runc run failed: "
#: Input kept for a restart until the first process shows that it runs.
_REPLAY_CAP = 1 << 20

#: Starts the toolbox variant of the command at the given (rows, cols).
Restart = Callable[[int, int], Awaitable[Process]]


def command_not_found(text: str | None) -> bool:
    """Whether runc's message says the command does not exist in the state."""
    return bool(text) and _NOT_FOUND.search(text or "") is not None


class StartSniffer:
    """Holds a process's first output while it may be runc's "command not found" message."""

    def __init__(self, on_output: OutputFn) -> None:
        self.on_output = on_output
        self.held: list[tuple[int, bytes]] = []
        self.passing = False

    def sink(self, fd: int, data: bytes) -> None:
        """The output callback for the first process."""
        if self.passing:
            self.on_output(fd, data)
            return
        self.held.append((fd, data))
        head = b"".join(d for _, d in self.held)
        if not (RUNC_FAILED.startswith(head) or head.startswith(RUNC_FAILED)):
            self.release()

    def release(self) -> None:
        """Pass on what was held; everything after goes straight through."""
        held, self.held = self.held, []
        self.passing = True
        for fd, data in held:
            self.on_output(fd, data)

    def not_found(self) -> bool:
        """Whether the held output is runc saying the command does not exist."""
        head = b"".join(d for _, d in self.held)
        return head.startswith(RUNC_FAILED) and command_not_found(head.decode("utf-8", "replace"))


class ProcessHandle:
    """The process a shell runs: the first one, or the toolbox variant that replaced it.

    Without a ``sniffer`` (a process started with the toolbox already) it only passes
    everything on.  With one, a missing command is found out in :meth:`wait`: ``restart``
    starts the toolbox variant (input typed meanwhile is replayed to it), or, when there is
    none (an absolute path) or it fails too, :attr:`missing` says the command is not there.
    """

    def __init__(self, first: Process, rows: int, cols: int, *,
                 sniffer: StartSniffer | None = None, restart: Restart | None = None) -> None:
        self._current = first
        self._sniffer = sniffer
        self._restart = restart
        self._size = (rows, cols)
        self._drain: Drain | None = None
        self._replay: list[bytes] = []
        self._replay_size = 0
        self._eof = False
        self._on_fallback: Callable[[], None] | None = None
        #: The toolbox variant replaced the first process (its command was missing).
        self.fell_back = False
        #: The command is not in the state (runc said so) and nothing replaced it.
        self.missing = False

    def on_fallback(self, notice: Callable[[], None]) -> None:
        """Call ``notice`` once the toolbox variant has taken over (now, if it already has)."""
        if self.fell_back:
            notice()
        else:
            self._on_fallback = notice

    def set_drain(self, drain: Drain | None) -> None:
        """Flow control for this process and any that replaces it."""
        self._drain = drain
        self._current.set_drain(drain)

    @property
    def current(self) -> Process:
        """The process that runs now (the first one, or the toolbox variant)."""
        return self._current

    @property
    def exit_code(self) -> int | None:
        """The running process's exit status (None while it runs)."""
        return self._current.exit_code

    @property
    def error(self) -> str | None:
        """The daemon's message for the running process's non-zero exit."""
        return self._current.error

    @property
    def finished(self) -> bool:
        """True once the (last) process has ended."""
        if not self._current.finished:
            return False
        return self._sniffer is None or self.fell_back or not self._sniffer.not_found()

    async def write(self, data: bytes) -> None:
        """Send bytes to the current process (kept for a restart until it has printed)."""
        sniffer = self._sniffer
        if sniffer is not None and not self.fell_back and not sniffer.passing \
                and self._replay_size < _REPLAY_CAP:
            self._replay.append(data)
            self._replay_size += len(data)
        await self._current.write(data)

    async def close_stdin(self) -> None:
        """EOF to the current process (and to one that replaces it)."""
        self._eof = True
        await self._current.close_stdin()

    async def resize(self, rows: int, cols: int) -> None:
        """Resize the current process (remembered for a restart)."""
        self._size = (rows, cols)
        await self._current.resize(rows, cols)

    async def signal(self, name: str) -> None:
        """Signal the current process."""
        await self._current.signal(name)

    async def abort(self) -> None:
        """Abort the current process's stream."""
        await self._current.abort()

    async def wait(self) -> int:
        """The exit code, after switching to the toolbox variant when the command was missing."""
        code = await self._current.wait()
        sniffer = self._sniffer
        if sniffer is None or self.fell_back:
            return code
        if code == 0 or not sniffer.not_found():
            sniffer.release()
            return code
        replacement = await self._restarted()
        if replacement is None:
            self.missing = True
            sniffer.release()  # runc's message stays: the command is not there
            return code
        sniffer.held.clear()
        await self._switch(replacement)
        return await self._current.wait()

    async def _restarted(self) -> Process | None:
        if self._restart is None:
            return None
        try:
            return await self._restart(*self._size)
        except ProcessError:
            return None

    async def _switch(self, replacement: Process) -> None:
        self.fell_back = True
        self._current = replacement
        replacement.set_drain(self._drain)
        replay, self._replay = self._replay, []
        for data in replay:
            await replacement.write(data)
        if self._eof:
            await replacement.close_stdin()
        if self._on_fallback is not None:
            self._on_fallback()
