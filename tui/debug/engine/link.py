"""The terminal pane's link to a shell that may not have started yet."""

from __future__ import annotations

from collections.abc import Callable

from tui.debug.engine.shell import Shell


class ShellLink:
    """Forwards the pane's input and sizes to a Shell; holds both until the shell exists.

    Keys typed while the shell is starting are delivered once it has started (type-ahead).
    """

    def __init__(self) -> None:
        self.shell: Shell | None = None
        self.size: tuple[int, int] | None = None
        self._early: list[bytes] = []

    def connect(self, shell: Shell) -> None:
        """The shell has started: from now on everything goes to it."""
        self.shell = shell
        if self.size is not None:
            shell.resize(*self.size)
        for data in self._early:
            shell.send(data)
        self._early.clear()

    def send(self, data: bytes) -> None:
        """Keystrokes, pastes and replies for the process."""
        if self.shell is None:
            self._early.append(data)
        elif not self.shell.finished:
            self.shell.send(data)

    def resize(self, rows: int, cols: int) -> None:
        """The pane's size changed."""
        self.size = (rows, cols)
        if self.shell is not None and not self.shell.finished:
            self.shell.resize(rows, cols)


class HeldOutput:
    """Output of a shell started before anyone looks at it, kept until a pane takes over."""

    LIMIT = 1 << 20

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.target: Callable[[int, bytes], None] | None = None

    def __call__(self, fd: int, data: bytes) -> None:
        """The shell's output callback."""
        if self.target is not None:
            self.target(fd, data)
        elif len(self.buffer) < self.LIMIT:
            self.buffer += data

    def hand_over(self, target: Callable[[int, bytes], None]) -> bytes:
        """From now on output goes to ``target``; returns what was held."""
        held = bytes(self.buffer)
        self.buffer.clear()
        self.target = target
        return held
