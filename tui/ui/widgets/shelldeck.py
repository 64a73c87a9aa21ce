"""Several shells in the terminal slot: one TerminalPane per shell, a tab strip above them.

Only the current pane is displayed; the others keep parsing their process's output (their
feeder threads run) and draw nothing.  The strip shows once there are two tabs, each with
its number, its name and whether its process still runs (``●`` runs, ``○`` ended).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Static

from tui.ui.widgets.terminal import TerminalPane

__all__ = ["RUNNING_MARK", "ShellDeck", "TabStrip"]

RUNNING_MARK, ENDED_MARK = "●", "○"


class TabStrip(Static):
    """One line: the deck's tabs, the current one highlighted."""

    DEFAULT_CSS = """
    TabStrip {
        height: 1;
        display: none;
        color: $text-muted;
    }
    TabStrip.-shown {
        display: block;
    }
    """


class ShellDeck(Vertical):
    """The terminal slot: a tab per shell (the first pane exists from the start)."""

    DEFAULT_CSS = """
    ShellDeck > TerminalPane {
        height: 1fr;
    }
    """

    class Switched(Message):
        """Another tab is shown."""

    def __init__(self, first: TerminalPane, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.strip = TabStrip(id="shell-tabs")
        self.panes: list[TerminalPane] = [first]
        self.names: dict[TerminalPane, str] = {first: "terminal"}
        self._index = 0

    def compose(self) -> ComposeResult:
        """The strip, then the first pane."""
        yield self.strip
        yield self.panes[0]

    @property
    def current(self) -> TerminalPane:
        """The pane shown."""
        return self.panes[self._index]

    @property
    def index(self) -> int:
        """The current tab's position (0-based)."""
        return self._index

    async def add(self) -> TerminalPane:
        """A new pane in a new last tab, mounted and shown."""
        pane = TerminalPane(classes="term")
        self.panes.append(pane)
        self.names[pane] = "shell"
        await self.mount(pane)
        self.show(len(self.panes) - 1)
        return pane

    def show(self, index: int) -> bool:
        """Show tab ``index`` (0-based); False when there is no such tab."""
        if not 0 <= index < len(self.panes):
            return False
        had_focus = self.current.has_focus
        self._index = index
        for i, pane in enumerate(self.panes):
            pane.display = i == index
        if had_focus:
            self.current.focus()
        self.refresh_tabs()
        self.post_message(self.Switched())
        return True

    def cycle(self, step: int) -> None:
        """The next (1) or previous (-1) tab, wrapping around."""
        self.show((self._index + step) % len(self.panes))

    def set_name(self, pane: TerminalPane, name: str) -> None:
        """Call ``pane``'s tab ``name`` (e.g. ``final``, ``step 3``, ``exec #1``)."""
        self.names[pane] = name
        self.refresh_tabs()

    def tab_labels(self) -> list[str]:
        """Each tab as the strip shows it: ``1 final ●``."""
        return [f"{i} {self.names[p]} {RUNNING_MARK if p.live else ENDED_MARK}"
                for i, p in enumerate(self.panes, 1)]

    def refresh_tabs(self) -> None:
        """Redraw the strip (a process started or ended, a tab was added or shown)."""
        self.strip.set_class(len(self.panes) > 1, "-shown")
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, label in enumerate(self.tab_labels()):
            if i:
                text.append(" │ ")
            text.append(f" {label} ", style="reverse bold" if i == self._index else "")
        text.append("   [ ] alt+1..9 switch · x exec · p processes", style="dim")
        self.strip.update(text)
