"""The copy-out dialogs: where to copy (an editable path), and whether to overwrite."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

__all__ = ["ConfirmOverwrite", "CopyPrompt"]

_CSS = """
{name} {{
    align: center middle;
}}
{name} > Vertical {{
    width: 80%;
    max-width: 100;
    height: auto;
    padding: 0 1;
    border: round $accent;
    background: $surface;
}}
{name} Static {{ width: 1fr; }}
"""


def _box(title: str, subtitle: str) -> Vertical:
    box = Vertical()
    box.border_title = title
    box.border_subtitle = subtitle
    return box


class CopyPrompt(ModalScreen[str | None]):
    """Ask for the host path to copy ``what`` to; enter copies, escape cancels (None)."""

    DEFAULT_CSS = _CSS.format(name="CopyPrompt")
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, what: str, default: str) -> None:
        super().__init__()
        self.what = what
        self.default = default

    def compose(self) -> ComposeResult:
        """A line saying what is copied, and the path field."""
        with _box("Copy to the host", "enter copies · escape cancels"):
            yield Static(f"Copy {self.what} to:", markup=False)
            yield Input(self.default, id="copy-dest")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter: the path typed (an empty one cancels)."""
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        """Escape: nothing is copied."""
        self.dismiss(None)


class ConfirmOverwrite(ModalScreen[bool]):
    """``path`` exists: y replaces it, n or escape keeps it."""

    DEFAULT_CSS = _CSS.format(name="ConfirmOverwrite")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Overwrite", show=False),
        Binding("n,escape", "answer(False)", "Keep", show=False),
    ]

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def compose(self) -> ComposeResult:
        """The question."""
        with _box("Already exists", "y overwrites · n keeps it"):
            yield Static(f"{self.path} already exists. Overwrite it? (y/n)", markup=False)

    def action_answer(self, yes: bool) -> None:
        """The answer to the question (y: overwrite)."""
        self.dismiss(yes)
