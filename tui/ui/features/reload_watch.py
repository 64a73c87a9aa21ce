"""Reload (``r``) and ``--watch``: build again in the same window, by hand or on a change."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from textual.worker import Worker

from tui.debug.model.state import Phase
from tui.ui.screens.main import Middle

if TYPE_CHECKING:
    from tui.ui.app import BxtuiApp


class ReloadWatch:
    """Releases the build and starts it again; watches what it reads (``--watch``)."""

    def __init__(self, app: BxtuiApp) -> None:
        self.app = app

    def reload(self) -> None:
        """``r``: release this build (its shells end) and build again in the same window."""
        if not self.app.building:
            self.app.phase = Phase.CONNECTING  # at once: f/i no longer open the released build
            self.start()

    def start(self) -> Worker[None]:
        """Build again now (a reload already under way is replaced)."""
        return self.app.run_worker(self._reload, name="_reload", group="reload", exclusive=True)

    async def _reload(self) -> None:
        app = self.app
        shell_open = app.shells.any_running  # in any tab: they all end with the build
        app.build_shown.clear()
        app.shells.drop_reserves()
        app.phase = Phase.CONNECTING
        app.follow_new_build()
        app.explore.show_middle(Middle.FAILURE)
        app.failure_pane.show_running("Reloading…")
        app.terminal.hint = "f and i open a shell here once the build has finished"
        if shell_open:
            app.notify("The previous build's shells ended", title="Reload", timeout=5)
        app.retry.forget()
        await app.session.reload()
        app.graph_view.replace_graph(app.session.graph)
        app.graph_view.change_of = app.session.step_change
        app.log_view.show_vertex(None)
        app.graph_view.focus()
        app.watch_build()
        app.breakpoints.watch_pauses()  # the breakpoints moved with their lines: may pause

    def watch_files(self) -> Worker[None]:
        """``--watch``: rebuild on each (debounced) change, until the app closes."""
        return self.app.run_worker(self._watch_files, name="_watch_files", group="watch",
                                   exit_on_error=False)

    async def _watch_files(self) -> None:
        """Rebuild on each (debounced) change of what the build reads, until the app closes.

        A change while the build runs rebuilds once it has ended; while a shell is open, only
        if the user says so.
        """
        from tui.debug.engine.watch import WatchError

        watcher = self.app.session.watcher()
        try:
            async with contextlib.aclosing(watcher.changes()) as changes:
                async for change in changes:
                    await self._files_changed(change.describe(watcher.filter.context))
                    watcher.discard_pending()  # the rebuild just started reads them
        except WatchError as exc:
            self.app.notify(f"{exc}: r rebuilds by hand", title="Watch stopped",
                            severity="error", timeout=15)

    async def _files_changed(self, what: str) -> None:
        from tui.ui.screens.watch import ConfirmRebuild

        app = self.app
        if app.building:
            app.notify(f"{what}: rebuilding once this build has ended", title="Files changed",
                       timeout=4)
            await app.build_shown.wait()
        if app.shells.any_running and not await app.push_screen_wait(ConfirmRebuild(what)):
            app.notify("Not rebuilt: r rebuilds", title="Files changed", timeout=5)
            return
        app.notify(f"{what}: rebuilding", title="Files changed", timeout=4)
        self.start()
