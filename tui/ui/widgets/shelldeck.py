"""Several shells in the terminal slot: one TerminalPane per shell, a tab strip above them.

Only the current pane is displayed; the others keep parsing their process's output (their
feeder threads run) and draw nothing.  The strip shows once there are two tabs, each with
its number, its name and whether its process still runs (``●`` runs, ``○`` ended).
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
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
    ShellDeck > Horizontal {
        height: 1fr;
    }
    ShellDeck > Horizontal > TerminalPane {
        height: 1fr;
        width: 1fr;
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
        #: The other tab shown beside the current one (side by side), if any.
        self._beside: int | None = None
        self._body = Horizontal(first)

    def compose(self) -> ComposeResult:
        """The strip, then the panes (one shown, or two side by side)."""
        yield self.strip
        yield self._body

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
        await self._body.mount(pane)
        self.show(len(self.panes) - 1)
        return pane

    @property
    def beside(self) -> int | None:
        """The tab shown beside the current one (None: one tab shown)."""
        return self._beside

    def show_pair(self, left: int, right: int) -> None:
        """Show tabs ``left`` and ``right`` side by side; ``left`` becomes the current one."""
        had_focus = self.current.has_focus
        self._index, self._beside = left, right
        self._apply(had_focus)

    def show(self, index: int) -> bool:
        """Show tab ``index`` (0-based); False when there is no such tab.

        Side by side, showing one of the pair keeps both; any other tab ends the pair.
        """
        if not 0 <= index < len(self.panes):
            return False
        had_focus = self.current.has_focus
        if self._beside is not None and index not in (self._index, self._beside):
            self._beside = None
        elif self._beside == index:
            self._beside = self._index
        self._index = index
        self._apply(had_focus)
        return True

    def _apply(self, had_focus: bool) -> None:
        for i, pane in enumerate(self.panes):
            pane.display = i in (self._index, self._beside)
        if had_focus:
            self.current.focus()
        self.refresh_tabs()
        self.post_message(self.Switched())

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
            style = "reverse bold" if i == self._index else "underline" if i == self._beside \
                else ""
            text.append(f" {label} ", style=style)
        text.append("   [ ] alt+1..9 switch · x exec · p processes · v side by side", style="dim")
        self.strip.update(text)
