"""The terminal pane's link to a shell that may not have started yet."""

from __future__ import annotations

from tui.debug.shell import Shell


class ShellLink:
    """Forwards the pane's input and sizes to a Shell; keeps the latest size until it exists.

    Keys typed before the shell has started are dropped (there is nothing to receive them).
    """

    def __init__(self) -> None:
        self.shell: Shell | None = None
        self.size: tuple[int, int] | None = None

    def connect(self, shell: Shell) -> None:
        """The shell has started: from now on everything goes to it."""
        self.shell = shell
        if self.size is not None:
            shell.resize(*self.size)

    def send(self, data: bytes) -> None:
        """Keystrokes, pastes and replies for the process."""
        if self.shell is not None and not self.shell.finished:
            self.shell.send(data)

    def resize(self, rows: int, cols: int) -> None:
        """The pane's size changed."""
        self.size = (rows, cols)
        if self.shell is not None and not self.shell.finished:
            self.shell.resize(rows, cols)
