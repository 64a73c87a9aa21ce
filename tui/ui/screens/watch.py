"""``--watch``'s question when the files changed while a shell is open: rebuild (ending it)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["ConfirmRebuild"]


class ConfirmRebuild(ModalScreen[bool]):
    """``what`` changed: y rebuilds (the open shells end), n or escape keeps them."""

    DEFAULT_CSS = """
    ConfirmRebuild { align: center middle; }
    ConfirmRebuild > Vertical {
        width: 80%; max-width: 100; height: auto; padding: 0 1;
        border: round $accent; background: $surface;
    }
    ConfirmRebuild Static { width: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Rebuild", show=False),
        Binding("n,escape", "answer(False)", "Keep", show=False),
    ]

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def compose(self) -> ComposeResult:
        """The question."""
        box = Vertical()
        box.border_title = "Files changed"
        box.border_subtitle = "y rebuilds · n keeps the shells"
        with box:
            yield Static(f"{self.what} changed. Rebuild now? The open shells end. (y/n)",
                         markup=False)

    def action_answer(self, yes: bool) -> None:
        """The answer (y: rebuild)."""
        self.dismiss(yes)
