"""Exploring the build's states: a step's shell (``s``), its files (``b``), the diff (``d``)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from textual.worker import Worker

from tui.debug.engine.facade import OpenError
from tui.debug.model.outcome import StateKind
from tui.ui.screens.main import Middle

if TYPE_CHECKING:
    from tui.ui.app import BxtuiApp


class Explore:
    """The graph's selected step's shell, the file browser and the diff above the terminal."""

    def __init__(self, app: BxtuiApp) -> None:
        self.app = app

    def selected_step(self) -> str | None:
        """The graph's selected vertex, unless it is the failed one (f/i open that)."""
        digest = self.app.graph_view.selected_digest
        return None if digest is None or self.app.session.is_failed_step(digest) else digest

    def step_shell(self) -> None:
        """``s``: a shell in the state the graph's selected step produced."""
        app = self.app
        app.shells.stop_speculating()  # s came first: no second shell for the step
        step = self.selected_step()
        if step is None:
            app.shells.open(StateKind.FINAL)
            return
        reason = app.session.step_unavailable(step)
        if reason:
            app.notify(reason, title="Nothing to open", severity="warning", timeout=6)
            return
        app.shells.open(StateKind.FINAL, step)

    def open_step_selector(self, selector: str) -> None:
        """``--step``: select that step, show its logs and open a shell in its state."""
        app = self.app
        try:
            digest = app.session.resolve_step(selector)
        except OpenError as exc:
            app.notify(str(exc), title="--step", severity="error", timeout=10)
            return
        app.graph_view.select(digest)
        app.show_logs(digest)
        if app.session.is_failed_step(digest):
            app.shells.open(StateKind.FINAL)
        else:
            self.step_shell()

    def show_middle(self, middle: Middle) -> None:
        """Show the failing step, the file browser or the diff above the terminal."""
        self.app.main.show_middle(middle)
        self.app.refresh_bindings()  # escape closes it

    def browse(self) -> Worker[None]:
        """``b``: the file browser over the selected step's state and the failure's states."""
        return self.app.run_worker(partial(self._load_browser, self.selected_step()),
                                   name="_load_browser", group="browse", exclusive=True)

    async def _load_browser(self, step: str | None) -> None:
        try:
            states = await self.app.session.browse(step)
        except OpenError as exc:
            self.app.notify(str(exc), title="Nothing to browse", severity="warning", timeout=8)
            return
        self.app.main.files.show(states)
        self.show_middle(Middle.FILES)

    def diff(self) -> None:
        """``d``: what the failed step changed, initial vs final state."""
        main = self.app.main
        try:
            source = self.app.session.diff_source()
        except OpenError as exc:
            self.app.notify(str(exc), title="No diff", severity="warning", timeout=8)
            return
        if main.diff_view.diffs is None or main.middle is not Middle.DIFF:
            main.diff_view.show(source)
        self.show_middle(Middle.DIFF)

    def close(self) -> None:
        """``escape``: close the files / diff pane (the failing step shows again)."""
        self.show_middle(Middle.FAILURE)
        self.app.graph_view.focus()
