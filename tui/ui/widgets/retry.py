"""The retry line (``e``) and the write-back confirmation (``w``)."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from tui.debug.model.retry import TryHistory

__all__ = ["RetryLine", "WriteBackScreen"]


class RetryLine(Vertical):
    """An editable command line for the failed RUN; Enter tries it, up/down walk the tries."""

    DEFAULT_CSS = """
    RetryLine { dock: bottom; height: auto; border-top: solid $accent; padding: 0 1; }
    RetryLine > #retry-state { height: 1; color: $text-muted; }
    RetryLine > Input#retry-input { border: none; height: 1; padding: 0 1; }
    RetryLine > Input#retry-input:focus { border: none; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "older", "Older try", show=False, tooltip="the previous try's command"),
        Binding("down", "newer", "Newer try", show=False, tooltip="the next try's command"),
        Binding("escape", "close", "Close", show=False,
                tooltip="close the retry line (w then writes a passing try back)"),
    ]

    class Try(Message):
        """Enter: run ``command`` in a fresh initial-state container of the failed step."""

        def __init__(self, command: str) -> None:
            super().__init__()
            self.command = command

    class Closed(Message):
        """The retry line was closed."""

    def __init__(self, history: TryHistory, command: str, notes: list[str]) -> None:
        super().__init__(id="retry-line")
        self.history = history
        self._command = command
        self._notes = notes

    def compose(self) -> ComposeResult:
        """A state line above the input."""
        yield Static(self._idle_text(), id="retry-state")
        yield Input(self._command, id="retry-input", select_on_focus=False)

    @property
    def input(self) -> Input:
        """The command being edited."""
        return self.query_one(Input)

    def _idle_text(self) -> str:
        note = f" · not reproduced: {'; '.join(self._notes)}" if self._notes else ""
        return ("retry in the failed step's initial state: Enter runs · ↑↓ tries · "
                f"esc closes{note}")

    def show_state(self, text: str) -> None:
        """What the last try did (running, its exit status)."""
        self.query_one("#retry-state", Static).update(Text(text))

    def focus_input(self) -> None:
        """Focus the command, its cursor at the end."""
        self.input.focus()
        self.input.cursor_position = len(self.input.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter: ask the app to run the command."""
        event.stop()
        if event.value.strip():
            self.post_message(self.Try(event.value))

    def action_older(self) -> None:
        """Up: the previous try's command."""
        self.input.value = self.history.older(self.input.value)
        self.input.cursor_position = len(self.input.value)

    def action_newer(self) -> None:
        """Down: the next try's command (the draft after the last)."""
        self.input.value = self.history.newer()
        self.input.cursor_position = len(self.input.value)

    def action_close(self) -> None:
        """Escape: close the line."""
        self.post_message(self.Closed())


class WriteBackScreen(ModalScreen[bool]):
    """The unified diff of the write-back; ``y`` writes, ``n``/escape does not."""

    DEFAULT_CSS = """
    WriteBackScreen { align: center middle; }
    WriteBackScreen > Vertical { width: 90%; height: auto; max-height: 90%;
                                 border: thick $accent; background: $surface; padding: 0 1; }
    WriteBackScreen VerticalScroll { height: auto; max-height: 30; }
    WriteBackScreen #wb-question { height: 1; margin-top: 1; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Write", tooltip="write the change into the Dockerfile"),
        Binding("n,escape", "answer(False)", "Cancel", tooltip="leave the Dockerfile as it is"),
    ]

    def __init__(self, path: str, diff: str) -> None:
        super().__init__()
        self.path = path
        self.diff = diff

    def compose(self) -> ComposeResult:
        """The diff, colored, and the question."""
        text = Text()
        for line in self.diff.splitlines():
            style = ("green" if line.startswith("+") and not line.startswith("+++") else
                     "red" if line.startswith("-") and not line.startswith("---") else
                     "cyan" if line.startswith("@@") else "")
            text.append(line + "\n", style=style)
        with Vertical():
            yield Static(Text(f"Write the command back into {self.path}?", style="bold"))
            with VerticalScroll():
                yield Static(text, id="wb-diff")
            yield Static("y writes · n or esc cancels", id="wb-question")

    def action_answer(self, write: bool) -> None:
        """Close with the answer."""
        self.dismiss(write)
