"""The bxtui application: build graph, logs, failing step and a terminal, on one screen.

Data flows one way: the session's status stream -> BuildGraph -> one merged ``Changes`` per
frame -> the panes; a key -> an action -> the DebugSession -> a Shell -> the terminal pane.
The app never calls ``done()`` itself: whoever runs it (``tui.ui.run``) does, after the app
has exited and the terminal is restored, whatever made it exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import RenderableType
from textual import events, work
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.worker import Worker, WorkerFailed

from tui.debug.engine.container import OutputFn
from tui.debug.engine.facade import OpenError, SessionFacade
from tui.debug.engine.link import ShellLink
from tui.debug.engine.shell import Shell
from tui.debug.model.fsmodel import StateFiles
from tui.debug.model.outcome import (
    BuilderLost,
    Failed,
    Outcome,
    StateKind,
    Succeeded,
    Unreachable,
)
from tui.debug.model.state import Phase
from tui.ui.driver import WakeableLinuxDriver
from tui.ui.framestats import FrameStats
from tui.ui.heap import HEAP
from tui.ui.screens.help import HelpScreen, KeySection, key_rows
from tui.ui.screens.main import MainScreen, Middle, Slot
from tui.ui.statusline import StatusLine, status_line
from tui.ui.term import warm_up
from tui.ui.unseen import UnseenShell
from tui.ui.widgets.diff.pane import DiffView
from tui.ui.widgets.failure import FailurePane
from tui.ui.widgets.files.pane import FileBrowser
from tui.ui.widgets.graph.pane import GraphView
from tui.ui.widgets.logs.pane import LogView
from tui.ui.widgets.terminal import CHORD, TerminalPane

if TYPE_CHECKING:
    from tui.debug.model.retry import TryHistory
    from tui.ui.widgets.retry import RetryLine


def _retry_keys() -> list[BindingType]:
    """The retry line's keys (its module is loaded when the help needs them)."""
    from tui.ui.widgets.retry import RetryLine

    return [Binding("enter", "try", "Try", tooltip="run the command in a fresh container of "
                    "the failed step's initial state"), *RetryLine.BINDINGS]

FRAME_SECONDS = 1 / 30
#: Phases in which the build is still running: nothing can be opened yet.
RUNNING = frozenset({Phase.CONNECTING, Phase.BUILDING})
#: The actions that open something in a state (f, i, s, b, d): gated by the phase.
OPENING = frozenset({"shell", "step_shell", "browse", "diff", "side_by_side"})
#: Seconds the graph's cursor rests on a step before its shell is started unseen (for ``s``).
SPECULATE_S = 0.05
#: Bytes of shell output waiting to be parsed above which the stream is held.
BACKLOG_LIMIT = 8 << 20

#: What Textual names alt+1..9 as most terminals send them (ESC then the digit: Textual reads
#: them as the characters a Mac keyboard's option+digit types).
ALT_DIGIT_KEYS = ("inverted_exclamation_mark", "trade_mark_sign", "pound_sign", "cent_sign",
                  "infinity", "section_sign", "pilcrow_sign", "bullet", "ª")
#: ``--invoke`` in the app: which state to open by itself, and whether a successful build is
#: entered too (``--on=always``).
AutoOpen = tuple[StateKind, bool]
Drain = Callable[[], Awaitable[None]]

