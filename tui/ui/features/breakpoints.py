"""Breakpoints: set them on the graph (``space``), show each pause, go on (``n`` / ``c``)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from textual.worker import Worker

from tui.debug.engine.facade import OpenError

if TYPE_CHECKING:
    from tui.ui.app import BxtuiApp


class Breakpoints:
    """The graph's breakpoint marks and the paused build: its step, its shell, resuming."""

    def __init__(self, app: BxtuiApp) -> None:
        self.app = app
        #: Set when n/c let a paused build go on.
        self._resumed = asyncio.Event()

    def toggle(self) -> None:
        """``space``: set or clear a breakpoint on the graph's selected step."""
        app = self.app
        digest = app.graph_view.selected_digest
        if digest is None:
            app.notify("select a step in the graph first", timeout=4)
            return
        try:
            on = app.session.toggle_breakpoint(digest)
        except OpenError as exc:
            app.notify(str(exc), title="Breakpoint", severity="warning", timeout=6)
            return
        self.show_marks()
        vertex = app.session.graph.get(digest)
        name = vertex.name if vertex is not None and vertex.name else digest[:19]
        if on and not app.session.breakpoint_applies(digest):
            app.notify(f"set on {name}: too late for this build, it pauses the next one (r)",
                       title="Breakpoint for the next build", timeout=6)
            return
        app.notify(f"{'set on' if on else 'cleared from'} {name}", title="Breakpoint",
                   timeout=3)

    def show_marks(self) -> None:
        """Mark the breakpoints and the paused step in the graph."""
        session = self.app.session
        pause = session.paused
        row = session.step_row(pause.digest) if pause else None
        self.app.graph_view.set_marks(session.breakpoints, row)

    def watch_pauses(self) -> Worker[None]:
        """Show each pause (the step, its state's keys) until the build has finished."""
        return self.app.run_worker(self._watch_pauses, name="_watch_pauses", group="pauses",
                                   exclusive=True, exit_on_error=False)  # a reload's replaces

    async def _watch_pauses(self) -> None:
        app = self.app
        while (pause := await app.session.wait_paused()) is not None:
            self._resumed.clear()
            app.frame()
            app.follow_running = False
            self.show_marks()
            app.graph_view.select(app.session.step_row(pause.digest))
            app.failure_pane.border_title = "Paused step"
            app.failure_pane.show_message(pause.headline(), pause.details())
            if app.main.narrow and app.focused in (None, app.graph_view):
                app.failure_pane.focus()  # one pane at a time: the paused step first
            key = "i: shell in its initial state" if pause.where.value == "before" \
                else "f: shell in its result"
            app.terminal.hint = f"{key} · n: next step · c: continue"
            app.refresh_bindings()
            await self._resumed.wait()
        self.show_marks()

    def resume(self, how: str) -> None:
        """``n`` (``next``) or ``c`` (``continue``) while paused: let the build go on."""
        from tui.debug.model.pause import Resume

        app = self.app
        if app.session.paused is None:
            return
        app.shells.kill_all()  # the pause's containers are released
        app.session.resume(Resume(how))
        app.failure_pane.border_title = "Failing step"
        app.failure_pane.show_running("Building…")
        app.terminal.hint = "f and i open a shell here once the build has finished"
        self._resumed.set()
        self.show_marks()
        app.refresh_bindings()

    def open_paused_shell(self) -> Worker[None]:
        """``f`` / ``i`` while paused: a shell in the paused step's state."""
        return self.app.run_worker(self._open_paused_shell, name="_open_paused_shell",
                                   group="shell", exclusive=True)

    async def _open_paused_shell(self) -> None:
        app = self.app
        pause = app.session.paused
        if pause is None:
            return
        rows, cols = app.terminal.pty_size
        session = app.session
        await app.shells.open_in_tab(
            "paused", f"shell: {pause.state_words()}",
            lambda on_output, drain: session.open_paused_shell(rows, cols, on_output, drain))
