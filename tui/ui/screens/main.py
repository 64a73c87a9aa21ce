"""The debugger's one screen: the panes, and where they are as state.

Four reactives say what is shown; their watchers set the CSS classes (``bxtui.tcss`` draws
them), so nothing else touches the screen's classes:

- ``narrow``: a small terminal shows one pane at a time (the ``current`` one), like tabs;
- ``current``: the pane that has (or is about to get) the focus;
- ``middle``: what the right column shows above the terminal (a :class:`ContentSwitcher` of
  the failing step, the file browser and the diff; the last two are mounted when first shown);
- ``zoom``: the terminal alone; ``shell_opened``: the terminal gets the larger share.
"""

from __future__ import annotations

import enum

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.events import Resize
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import ContentSwitcher

from tui.debug.model.graph import BuildGraph
from tui.ui.statusline import StatusLine
from tui.ui.widgets.diff.pane import DiffView
from tui.ui.widgets.failure import FailurePane
from tui.ui.widgets.files.pane import FileBrowser
from tui.ui.widgets.footer import SettledFooter
from tui.ui.widgets.graph.pane import GraphView
from tui.ui.widgets.logs.pane import LogView
from tui.ui.widgets.shelldeck import ShellDeck
from tui.ui.widgets.terminal import TerminalPane

__all__ = ["NARROW_HEIGHT", "NARROW_WIDTH", "MainScreen", "Middle", "Slot"]

#: Below either size the panes are shown one at a time.
NARROW_WIDTH = 110
NARROW_HEIGHT = 30


class Slot(enum.StrEnum):
    """The four places a pane is shown in, in Tab order."""

    GRAPH = "graph"
    LOGS = "logs"
    MIDDLE = "middle"
    TERMINAL = "terminal"


class Middle(enum.StrEnum):
    """What the right column shows above the terminal (the ids of the switcher's panes)."""

    FAILURE = "failure"
    FILES = "files"
    DIFF = "diff"


#: The tab names of a small terminal's status line.
_TAB_NAMES = {Middle.FAILURE: "step", Middle.FILES: "files", Middle.DIFF: "diff"}


class MainScreen(Screen[None]):
    """The status line, graph and logs on the left, the switcher and the terminal on the right."""

    narrow: reactive[bool] = reactive(False, toggle_class="-narrow")
    current: reactive[Slot] = reactive(Slot.GRAPH)
    middle: reactive[Middle] = reactive(Middle.FAILURE, init=False)
    zoom: reactive[bool] = reactive(False, toggle_class="-zoom")
    shell_opened: reactive[bool] = reactive(False, toggle_class="-shell")

    class Ready(Message):
        """The screen and its panes are mounted: the app may start."""

    def __init__(self, graph: BuildGraph) -> None:
        super().__init__()
        self.status = StatusLine(id="status")
        self.graph_view = GraphView(graph, id="graph")
        self.log_view = LogView(id="logs")
        self.failure_pane = FailurePane(id="failure")
        self.files = FileBrowser(id="files")
        self.diff_view = DiffView(id="diff")
        self.deck = ShellDeck(TerminalPane(id="terminal", classes="term"), id="deck")
        self.switcher = ContentSwitcher(self.failure_pane, id="middle", initial=Middle.FAILURE)
        self._left = Vertical(self.graph_view, self.log_view, id="left")
        self._right = Vertical(self.switcher, self.deck, id="right")

    def compose(self) -> ComposeResult:
        """The status line, the panes in two columns, the footer."""
        yield self.status
        yield Horizontal(self._left, self._right, id="main")
        yield SettledFooter(show_command_palette=False)

    def on_mount(self) -> None:
        """Titles and the first placement."""
        self.graph_view.border_title = "Build graph"
        self.log_view.border_title = "Logs"
        self.failure_pane.border_title = "Failing step"
        self.files.border_title = "Files"
        self.diff_view.border_title = "Diff: what the failed step changed"
        self.terminal.border_title = "Terminal"
        self._fit(self.app.size)
        self.graph_view.focus()
        self.post_message(self.Ready())

    @property
    def terminal(self) -> TerminalPane:
        """The terminal pane of the tab shown."""
        return self.deck.current

    def on_resize(self, event: Resize) -> None:
        """Side by side, or one pane at a time on a small terminal."""
        self._fit(event.size)

    def _fit(self, size: Size) -> None:
        self.narrow = size.width < NARROW_WIDTH or size.height < NARROW_HEIGHT

    # -- what is where -----------------------------------------------------------------------
    def pane(self, slot: Slot) -> Widget:
        """The pane shown in ``slot``."""
        if slot is Slot.MIDDLE:
            return {Middle.FILES: self.files, Middle.DIFF: self.diff_view}.get(
                self.middle, self.failure_pane)
        return {Slot.GRAPH: self.graph_view, Slot.LOGS: self.log_view,
                Slot.TERMINAL: self.terminal}[slot]

    def slot_of(self, widget: Widget | None) -> Slot | None:
        """The slot holding ``widget`` (or one of its ancestors), if any."""
        for slot in Slot:
            pane = self.pane(slot)
            if widget is not None and (widget is pane or pane in widget.ancestors):
                return slot
        return None

    def tabs(self) -> list[tuple[str, bool]] | None:
        """The status line's tabs on a small terminal (name, shown); None when side by side."""
        if not self.narrow:
            return None
        return [(_TAB_NAMES[self.middle] if slot is Slot.MIDDLE else slot.value,
                 slot is self.current) for slot in Slot]

    # -- moves -------------------------------------------------------------------------------
    def cycle(self, step: int) -> None:
        """Tab / shift+tab: show, then focus, the next / previous pane."""
        slots = list(Slot)
        here = self.slot_of(self.focused) or Slot.GRAPH
        target = slots[(slots.index(here) + step) % len(slots)]
        self.zoom = False
        self.current = target
        self.call_after_refresh(self.pane(target).focus)

    def on_descendant_focus(self) -> None:
        """The focused pane is the current one (shown on a small terminal)."""
        self.current = self.slot_of(self.focused) or Slot.GRAPH

    def show_middle(self, middle: Middle) -> None:
        """Show the failing step, the file browser or the diff; focus the last two."""
        self.middle = middle
        self.zoom = False
        if middle is not Middle.FAILURE:
            self.current = Slot.MIDDLE
            self.call_after_refresh(self.pane(Slot.MIDDLE).focus)

    def toggle_zoom(self) -> None:
        """Give the terminal the whole screen (and the focus), or take it back."""
        self.zoom = not self.zoom
        if self.zoom:
            self.terminal.focus()

    # -- the classes follow the state (narrow, zoom, shell_opened: toggle_class) -------------
    def watch_current(self, current: Slot) -> None:
        """Mark the slot (and its column) a small terminal shows."""
        for slot, node in ((Slot.GRAPH, self.graph_view), (Slot.LOGS, self.log_view),
                           (Slot.MIDDLE, self.switcher), (Slot.TERMINAL, self.deck)):
            node.set_class(slot is current, "-current")
        self._left.set_class(current in (Slot.GRAPH, Slot.LOGS), "-holds-current")
        self._right.set_class(current in (Slot.MIDDLE, Slot.TERMINAL), "-holds-current")

    def watch_middle(self, middle: Middle) -> None:
        """Switch the right column's upper pane."""
        pane = self.pane(Slot.MIDDLE)
        if pane.parent is None:  # mounted on first use: the first paint lays out fewer widgets
            pane.display = False
            self.switcher.mount(pane)
        self.switcher.current = middle.value