class BxtuiApp(App[int], inherit_bindings=False):
    """The debugger's one screen; its return value is bxtui's exit status."""

    CSS_PATH = "bxtui.tcss"
    TITLE = "bxtui"
    #: Every key of the app; a binding's tooltip is its line in the help screen (``?``).
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f", "shell('final')", "Final",
                tooltip="shell in the failed step's final state (or the successful result)"),
        Binding("i", "shell('initial')", "Initial",
                tooltip="shell in the failed step's initial state (before it ran)"),
        Binding("s", "step_shell", "Step",
                tooltip="shell in the state the step selected in the graph produced"),
        Binding("b", "browse", "Files", tooltip="browse files: the selected step, the failed "
                "step's states, the result"),
        Binding("d", "diff", "Diff", tooltip="diff: what the failed step changed "
                "(initial vs final)"),
        Binding("escape", "close_explore", "Close", show=False,
                tooltip="close the files / diff pane (back to the failing step)"),
        Binding("tab", "focus_next", "Next pane", show=False, tooltip="move between panes"),
        Binding("shift+tab", "focus_previous", "Previous pane", show=False,
                tooltip="move between panes"),
        # short labels and no t (tab reaches the terminal too; ? lists it): the footer keeps
        # q Quit on an 80-column terminal
        Binding("t", "focus_terminal", "Terminal", show=False,
                tooltip="back to the live terminal"),
        Binding("z", "zoom", "Zoom", tooltip="zoom the terminal to the whole screen, and back"),
        Binding("question_mark,f1", "help", "Help", key_display="?", tooltip="this help"),
        Binding("q", "close_view", "Quit",
                tooltip="close: release containers and the build, then exit"),
        Binding("ctrl+c,ctrl+q", "close_view", "Quit", show=False,
                tooltip="close: release containers and the build, then exit"),
        Binding("ctrl+p", "command_palette", "Commands", show=False, tooltip="command palette"),
        Binding("e", "retry", "Retry", show=False,
                tooltip="retry the failed RUN with an edited command (fresh initial state)"),
        Binding("w", "write_back", "Write back", show=False,
                tooltip="write the last passing retry into the Dockerfile (diff, then y/n)"),
        Binding("r", "reload", "Reload", show=False, tooltip="reload: build again with the "
                "current Dockerfile and context (the shells end)"),
        Binding("space", "toggle_breakpoint", "Break", show=False,
                tooltip="set or clear a breakpoint on the graph's selected step (the build "
                        "pauses before it; set while building or paused)"),
        Binding("n", "step_next", "Next",
                tooltip="paused: run just this step (or the next) and pause after it"),
        Binding("c", "step_continue", "Continue",
                tooltip="paused: continue to the next breakpoint, a failure or the end"),
        # several shells: from the panes (inside a live terminal every key is the process's)
        Binding("left_square_bracket", "tab(-1)", "Previous shell", key_display="[",
                show=False, tooltip="previous shell tab (from the panes)"),
        Binding("right_square_bracket", "tab(1)", "Next shell", key_display="]", show=False,
                tooltip="next shell tab (from the panes)"),
        *(Binding(key, f"tab_number({n})", f"Shell {n}", key_display="alt+1..9", show=False,
                  tooltip="shell tab 1..9 (from the panes)")
          for n in range(1, 10) for key in (f"alt+{n}", ALT_DIGIT_KEYS[n - 1])),
        Binding("x", "exec", "Exec", show=False,
                tooltip="exec /bin/sh into the shown shell's container, in a new tab"),
        Binding("v", "side_by_side", "Side by side", show=False,
                tooltip="the failed step's initial and final states in two terminals at once"),
        Binding("p", "processes", "Processes", show=False,
                tooltip="open shells and their containers; end one"),
    ]

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
        self._build_shown = asyncio.Event()
        self.session = session
        self.auto_open = auto_open
        #: ``--step``: open a shell in that step's state when the build has finished.
        self.open_step = open_step
        #: ``--diff``: show the failed step's changes when the build has failed.
        self.show_diff = show_diff
        self.build_title = title or session.opts.context
        #: The one screen: the panes, and where they are (its reactives).
        self.main = MainScreen(session.graph)
        #: Each tab's pane: the shell it shows, the link its keys go through.
        self._tab_shells: dict[TerminalPane, Shell] = {}
        self._links: dict[TerminalPane, ShellLink] = {}
        #: A final-state shell started in advance, and its output held until ``f``.
        self._reserve = UnseenShell(self._spawn)
        #: A shell started unseen in the state of the step the graph's cursor rests on.
        self._step_reserve = UnseenShell(self._spawn)
        self._speculate_timer: Timer | None = None
        self._follow_running = True
        self._shown: str | None = None
        self._lost_shown = False
        #: Set when an unexpected exception ended the app (printed once by the runner).
        self.crash: BaseException | None = None
        stats = os.environ.get("BXTUI_FRAME_STATS")
        self.frame_stats = FrameStats(stats) if stats else None
        #: SIGUSR1 saves a screenshot here (``BXTUI_SCREENSHOT_DIR``, for scripts/screenshots.sh).
        self.screenshot_dir = os.environ.get("BXTUI_SCREENSHOT_DIR")
        self._shots = 0
        #: The retry line (``e``) once opened; it keeps the tries.
        self._retry: RetryLine | None = None
        #: The tries of this build's retry line, kept while the line is closed (``w``).
        self._tries: TryHistory | None = None
        #: Set when n/c let a paused build go on.
        self._resumed = asyncio.Event()

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
        self.set_interval(FRAME_SECONDS, self._frame)
        self._watch_build()
        self._watch_pauses()
        if self.watch_files:
            self._watch_files()
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
    def _frame(self) -> None:
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
            if self._follow_running:
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
            self._show_logs(running[-1].digest)

    def _show_logs(self, digest: str) -> None:
        vertex = self.session.graph.get(digest)
        self._shown = digest if vertex is not None else None
        self.log_view.show_vertex(vertex)

    def _update_status(self, force: bool = False) -> None:
        self.status.show(status_line(self.session, self.build_title, self.main.tabs()), force)

    @work(group="build")
    async def _watch_build(self) -> None:
        outcome = await self.session.wait_finished()
        self._frame()
        if self.frame_stats is not None:
            self.frame_stats.mark("finished")
        self._after_build(outcome)

    def _after_build(self, outcome: Outcome) -> None:
        """The build has ended: show the outcome, enable the keys, open what was asked for."""
        self._build_shown.set()
        if isinstance(outcome, Unreachable):
            self.exit(self.session.exit_status)
            return
        self.phase = outcome.phase
        self._follow_running = False
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
                self._show_logs(info.vertex)
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
            self.action_diff()
        if self.open_step is not None:
            self._open_step_selector(self.open_step)
        elif self.auto_open is not None:
            which, on_success = self.auto_open
            if info is not None and info.can_open:
                self._open_shell(which)
            elif isinstance(outcome, Succeeded) and on_success:
                self._open_shell(StateKind.FINAL)

    def _get_ready(self) -> None:
        """Prepare what the next keys need: the emulator, the final-state shell, the definition."""
        self._warm_up_terminal()
        # only the default shell, and not once a key has opened one
        if self.auto_open is None and self.open_step is None and not self._links:
            self._start_reserve()
        self.run_worker(self.session.prepare(), group="prepare", exit_on_error=False)

    @work(thread=True, group="warm-up", exit_on_error=False)
    def _warm_up_terminal(self) -> None:
        """Load the terminal emulator now, off the event loop, so that f/i open at once."""
        warm_up()

    def on_graph_view_highlighted(self, message: GraphView.Highlighted) -> None:
        """The cursor rests on a completed step: start its shell unseen, so that ``s`` is quick.

        Only the default shell (no explicit ``--invoke``: it could have side effects), one at
        a time: moving on ends the previous one.
        """
        if self._speculate_timer is not None:
            self._speculate_timer.stop()
            self._speculate_timer = None
        digest = message.digest
        if self.auto_open is not None or self.building or self._step_reserve.key == digest:
            return
        self._speculate_timer = self.set_timer(SPECULATE_S, lambda: self._speculate(digest))

    def _speculate(self, digest: str) -> None:
        self._speculate_timer = None
        if self.graph_view.selected_digest != digest or self.session.is_failed_step(digest) \
                or self.session.step_unavailable(digest) or not self.session.has_states:
            return
        rows, cols = self.terminal.pty_size
        self._step_reserve.start(digest, lambda held: self.session.open_shell(
            StateKind.FINAL, rows, cols, held, step=digest))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> Worker[None]:
        return self.run_worker(coro, group="unseen", exit_on_error=False)

    def on_graph_view_selected(self, message: GraphView.Selected) -> None:
        """Enter or a click in the graph: show that step's logs."""
        self._follow_running = False
        self._show_logs(message.digest)

    # -- shells ------------------------------------------------------------------------------
    def action_shell(self, which: str) -> None:
        """Open the invoke command in the final or initial state (``f`` / ``i``).

        It opens in the shown tab when nothing runs there, else in a new tab.  ``f`` shows the
        shell started in advance when there is one (its prompt is ready).
        """
        if self.session.paused is not None:
            self._open_paused_shell()
            return
        self._open_shell(StateKind(which))

    @property
    def shell(self) -> Shell | None:
        """The shell of the tab shown (None: nothing opened there yet)."""
        return self._tab_shells.get(self.terminal)

    def _tab_name(self, state: StateKind, step: str | None) -> str:
        """``final``, ``initial`` or ``step N``: what a tab is called."""
        if step is None:
            return state.value
        vertex = self.session.graph.get(step)
        return f"step {vertex.step}" if vertex is not None and vertex.step else "step"

    async def _free_pane(self, name: str) -> TerminalPane:
        """The tab shown when nothing runs there, else a new tab; called ``name``."""
        deck = self.main.deck
        pane = deck.current
        shell = self._tab_shells.get(pane)
        if pane.live or (shell is not None and not shell.finished):
            pane = await deck.add()
        deck.set_name(pane, name)
        return pane

    async def _pane_for(self, name: str, title: str
                        ) -> tuple[TerminalPane, ShellLink, OutputFn, Drain]:
        """A tab's pane attached to a new link; the output and flow-control hooks for it."""
        pane = await self._free_pane(name)
        link = self._links[pane] = ShellLink()
        self._tab_shells.pop(pane, None)
        pane.attach(link, title)
        self.main.deck.refresh_tabs()
        pane.focus()  # what is typed while it starts is kept for it (type-ahead)

        def on_output(_fd: int, data: bytes) -> None:
            if self._links.get(pane) is link:  # late output of an ended shell stays out
                pane.feed(data)

        async def drain() -> None:
            # flow control: hold the process's output while the pane has much left to parse
            if self._links.get(pane) is link:
                await pane.wait_backlog(BACKLOG_LIMIT)

        return pane, link, on_output, drain

    @work(group="shell")
    async def _open_shell(self, state: StateKind, step: str | None = None) -> None:
        opened = await self._start_in_tab(state, step)
        if opened is not None:
            await self._follow_shell(*opened)

    async def _start_in_tab(self, state: StateKind, step: str | None = None
                            ) -> tuple[Shell, TerminalPane, ShellLink, str] | None:
        """A shell in ``state`` (or ``step``'s) in a tab; None when it could not open."""
        rows, cols = self.terminal.pty_size
        title = f"shell: {self.session.describe_target(state, step)}"
        pane, link, on_output, drain = await self._pane_for(self._tab_name(state, step), title)
        if step is not None:
            shell = await self._take_unseen(self._step_reserve, step, pane, on_output, drain)
        elif state is StateKind.FINAL:
            shell = await self._take_unseen(self._reserve, state, pane, on_output, drain)
        else:
            shell = None
        if shell is None:
            try:
                shell = await self.session.open_shell(state, rows, cols, on_output, drain,
                                                      step=step)
            except OpenError as exc:
                self._not_opened(pane, exc)
                return None
        return shell, pane, link, title

    def _not_opened(self, pane: TerminalPane, exc: OpenError) -> None:
        pane.process_exited(f"not opened: {exc}")
        self.main.deck.refresh_tabs()
        self.notify(str(exc), title="Nothing to open", severity="warning", timeout=8)
        self.graph_view.focus()

    async def _take_unseen(self, unseen: UnseenShell, key: str, pane: TerminalPane,
                           on_output: OutputFn, drain: Drain) -> Shell | None:
        """The shell started in advance for ``key`` (waiting if it is starting), now shown."""
        taken = await unseen.take(key, on_output)
        if taken is None:
            return None
        shell, held = taken
        pane.feed(held)
        shell.proc.set_drain(drain)
        return shell

    async def _follow_shell(self, shell: Shell, pane: TerminalPane, link: ShellLink,
                            title: str) -> None:
        """The shell is shown in ``pane``: connect it, then report its end."""
        self._tab_shells[pane] = shell

        def toolbox_notice() -> None:
            self.notify("This state has no shell of its own: the toolbox's shell runs in it, "
                        "with the toolbox on PATH (/.bxtui/toolbox).", title="Toolbox",
                        timeout=8)

        shell.proc.on_fallback(toolbox_notice)  # now, if it took over before it was shown
        link.connect(shell)
        self.main.shell_opened = True
        await shell.wait()
        message = shell.exit_message()
        given_up = self.session.use_default_shell() if shell.proc.missing else None
        # said in the pane too: a notice can be missed (it goes after a few seconds)
        pane.process_exited(message if given_up is None
                            else f"{message} · {given_up!r} is not in this state")
        self.main.deck.refresh_tabs()
        if given_up is not None:
            self.notify(f"{given_up!r} is not in this state: f and i open /bin/sh from now on",
                        title="Command not found", severity="warning", timeout=10)
        else:
            self.notify(f"{title}: {message}", timeout=5)
        if self.focused is pane:
            self.graph_view.focus()

    # -- several shells ---------------------------------------------------------------------
    def action_tab(self, step: int) -> None:
        """``[`` / ``]``: the previous / next shell tab."""
        self.main.deck.cycle(step)

    def action_tab_number(self, number: int) -> None:
        """alt+N: shell tab N."""
        self.main.deck.show(number - 1)

    def action_exec(self) -> None:
        """``x``: a second process in the container of the shown tab's shell, in a new tab."""
        base = self.shell
        if base is None or base.finished:
            self.notify("x runs a second process where the shown tab's shell runs: open a "
                        "shell first (f, i, s)", title="Nothing to exec into",
                        severity="warning", timeout=6)
            return
        self._exec_into(base, self.main.deck.index + 1)

    @work(group="shell")
    async def _exec_into(self, base: Shell, tab: int) -> None:
        rows, cols = self.terminal.pty_size
        title = f"exec: {base.label}"
        pane, link, on_output, drain = await self._pane_for(f"exec {tab}", title)
        try:
            shell = await self.session.exec_shell(base, rows, cols, on_output, drain)
        except OpenError as exc:
            self._not_opened(pane, exc)
            return
        await self._follow_shell(shell, pane, link, title)

    def action_side_by_side(self) -> None:
        """``v``: the failed step's initial and final states in two terminals at once."""
        self._side_by_side()

    @work(group="shell")
    async def _side_by_side(self) -> None:
        deck = self.main.deck
        shown: list[int] = []
        for state in (StateKind.INITIAL, StateKind.FINAL):
            running = [i for i, pane in enumerate(deck.panes)
                       if deck.names[pane] == state.value and pane.live]
            if running:
                shown.append(running[-1])
                continue
            opened = await self._start_in_tab(state)
            if opened is None:
                return
            shown.append(deck.panes.index(opened[1]))
            self.run_worker(self._follow_shell(*opened), group="shell")
        deck.show_pair(*shown)
        deck.current.focus()

    def action_processes(self) -> None:
        """``p``: the open shells and their containers; one can be ended."""
        from tui.ui.screens.processes import ProcessScreen

        self.push_screen(ProcessScreen(self.session))

    def _start_reserve(self) -> None:
        """Start the final-state shell now, unseen, so that ``f`` shows a ready prompt."""
        rows, cols = self.terminal.pty_size
        self._reserve.start(StateKind.FINAL, lambda held: self.session.open_shell(
            StateKind.FINAL, rows, cols, held))

    # -- exploring ---------------------------------------------------------------------------
    def _selected_step(self) -> str | None:
        """The graph's selected vertex, unless it is the failed one (f/i open that)."""
        digest = self.graph_view.selected_digest
        return None if digest is None or self.session.is_failed_step(digest) else digest

    def action_step_shell(self) -> None:
        """``s``: a shell in the state the graph's selected step produced."""
        if self._speculate_timer is not None:  # s came first: no second shell for the step
            self._speculate_timer.stop()
            self._speculate_timer = None
        step = self._selected_step()
        if step is None:
            self._open_shell(StateKind.FINAL)
            return
        reason = self.session.step_unavailable(step)
        if reason:
            self.notify(reason, title="Nothing to open", severity="warning", timeout=6)
            return
        self._open_shell(StateKind.FINAL, step)

    def _open_step_selector(self, selector: str) -> None:
        try:
            digest = self.session.resolve_step(selector)
        except OpenError as exc:
            self.notify(str(exc), title="--step", severity="error", timeout=10)
            return
        self.graph_view.select(digest)
        self._show_logs(digest)
        if self.session.is_failed_step(digest):
            self._open_shell(StateKind.FINAL)
        else:
            self.action_step_shell()

    def _show_middle(self, middle: Middle) -> None:
        """Show the failing step, the file browser or the diff above the terminal."""
        self.main.show_middle(middle)
        self.refresh_bindings()  # escape closes it

    def action_browse(self) -> None:
        """``b``: the file browser over the selected step's state and the failure's states."""
        self._load_browser(self._selected_step())

    @work(exclusive=True, group="browse")
    async def _load_browser(self, step: str | None) -> None:
        try:
            states = await self.session.browse(step)
        except OpenError as exc:
            self.notify(str(exc), title="Nothing to browse", severity="warning", timeout=8)
            return
        self.main.files.show(states)
        self._show_middle(Middle.FILES)

    def action_diff(self) -> None:
        """``d``: what the failed step changed, initial vs final state."""
        try:
            source = self.session.diff_source()
        except OpenError as exc:
            self.notify(str(exc), title="No diff", severity="warning", timeout=8)
            return
        if self.main.diff_view.diffs is None or self.main.middle is not Middle.DIFF:
            self.main.diff_view.show(source)
        self._show_middle(Middle.DIFF)

    def action_close_explore(self) -> None:
        """``escape``: close the files / diff pane (the failing step shows again)."""
        self._show_middle(Middle.FAILURE)
        self.graph_view.focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Which keys work now: the footer shows f/i/s/b/d dimmed while they cannot.

        ``escape`` is the app's only while a files / diff pane is open. The keys that open a
        state are disabled (None) while the build runs or when there is nothing to open, and
        hidden (False) where they never apply (``i`` and ``d`` after a success).
        """
        if action == "close_explore":
            return self.main.middle is not Middle.FAILURE
        if action in ("retry", "write_back"):
            return self._retry_action_ok(action)
        if action == "reload":
            return None if self.building or self.phase is Phase.UNREACHABLE else True
        if action in ("step_next", "step_continue"):
            return self.session.paused is not None  # shown only while paused
        if action == "shell" and self.session.paused is not None:
            return True
        if action not in OPENING:
            return True
        if self.building:
            return None
        if self.phase is Phase.SUCCEEDED and (action in ("diff", "side_by_side")
                                              or parameters == ("initial",)):
            return False
        return True if self._can_open(action) else None

    def _can_open(self, action: str) -> bool:
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

    # -- retry and write back -----------------------------------------------------------------
    def _retry_action_ok(self, action: str) -> bool | None:
        """``e`` once a RUN failed (dimmed while building); ``w`` once a try passed."""
        if action == "write_back":
            return self._tries is not None and self._tries.last_passed is not None
        if self.building:
            return None
        failure = self.session.outcome.failure if isinstance(self.session.outcome,
                                                             Failed | BuilderLost) else None
        return failure is not None and self._can_open("shell") and not failure.file_op

    def action_retry(self) -> None:
        """``e``: the retry line, pre-filled with the failing command (or the last try)."""
        if self._retry is not None and self._retry.is_mounted:
            self._retry.focus_input()
            return
        self._open_retry()

    @work(exclusive=True, group="retry-open")
    async def _open_retry(self) -> None:
        try:
            retrier = await self.session.retrier()
        except OpenError as exc:
            self.notify(str(exc), title="Cannot retry", severity="warning", timeout=8)
            return
        from tui.debug.model.retry import TryHistory
        from tui.ui.widgets.retry import RetryLine

        if self._retry is not None and self._retry.is_mounted:  # e pressed twice meanwhile
            self._retry.focus_input()
            return
        if self._tries is None:
            self._tries = TryHistory(retrier.command)
        history = self._tries
        last = history.tries[-1].command if history.tries else retrier.command
        self._retry = RetryLine(history, last, retrier.notes())
        await self.main.mount(self._retry)
        self._retry.focus_input()

    def on_retry_line_closed(self) -> None:
        """Escape in the retry line: remove it (its tries are kept for ``e`` and ``w``)."""
        if self._retry is not None:
            self._retry.remove()
            self._retry = None  # removal is not immediate: e must mount a new line
        self.graph_view.focus()
        self.refresh_bindings()

    def on_retry_line_try(self, message: RetryLine.Try) -> None:
        """Enter in the retry line: run the command in a fresh initial-state container."""
        self._run_try(message.command)

    @work(exclusive=True, group="shell")
    async def _run_try(self, cmd: str) -> None:
        line = self._retry
        if line is None:  # closed before the try started
            return
        line.history.add(cmd)
        n = len(line.history.tries)
        title = f"retry #{n}: {cmd}"
        pane, link, on_output, drain = await self._pane_for(f"retry {n}", title)
        line.focus_input()  # the pane shows the output; the line keeps the keys
        line.show_state(f"try #{n} running…")
        rows, cols = self.terminal.pty_size
        try:
            proc = await self.session.retry(cmd, on_output, rows, cols, tty=True)
        except OpenError as exc:
            line.history.finish(255)
            pane.process_exited(f"not started: {exc}")
            line.show_state(f"try #{n} did not start: {exc}")
            return
        proc.set_drain(drain)
        shell = self._tab_shells[pane] = Shell(proc, title)
        link.connect(shell)
        self.main.shell_opened = True
        code = await shell.wait()
        message = shell.exit_message()
        pane.process_exited(message)
        self.main.deck.refresh_tabs()
        done = line.history.finish(code)
        hint = " · esc, then w writes it back" if done.passed else " · edit and Enter again"
        line.show_state(f"try #{n} {message}{hint}")
        self.refresh_bindings()

    def action_write_back(self) -> None:
        """``w``: the diff of writing the last passing try back, then y/n."""
        self._write_back()

    @work(exclusive=True, group="write-back")
    async def _write_back(self) -> None:
        from tui.debug.model.writeback import WriteBackError
        from tui.ui.widgets.retry import WriteBackScreen

        passed = self._tries.last_passed if self._tries is not None else None
        if passed is None:
            return
        try:
            retrier = await self.session.retrier()
            plan = await retrier.plan(passed.command)
        except (OpenError, WriteBackError) as exc:
            self.notify(str(exc), title="Not written back", severity="warning", timeout=10)
            return
        if not plan.patch.changed:
            self.notify("The Dockerfile has this command already", timeout=6)
            return
        if not await self.push_screen_wait(WriteBackScreen(str(plan.path), plan.patch.diff)):
            self.notify("Nothing written", timeout=4)
            return
        try:
            await retrier.write(plan)
        except (WriteBackError, OSError) as exc:
            self.notify(str(exc), title="Not written back", severity="error", timeout=10)
            return
        self.notify(f"Wrote the command back to {plan.path}", title="Written", timeout=8)

    # -- help, palette, closing --------------------------------------------------------------
    @classmethod
    def key_sections(cls) -> list[KeySection]:
        """Every key the user can press, from the bindings, for the help screen."""
        return [
            KeySection("Everywhere", key_rows(cls.BINDINGS)),
            KeySection("Build graph", key_rows(GraphView.BINDINGS)),
            KeySection("Logs", key_rows(LogView.BINDINGS)),
            KeySection("Files (b)", key_rows(FileBrowser.BINDINGS, FileBrowser.OTHER_KEYS)),
            KeySection("Diff (d)", key_rows(DiffView.BINDINGS)),
            KeySection("Terminal", key_rows(TerminalPane.BINDINGS, TerminalPane.OTHER_KEYS)),
            KeySection("Retry line (e)", key_rows(_retry_keys())),
        ]

    def action_help(self) -> None:
        """Show the keys."""
        self.push_screen(HelpScreen(self.key_sections(), chord=CHORD.key_display or CHORD.key))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette: the debugger's actions that work now first, then Textual's own."""
        opening = [
            (SystemCommand("Shell in the final state", "Open a shell where the failed step "
                           "ended (or in the result)", lambda: self.action_shell("final")),
             "shell", ("final",)),
            (SystemCommand("Shell in the initial state", "Open a shell where the failed step "
                           "started", lambda: self.action_shell("initial")),
             "shell", ("initial",)),
            (SystemCommand("Shell in the selected step", "Open a shell in the state the "
                           "selected step produced", self.action_step_shell), "step_shell", ()),
            (SystemCommand("Browse files", "Files of the selected step, the failed step's "
                           "states or the result", self.action_browse), "browse", ()),
            (SystemCommand("Diff of the failed step", "What the failed step changed",
                           self.action_diff), "diff", ()),
        ]
        yield from (command for command, action, params in opening
                    if self.check_action(action, params))
        yield SystemCommand("Zoom the terminal", "Toggle the terminal over the whole screen",
                            self.action_zoom)
        yield SystemCommand("Keys", "Show every key", self.action_help)
        yield SystemCommand("Quit", "Release everything and exit", self.action_close_view)
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


    # -- files out ---------------------------------------------------------------------------
    def on_file_browser_copy_requested(self, message: FileBrowser.CopyRequested) -> None:
        """``o`` in the file browser: ask where, then copy (asking before overwriting)."""
        self._copy_out(message.state, message.path)

    def on_diff_view_copy_requested(self, message: DiffView.CopyRequested) -> None:
        """``o`` in the diff: the same, from the failed step's final (or initial) state."""
        try:
            state = self.session.diff_state(message.mount, message.state)
        except OpenError as exc:
            self.notify(str(exc), title="Nothing to copy", severity="warning", timeout=8)
            return
        self._copy_out(state, message.path)

    @work(group="copy-out")
    async def _copy_out(self, state: StateFiles, path: str) -> None:
        from tui.debug.model.copyspec import default_dest
        from tui.ui.screens.copyout import ConfirmOverwrite, CopyPrompt
        from tui.ui.widgets.textclean import one_line

        prompt = CopyPrompt(f"{path} of the {state.label}", default_dest(state.label, path))
        dest = await self.push_screen_wait(prompt)
        if dest is None:
            return
        overwrite = await asyncio.to_thread(os.path.lexists, dest)
        if overwrite and not await self.push_screen_wait(ConfirmOverwrite(dest)):
            self.notify(f"{dest} kept: nothing copied", timeout=4)
            return
        try:
            report = await state.copy_out(path, dest, overwrite)
        except Exception as exc:
            self.notify(one_line(exc), title="Not copied", severity="error", timeout=10)
            return
        self.notify(f"{path} \u2192 {report.dest}: {report.summary()}", title="Copied",
                    timeout=8)
    # -- reload ------------------------------------------------------------------------------
    def action_reload(self) -> None:
        """``r``: release this build (its shells end) and build again in the same window."""
        if not self.building:
            self.phase = Phase.CONNECTING  # at once: f/i no longer open the released build
            self._reload()

    @work(exclusive=True, group="reload")
    async def _reload(self) -> None:
        shell_open = self.shell is not None and not self.shell.finished
        self._build_shown.clear()
        self._reserve.drop()
        self._step_reserve.drop()
        self.phase = Phase.CONNECTING
        self._follow_running = True
        self._shown = None
        self._lost_shown = False
        self._show_middle(Middle.FAILURE)
        self.failure_pane.show_running("Reloading…")
        self.terminal.hint = "f and i open a shell here once the build has finished"
        if shell_open:
            self.notify("The previous build's shells ended", title="Reload", timeout=5)
        if self._retry is not None:  # the tries were of the previous build's failure
            self._retry.remove()
            self._retry = None
        self._tries = None
        await self.session.reload()
        self.graph_view.replace_graph(self.session.graph)
        self.graph_view.change_of = self.session.step_change
        self.log_view.show_vertex(None)
        self.graph_view.focus()
        self._watch_build()
        self._watch_pauses()  # the breakpoints moved with their lines: it may pause again
    # -- breakpoints -------------------------------------------------------------------------
    def action_toggle_breakpoint(self) -> None:
        """``space``: set or clear a breakpoint on the graph's selected step."""
        digest = self.graph_view.selected_digest
        if digest is None:
            self.notify("select a step in the graph first", timeout=4)
            return
        try:
            on = self.session.toggle_breakpoint(digest)
        except OpenError as exc:
            self.notify(str(exc), title="Breakpoint", severity="warning", timeout=6)
            return
        self._show_marks()
        vertex = self.session.graph.get(digest)
        name = vertex.name if vertex is not None and vertex.name else digest[:19]
        if on and not self.session.breakpoint_applies(digest):
            self.notify(f"set on {name}: too late for this build, it pauses the next one (r)",
                        title="Breakpoint for the next build", timeout=6)
            return
        self.notify(f"{'set on' if on else 'cleared from'} {name}", title="Breakpoint",
                    timeout=3)

    def _show_marks(self) -> None:
        pause = self.session.paused
        row = self.session.step_row(pause.digest) if pause else None
        self.graph_view.set_marks(self.session.breakpoints, row)

    @work(group="pauses", exit_on_error=False)
    async def _watch_pauses(self) -> None:
        """Show each pause (the step, its state's keys) until the build has finished."""
        while (pause := await self.session.wait_paused()) is not None:
            self._resumed.clear()
            self._frame()
            self._follow_running = False
            self._show_marks()
            self.graph_view.select(self.session.step_row(pause.digest))
            self.failure_pane.border_title = "Paused step"
            self.failure_pane.show_message(pause.headline(), pause.details())
            if self.main.narrow and self.focused in (None, self.graph_view):
                self.failure_pane.focus()  # one pane at a time: the paused step first
            key = "i: shell in its initial state" if pause.where.value == "before" \
                else "f: shell in its result"
            self.terminal.hint = f"{key} · n: next step · c: continue"
            self.refresh_bindings()
            await self._resumed.wait()
        self._show_marks()

    def action_step_next(self) -> None:
        """``n`` while paused: run just this step (or the next) and pause after it."""
        self._resume_build("next")

    def action_step_continue(self) -> None:
        """``c`` while paused: on to the next breakpoint, a failure or the end."""
        self._resume_build("continue")

    def _resume_build(self, how: str) -> None:
        from tui.debug.model.pause import Resume

        if self.session.paused is None:
            return
        for shell in self._tab_shells.values():  # the pause's containers are released
            if not shell.finished:
                self.run_worker(shell.kill(), group="kill")
        self.session.resume(Resume(how))
        self.failure_pane.border_title = "Failing step"
        self.failure_pane.show_running("Building…")
        self.terminal.hint = "f and i open a shell here once the build has finished"
        self._resumed.set()
        self._show_marks()
        self.refresh_bindings()

    @work(exclusive=True, group="shell")
    async def _open_paused_shell(self) -> None:
        pause = self.session.paused
        if pause is None:
            return
        rows, cols = self.terminal.pty_size
        title = f"shell: {pause.state_words()}"
        pane, link, on_output, drain = await self._pane_for("paused", title)
        try:
            shell = await self.session.open_paused_shell(rows, cols, on_output, drain)
        except OpenError as exc:
            self._not_opened(pane, exc)
            return
        await self._follow_shell(shell, pane, link, title)
    # -- watch (--watch) ---------------------------------------------------------------------
    @work(group="watch", exit_on_error=False)
    async def _watch_files(self) -> None:
        """Rebuild on each (debounced) change of what the build reads, until the app closes.

        A change while the build runs rebuilds once it has ended; while a shell is open, only
        if the user says so.
        """
        from tui.debug.engine.watch import WatchError

        watcher = self.session.watcher()
        try:
            async with contextlib.aclosing(watcher.changes()) as changes:
                async for change in changes:
                    await self._files_changed(change.describe(watcher.filter.context))
                    watcher.discard_pending()  # the rebuild just started reads them
        except WatchError as exc:
            self.notify(f"{exc}: r rebuilds by hand", title="Watch stopped", severity="error",
                        timeout=15)

    async def _files_changed(self, what: str) -> None:
        from tui.ui.screens.watch import ConfirmRebuild

        if self.building:
            self.notify(f"{what}: rebuilding once this build has ended", title="Files changed",
                        timeout=4)
            await self._build_shown.wait()
        shells = any(not shell.finished for shell in self._tab_shells.values())
        if shells and not await self.push_screen_wait(ConfirmRebuild(what)):
            self.notify("Not rebuilt: r rebuilds", title="Files changed", timeout=5)
            return
        self.notify(f"{what}: rebuilding", title="Files changed", timeout=4)
        self._reload()
