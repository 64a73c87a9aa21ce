"""The help screen: every key, and how the terminal pane's chord works."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["DEFAULT_CHORD", "HelpScreen", "chord_text"]

DEFAULT_CHORD = "ctrl+]"


def chord_text(chord: str = DEFAULT_CHORD) -> str:
    """What the terminal pane does with keys, and how to get out of it."""
    return (
        f"While the terminal has focus every key goes to the process running in it, "
        f"except {chord}: it returns focus to the panes without ending the process."
    )


class HelpScreen(ModalScreen[None]):
    """A modal list of keys; escape, q, ? or f1 closes it."""

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > #help-dialog {
        width: auto;
        max-width: 90%;
        min-width: 40;
        height: auto;
        max-height: 90%;
        padding: 1 2;
        border: round $accent;
        background: $surface;
    }
    HelpScreen .help--title {
        text-style: bold;
        width: auto;
        margin-bottom: 1;
    }
    HelpScreen .help--keys {
        width: auto;
    }
    HelpScreen .help--chord {
        width: auto;
        max-width: 76;
        margin-top: 1;
        color: $text-muted;
    }
    HelpScreen .help--close {
        width: auto;
        margin-top: 1;
        color: $text-muted;
        text-style: italic;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "close", "Close", show=False),
    ]

    def __init__(
        self,
        keys: Sequence[tuple[str, str]],
        *,
        title: str = "Keys",
        chord: str = DEFAULT_CHORD,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.keys = list(keys)
        self.help_title = title
        self.chord = chord

    def compose(self) -> ComposeResult:
        """The dialog: title, key table, the terminal chord, how to close."""
        width = max((cell_len(k) for k, _ in self.keys), default=0) + 2
        rows = [Content.assemble((key + " " * (width - cell_len(key)), "bold $accent"), desc)
                for key, desc in self.keys]
        with VerticalScroll(id="help-dialog"):
            yield Static(self.help_title, classes="help--title", markup=False)
            yield Static(Content("\n").join(rows), classes="help--keys")
            yield Static(chord_text(self.chord), classes="help--chord", markup=False)
            yield Static("escape, q, ? or f1 closes this help", classes="help--close",
                         markup=False)

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)
