"""The terminal pane's link to a shell that may not have started yet."""

from __future__ import annotations

from tui.debug.shell import Shell


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
