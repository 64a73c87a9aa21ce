"""The bxtui application: build graph, logs, failing step and a terminal, on one screen.

Data flows one way: the session's status stream -> BuildGraph -> one merged ``Changes`` per
frame -> the panes; a key -> an action -> the DebugSession -> a Shell -> the terminal pane.
The app never calls ``done()`` itself: whoever runs it (``tui.ui.run``) does, after the app
has exited and the terminal is restored, whatever made it exit.

Each feature's state and work is a controller in ``tui.ui.features`` (shells, exploring,
retry, files out, reload and ``--watch``, breakpoints); the app keeps what Textual looks up on
it: the bindings, ``check_action``, and ``action_*`` / ``on_*`` methods that hand over to them.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import RenderableType
from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import BindingType
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.worker import WorkerFailed

from tui.debug.engine.facade import SessionFacade
from tui.debug.engine.shell import Shell
from tui.debug.model.outcome import (
    BuilderLost,
    Failed,
    Outcome,
    StateKind,
    Succeeded,
    Unreachable,
)
from tui.debug.model.pause import Where
from tui.debug.model.state import Phase
from tui.ui.driver import WakeableLinuxDriver
from tui.ui.features.breakpoints import Breakpoints
from tui.ui.features.copyout import CopyOut
from tui.ui.features.explore import Explore
from tui.ui.features.reload_watch import ReloadWatch
from tui.ui.features.retry import Retry
from tui.ui.features.shells import Shells
from tui.ui.framestats import FrameStats
from tui.ui.heap import HEAP
from tui.ui.keys import APP_BINDINGS, key_sections, palette_commands
from tui.ui.screens.help import HelpScreen, KeySection
from tui.ui.screens.main import MainScreen, Middle, Slot
from tui.ui.statusline import StatusLine, status_line
from tui.ui.term import warm_up
from tui.ui.widgets.failure import FailurePane
from tui.ui.widgets.graph.pane import GraphView
from tui.ui.widgets.logs.pane import LogView
from tui.ui.widgets.terminal import CHORD, TerminalPane

if TYPE_CHECKING:
    from tui.ui.widgets.diff.pane import DiffView
    from tui.ui.widgets.files.pane import FileBrowser
    from tui.ui.widgets.retry import RetryLine

FRAME_SECONDS = 1 / 30
#: Phases in which the build is still running: nothing can be opened yet.
RUNNING = frozenset({Phase.CONNECTING, Phase.BUILDING})
#: The actions that open something in a state (f, i, s, b, d): gated by the phase.
OPENING = frozenset({"shell", "step_shell", "browse", "diff", "side_by_side"})

#: ``--invoke`` in the app: which state to open by itself, and whether a successful build is
#: entered too (``--on=always``).
AutoOpen = tuple[StateKind, bool]

class BxtuiApp(App[int], inherit_bindings=False):
    """The debugger's one screen; its return value is bxtui's exit status."""

    CSS_PATH = "bxtui.tcss"
    TITLE = "bxtui"
    #: Every key of the app (tui/ui/keys.py); a binding's tooltip is its line in the help.
    BINDINGS: ClassVar[list[BindingType]] = APP_BINDINGS

    #: Where the build stands, as far as the keys are concerned: CONNECTING until the build
    #: has ended, then its final phase, set by :meth:`_after_build` once the outcome is shown
    #: (one change, one refresh of the footer's keys).
    phase: reactive[Phase] = reactive(Phase.CONNECTING, bindings=True)

    def __init__(self, session: SessionFacade, *, title: str = "",
                 auto_open: AutoOpen | None = None, open_step: str | None = None,
                 show_diff: bool = False, watch: bool = False) -> None:
        super().__init__(driver_class=WakeableLinuxDriver)
        #: ``--watch``: rebuild when the Dockerfile or a file of the context changes.
        self.watch_files = watch
        #: Set once the build's end is shown (cleared by a reload).
        self.build_shown = asyncio.Event()
        self.session = session
        self.auto_open = auto_open
        #: ``--step``: open a shell in that step's state when the build has finished.
        self.open_step = open_step
        #: ``--diff``: show the failed step's changes when the build has failed.
        self.show_diff = show_diff
        self.build_title = title or session.opts.context
        #: The one screen: the panes, and where they are (its reactives).
        self.main = MainScreen(session.graph)
        #: Whether the logs follow the latest running step (until one is chosen).
        self.follow_running = True
        self._shown: str | None = None
        self._lost_shown = False
        #: Set when an unexpected exception ended the app (printed once by the runner).
        self.crash: BaseException | None = None
        stats = os.environ.get("BXTUI_FRAME_STATS")
        self.frame_stats = FrameStats(stats) if stats else None
        #: SIGUSR1 saves a screenshot here (``BXTUI_SCREENSHOT_DIR``, for scripts/screenshots.sh).
        self.screenshot_dir = os.environ.get("BXTUI_SCREENSHOT_DIR")
        self._shots = 0
        #: The features (tui/ui/features): each one's state and work.
        self.shells = Shells(self)
        self.explore = Explore(self)
        self.retry = Retry(self)
        self.copy_out = CopyOut(self)
        self.reloads = ReloadWatch(self)
        self.breakpoints = Breakpoints(self)

    # -- layout ------------------------------------------------------------------------------
    @property
    def status(self) -> StatusLine:
        """The status line."""
        return self.main.status

    @property
    def graph_view(self) -> GraphView:
        """The build graph pane."""
        return self.main.graph_view

    @property
    def log_view(self) -> LogView:
        """The logs pane."""
        return self.main.log_view

    @property
    def failure_pane(self) -> FailurePane:
        """The failing step (or the result) pane."""
        return self.main.failure_pane

    @property
    def terminal(self) -> TerminalPane:
        """The terminal pane."""
        return self.main.terminal

    @property
    def building(self) -> bool:
        """Whether the build is still running (nothing can be opened yet)."""
        return self.phase in RUNNING

    def get_default_screen(self) -> Screen[Any]:
        """The one screen, with the panes."""
        return self.main

    def on_main_screen_ready(self) -> None:
        """The panes are mounted: start the build and the frame timer."""
        for name in ("narrow", "current", "middle"):
            self.watch(self.main, name, lambda _: self._update_status(force=True), init=False)
        self.failure_pane.show_running("Building…")
        self.terminal.hint = "f and i open a shell here once the build has finished"
        self.session.start()
        if self.frame_stats is not None:
            self.frame_stats.start()
            self.frame_stats.mark("mounted")
        if self.screenshot_dir:
            asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, self._save_shot)
        self.set_interval(FRAME_SECONDS, self.frame)
        self.watch_build()
        self.breakpoints.watch_pauses()
        if self.watch_files:
            self.reloads.watch_files()
        self.call_after_refresh(self._painted)

    def _painted(self) -> None:
        """The first paint is done: freeze what it holds; the frame figures note when."""
        HEAP.freeze("first paint")
        if self.frame_stats is not None:
            self.frame_stats.mark("painted")

    async def on_event(self, event: events.Event) -> None:
        """Every event; a key's arrival is noted for benchmarks (``BXTUI_FRAME_STATS``)."""
        if self.frame_stats is not None and isinstance(event, events.Key):
            self.frame_stats.key(event.key)
        await super().on_event(event)

    def _panes(self) -> list[Widget]:
        """The panes in Tab order (the middle one is what the switcher shows)."""
        return [self.main.pane(slot) for slot in Slot]

    def _current_pane(self) -> Widget:
        """The pane that has the focus (the graph when none has)."""
        return self.main.pane(self.main.slot_of(self.focused) or Slot.GRAPH)

    def action_focus_next(self) -> None:
        """Tab: the next pane (also the hidden ones of a small terminal)."""
        self.main.cycle(1)

    def action_focus_previous(self) -> None:
        """Shift+Tab: the previous pane."""
        self.main.cycle(-1)

    # -- the build ---------------------------------------------------------------------------
    def frame(self) -> None:
        """Hand the status merged since the last frame to the panes."""
        if self.frame_stats is None:
            self._apply_frame()
            return
        t0, c0 = time.perf_counter(), time.thread_time()
        self._apply_frame()
        self.frame_stats.frame(time.perf_counter() - t0, time.thread_time() - c0)

    def _apply_frame(self) -> None:
        if not self._lost_shown and self.session.lost:
            self._show_lost(self.session.lost)
        changes = self.session.take_changes()
        if changes is not None:
            self.graph_view.apply_changes(changes)
            if self.follow_running:
                self._follow_latest_running()
            if self._shown is not None and self._shown in changes.digests:
                self.log_view.logs_changed()
        self._update_status()

    def _show_lost(self, why: str) -> None:
        """The builder went away: say so once; nothing can be opened any more."""
        self._lost_shown = True
        self.refresh_bindings()  # f/i/s/b/d: nothing to open any more
        self.terminal.hint = f"Nothing to open: {why}"
        self.notify(f"{why}. q closes bxtui.", title="Builder gone", severity="error",
                    timeout=30)

    def _follow_latest_running(self) -> None:
        running = self.session.graph.running
        if running and running[-1].digest != self._shown:
            self.show_logs(running[-1].digest)

    def show_logs(self, digest: str) -> None:
        """Show ``digest``'s logs (none: an unknown digest)."""
        vertex = self.session.graph.get(digest)
        self._shown = digest if vertex is not None else None
        self.log_view.show_vertex(vertex)

    def _update_status(self, force: bool = False) -> None:
        self.status.show(status_line(self.session, self.build_title, self.main.tabs()), force)

    def follow_new_build(self) -> None:
        """A new build (reload): follow its running steps again, as at the start."""
        self.follow_running = True
        self._shown = None
        self._lost_shown = False

    @work(group="build")
    async def watch_build(self) -> None:
        """Show the build's end once it has finished."""
        outcome = await self.session.wait_finished()
        self.frame()
        if self.frame_stats is not None:
            self.frame_stats.mark("finished")
        self._after_build(outcome)

    def _after_build(self, outcome: Outcome) -> None:
        """The build has ended: show the outcome, enable the keys, open what was asked for."""
        self.build_shown.set()
        if isinstance(outcome, Unreachable):
            self.exit(self.session.exit_status)
            return
        self.phase = outcome.phase
        self.follow_running = False
        self.failure_pane.changes = self.session.dockerfile_changes()
        self._show_outcome(outcome)
        self._update_status(force=True)
        if self.session.has_states:
            # once the outcome is painted: the warm-up thread would compete for the GIL
            self.call_after_refresh(self._get_ready)
        if self.frame_stats is not None:
            stats = self.frame_stats
            self.call_after_refresh(lambda: stats.mark("shown"))
        self._open_asked(outcome)

    def _show_outcome(self, outcome: Outcome) -> None:
        """The failure (its step selected, its logs shown) or the result, and what f/i do."""
        if isinstance(outcome, Failed | BuilderLost):
            info = outcome.failure
            self.failure_pane.show_failure(info)
            if info.vertex and info.vertex in self.session.graph:
                self.graph_view.set_failed(info.vertex)
                self.graph_view.select(info.vertex)
                self.show_logs(info.vertex)
            if not info.can_open:
                self.terminal.hint = f"Nothing to open: {info.cannot_open}"
            elif info.file_op:
                self.terminal.hint = "f: toolbox shell with /dest and /src · b: their files"
            else:
                self.terminal.hint = "f: shell in the final state · i: in the initial " \
                    "state · e: retry the command · r: build again"
            if self.main.narrow and self.focused in (None, self.graph_view):
                self.failure_pane.focus()  # one pane at a time: the failure first
        elif isinstance(outcome, Succeeded):
            self.failure_pane.border_title = "Result"
            self.failure_pane.show_success(outcome.success)
            self.terminal.hint = "f: shell in the build result"
            if self.session.graph.steps:  # the last step: its logs, like the failed one's
                last = self.session.graph.vertex_for_step(len(self.session.graph.steps))
                if last is not None:
                    self.graph_view.select(last.digest)

    def _open_asked(self, outcome: Outcome) -> None:
        """What the command line asked to open at the end: --diff, --step, --invoke."""
        info = outcome.failure if isinstance(outcome, Failed | BuilderLost) else None
        if self.show_diff and info is not None:
            self.explore.diff()
        if self.open_step is not None:
            self.explore.open_step_selector(self.open_step)
        elif self.auto_open is not None:
            which, on_success = self.auto_open
            if info is not None and info.can_open:
                self.shells.open(which)
            elif isinstance(outcome, Succeeded) and on_success:
                self.shells.open(StateKind.FINAL)

    def _get_ready(self) -> None:
        """Prepare what the next keys need: the emulator, the final-state shell, the definition."""
        self._warm_up_terminal()
        # only the default shell, and not once a key has opened one
        if self.auto_open is None and self.open_step is None and not self.shells.links:
            self.shells.start_reserve()
        self.run_worker(self.session.prepare(), group="prepare", exit_on_error=False)

    @work(thread=True, group="warm-up", exit_on_error=False)
    def _warm_up_terminal(self) -> None:
        """Load the terminal emulator now, off the event loop, so that f/i open at once."""
        warm_up()

    def on_graph_view_highlighted(self, message: GraphView.Highlighted) -> None:
        """The cursor rests on a completed step: start its shell unseen, so that ``s`` is quick."""
        self.shells.highlighted(message.digest)

    def on_graph_view_selected(self, message: GraphView.Selected) -> None:
        """Enter or a click in the graph: show that step's logs."""
        self.follow_running = False
        self.show_logs(message.digest)

    # -- shells (tui/ui/features/shells.py) --------------------------------------------------
    def action_shell(self, which: str) -> None:
        """Open the invoke command in the final or initial state (``f`` / ``i``).

        It opens in the shown tab when nothing runs there, else in a new tab.  ``f`` shows the
        shell started in advance when there is one (its prompt is ready).
        """
        if self.session.paused is not None:
            self.breakpoints.open_paused_shell()
            return
        self.shells.open(StateKind(which))

    @property
    def shell(self) -> Shell | None:
        """The shell of the tab shown (None: nothing opened there yet)."""
        return self.shells.shown

    def action_tab(self, step: int) -> None:
        """``[`` / ``]``: the previous / next shell tab."""
        self.main.deck.cycle(step)

    def action_tab_number(self, number: int) -> None:
        """alt+N: shell tab N."""
        self.main.deck.show(number - 1)

    def action_exec(self) -> None:
        """``x``: a second process in the container of the shown tab's shell, in a new tab."""
        self.shells.exec_shown()

    def action_side_by_side(self) -> None:
        """``v``: the failed step's initial and final states in two terminals at once."""
        self.shells.side_by_side()

    def action_processes(self) -> None:
        """``p``: the open shells and their containers; one can be ended."""
        from tui.ui.screens.processes import ProcessScreen

        self.push_screen(ProcessScreen(self.session))

    # -- exploring (tui/ui/features/explore.py) ----------------------------------------------
    def action_step_shell(self) -> None:
        """``s``: a shell in the state the graph's selected step produced."""
        self.explore.step_shell()

    def action_browse(self) -> None:
        """``b``: the file browser over the selected step's state and the failure's states."""
        self.explore.browse()

    def action_diff(self) -> None:
        """``d``: what the failed step changed, initial vs final state."""
        self.explore.diff()

    def action_close_explore(self) -> None:
        """``escape``: close the files / diff pane (the failing step shows again)."""
        self.explore.close()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Which keys work now: the footer shows f/i/s/b/d dimmed while they cannot.

        ``escape`` is the app's only while a files / diff pane is open. The keys that open a
        state are disabled (None) while the build runs or when there is nothing to open, and
        hidden (False) where they never apply (``i`` and ``d`` after a success).
        """
        if action == "close_explore":
            return self.main.middle is not Middle.FAILURE
        if action in ("retry", "write_back"):
            return self.retry.action_ok(action)
        if action == "reload":
            return None if self.building or self.phase is Phase.UNREACHABLE else True
        if action in ("step_next", "step_continue"):
            return self.session.paused is not None  # shown only while paused
        if action == "shell" and (pause := self.session.paused) is not None:
            # the pause has one state: before the step its inputs (i), after it its result (f)
            wanted = "initial" if pause.where is Where.BEFORE else "final"
            return True if parameters == (wanted,) else None
        if action not in OPENING:
            return True
        if self.building:
            return None
        if self.phase is Phase.SUCCEEDED and (action in ("diff", "side_by_side")
                                              or parameters == ("initial",)):
            return False
        return True if self.can_open(action) else None

    def can_open(self, action: str) -> bool:
        """Whether the finished build has a state for ``action`` (the session decides)."""
        session = self.session
        if session.lost or not session.has_states:
            return False
        outcome = session.outcome
        failure = outcome.failure if isinstance(outcome, Failed | BuilderLost) else None
        if action == "shell" and failure is not None:
            return failure.can_open
        if action in ("diff", "side_by_side"):
            return failure is not None and not failure.file_op
        return True

    def on_terminal_pane_release_focus(self) -> None:
        """``ctrl+]`` in the terminal: back to the panes; the process keeps running."""
        if self.screen.focused is None:  # unless a key since the chord focused something
            self.screen.set_focus(self.graph_view)

    def action_focus_terminal(self) -> None:
        """Back to the terminal pane."""
        self.terminal.focus()

    def action_zoom(self) -> None:
        """Give the terminal the whole screen, or take it back."""
        self.main.toggle_zoom()

    # -- retry and write back (tui/ui/features/retry.py) ------------------------------------
    def action_retry(self) -> None:
        """``e``: the retry line, pre-filled with the failing command (or the last try)."""
        self.retry.open()

    def on_retry_line_closed(self) -> None:
        """Escape in the retry line: remove it (its tries are kept for ``e`` and ``w``)."""
        self.retry.closed()

    def on_retry_line_try(self, message: RetryLine.Try) -> None:
        """Enter in the retry line: run the command in a fresh initial-state container."""
        self.retry.run_try(message.command)

    def action_write_back(self) -> None:
        """``w``: the diff of writing the last passing try back, then y/n."""
        self.retry.write_back()

    # -- files out (tui/ui/features/copyout.py) ----------------------------------------------
    def on_file_browser_copy_requested(self, message: FileBrowser.CopyRequested) -> None:
        """``o`` in the file browser: ask where, then copy (asking before overwriting)."""
        self.copy_out.copy(message.state, message.path)

    def on_diff_view_copy_requested(self, message: DiffView.CopyRequested) -> None:
        """``o`` in the diff: the same, from the failed step's final (or initial) state."""
        self.copy_out.from_diff(message)

    # -- reload and --watch (tui/ui/features/reload_watch.py) --------------------------------
    def action_reload(self) -> None:
        """``r``: release this build (its shells end) and build again in the same window."""
        self.reloads.reload()

    # -- breakpoints (tui/ui/features/breakpoints.py) ----------------------------------------
    def action_toggle_breakpoint(self) -> None:
        """``space``: set or clear a breakpoint on the graph's selected step."""
        self.breakpoints.toggle()

    def action_step_next(self) -> None:
        """``n`` while paused: run just this step (or the next) and pause after it."""
        self.breakpoints.resume("next")

    def action_step_continue(self) -> None:
        """``c`` while paused: on to the next breakpoint, a failure or the end."""
        self.breakpoints.resume("continue")

    # -- help, palette, closing --------------------------------------------------------------
    @classmethod
    def key_sections(cls) -> list[KeySection]:
        """Every key the user can press, from the bindings, for the help screen."""
        return key_sections(cls.BINDINGS)

    def action_help(self) -> None:
        """Show the keys."""
        self.push_screen(HelpScreen(self.key_sections(), chord=CHORD.key_display or CHORD.key))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette: the debugger's actions that work now first, then Textual's own."""
        yield from palette_commands(self)
        yield from super().get_system_commands(screen)

    def on_unmount(self) -> None:
        """Thaw the heap (all that was frozen); write the benchmark figures, when asked for."""
        HEAP.thaw()
        if self.frame_stats is not None:
            self.frame_stats.save()

    def _save_shot(self) -> None:
        """SIGUSR1 with BXTUI_SCREENSHOT_DIR set: save the screen as a numbered SVG."""
        if self.screenshot_dir:
            self._shots += 1
            self.save_screenshot(f"shot-{self._shots:02d}.svg", self.screenshot_dir)

    def exit(self, result: int | None = None, return_code: int = 0,
             message: RenderableType | None = None) -> None:
        """Close the view (every way out passes here; the frame figures note when)."""
        if self.frame_stats is not None:
            self.frame_stats.mark("closing")
        super().exit(result, return_code, message)

    def action_close_view(self) -> None:
        """Close the view; the runner then calls ``done()`` and prints the summary."""
        self.exit(self.session.exit_status)

    def _fatal_error(self) -> None:
        # An unexpected exception: exit like any close (done() still runs); the runner prints
        # the error once, in one line unless BXTUI_DEBUG asks for the traceback.
        crash = self._exception
        self.crash = crash.error if isinstance(crash, WorkerFailed) else crash
        if os.environ.get("BXTUI_DEBUG"):
            super()._fatal_error()
            return
        self._close_messages_no_wait()
