"""The help screen: every key, built from the bindings, and how the terminal pane's chord works.

The keys come from one place: the ``BINDINGS`` of the app and of each pane (a binding's
``tooltip`` is its help text, else its description). :func:`key_rows` turns a list of bindings
into rows, one per help text, with every key that does it; keys that are not bindings (a
mouse gesture, keys a pane reads itself) are passed beside them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

__all__ = ["HelpScreen", "KeySection", "chord_text", "key_label", "key_rows"]

#: How Textual's key names read in the help (others are shown as they are).
_KEY_NAMES = {
    "up": "↑", "down": "↓", "left": "←", "right": "→", "pageup": "pgup", "pagedown": "pgdn",
    "escape": "esc", "question_mark": "?", "slash": "/", "left_square_bracket": "[",
    "right_square_bracket": "]", "ctrl+right_square_bracket": "ctrl+]",
}


def key_label(key: str) -> str:
    """One key as the help shows it (``pageup`` -> ``pgup``)."""
    return _KEY_NAMES.get(key, key)


def _as_binding(binding: BindingType) -> Binding:
    return binding if isinstance(binding, Binding) else Binding(*binding)


def key_rows(bindings: Iterable[BindingType],
             other: Iterable[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """Rows of (keys, what they do): bindings with the same help text share one row.

    A binding's help text is its ``tooltip``, else its description; a single key's
    ``key_display`` is used as is. ``other`` rows (keys that are not bindings) come last.
    """
    groups: dict[str, list[str]] = {}
    for binding in map(_as_binding, bindings):
        keys = [k.strip() for k in binding.key.split(",")]
        labels = [binding.key_display] if binding.key_display and len(keys) == 1 \
            else [key_label(k) for k in keys]
        shown = groups.setdefault(binding.tooltip or binding.description, [])
        shown.extend(label for label in labels if label not in shown)
    rows = [(" / ".join(labels) if len(labels) <= 3 else " ".join(labels), text)
            for text, labels in groups.items()]
    return rows + list(other)


@dataclass(frozen=True)
class KeySection:
    """A titled group of help rows (the app's keys, one pane's keys)."""

    title: str
    rows: Sequence[tuple[str, str]]


def chord_text(chord: str) -> str:
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
        padding: 0 2;
        border: round $accent;
        border-title-style: bold;
        border-subtitle-color: $text-muted;
        background: $surface;
    }
    HelpScreen .help--keys {
        width: auto;
    }
    HelpScreen .help--section {
        width: auto;
        margin-top: 1;
        &:first-child { margin-top: 0; }
        text-style: bold;
        color: $text-muted;
    }
    HelpScreen .help--chord {
        width: auto;
        max-width: 76;
        margin-top: 1;
        color: $text-muted;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark,f1", "close", "Close", show=False),
    ]

    def __init__(
        self,
        sections: Sequence[KeySection],
        *,
        chord: str,
        title: str = "Keys",
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.sections = list(sections)
        self.help_title = title
        self.chord = chord

    def compose(self) -> ComposeResult:
        """The dialog: a key table per section, the terminal chord; title and how to close."""
        width = max((cell_len(k) for section in self.sections for k, _ in section.rows),
                    default=0) + 2
        dialog = VerticalScroll(id="help-dialog")
        dialog.border_title = self.help_title
        dialog.border_subtitle = "escape, q, ? or f1 closes this help"
        with dialog:
            for section in self.sections:
                if section.title:
                    yield Static(section.title, classes="help--section", markup=False)
                rows = [Content.assemble((key + " " * (width - cell_len(key)), "bold $accent"),
                                         desc) for key, desc in section.rows]
                yield Static(Content("\n").join(rows), classes="help--keys")
            yield Static(chord_text(self.chord), classes="help--chord", markup=False)

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)
