"""One build driven for a front-end (the app or headless): status, outcome, then its states.

A front-end talks only to this (see :class:`~tui.debug.engine.facade.SessionFacade`): it never
sees gRPC or protobuf.  ``start`` runs the build in a task; the app takes merged
:class:`Changes` once per frame, headless passes ``on_status`` to its printer.  When the build
has finished, :attr:`DebugSession.outcome` says how (one immutable value), shells open with
:meth:`DebugSession.open_shell` / :meth:`DebugSession.start_process`, and
:meth:`DebugSession.done` (idempotent) releases everything.

Each feature is a small engine object of its own module, which the session's public methods
delegate to: the run to an outcome (``running``), the states (``exploring``), shells and
``ps`` (``opener``), files out (``filesout``), retry (``retrying``) and breakpoints
(``breakpoints``); they read the current build through
:class:`~tui.debug.engine.finished.BuildView`.

Only what a plain build needs is imported up front (start-up time counts): debugging loads
its modules once the build has finished.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from tui.buildkit.address import AddressError
from tui.buildkit.aio import cancel_child, wait_child
from tui.buildkit.debuglog import LOG
from tui.buildkit.relay import DaemonUnreachable
from tui.debug.engine.facade import Drain, NotStarted, OpenError
from tui.debug.engine.options import BuildOptions
from tui.debug.model.outcome import (
    BuilderLost,
    Cancelled,
    Failed,
    Outcome,
    Phase,
    StateKind,
    Succeeded,
    Unreachable,
)

if TYPE_CHECKING:
    from tui.buildkit.client import BuildkitClient
    from tui.buildkit.proto import control_pb2
    from tui.debug.engine.breakpoints import Breakpoints
    from tui.debug.engine.build import StatusCallback
    from tui.debug.engine.container import OutputFn
    from tui.debug.engine.explore import HelperState
    from tui.debug.engine.exploring import Exploring
    from tui.debug.engine.filesout import FilesOut
    from tui.debug.engine.finished import Kept
    from tui.debug.engine.handle import ProcessHandle
    from tui.debug.engine.opener import ShellOpener
    from tui.debug.engine.processes import ProcessInfo, ProcessRegistry
    from tui.debug.engine.retry import Retrier
    from tui.debug.engine.retrying import Retrying
    from tui.debug.engine.shell import Shell
    from tui.debug.engine.watch import Watcher
    from tui.debug.model.copyspec import CopyReport
    from tui.debug.model.fsmodel import DiffSource, StateFiles
    from tui.debug.model.graph import BuildGraph, Changes
    from tui.debug.model.invoke import InvokeConfig
    from tui.debug.model.llbdef import LLBDefinition
    from tui.debug.model.pause import PausedStep, Resume
    from tui.debug.model.reload import DockerfileChanges, PreviousBuild, StepChange
    from tui.debug.model.stepsel import StepRef

__all__ = ["APP_LOG_CAP", "LATER_MODULES", "DebugSession", "NotStarted", "OpenError", "Phase"]

#: What the session needs only once the build has finished (states, shells, summaries).
#: Imported where used; the app imports them in a thread while the daemon builds, so that
#: nothing stands between the command line and the build's start.
LATER_MODULES = (
    "tui.debug.engine.result",
    "tui.debug.engine.explore",
    "tui.debug.engine.exploring",
    "tui.debug.engine.opener",
    "tui.debug.engine.stepshell",
    "tui.debug.engine.shell",
    "tui.debug.model.stepsel",
    "tui.debug.engine.summary",
)

#: Bytes of log output the app keeps per vertex (the plain printer keeps 1 MiB).
APP_LOG_CAP = 64 << 20

Connect = Callable[[], Awaitable["BuildkitClient"]]


class DebugSession:
    """A build and, once it has finished, its result context kept open for debugging.

    ``keep`` False runs a plain build (nothing is kept open, the graph is not fed: the
    status goes to ``on_status`` only); ``on_connected`` is called once the daemon answered.
    """

    def __init__(self, opts: BuildOptions, connect: Connect, invoke: InvokeConfig | None = None,
                 *, builder: str = "", log_cap: int = APP_LOG_CAP,
                 toolbox: str | None = None, keep: bool = True,
                 on_status: StatusCallback | None = None,
                 on_connected: Callable[[], None] | None = None) -> None:
        self.opts = opts
        self.builder = builder
        self._invoke = invoke
        self._log_cap = log_cap
        #: The toolbox image (None: the default); given explicitly, every shell gets it.
        self.toolbox = toolbox
        self.keep = keep
        self._connect = connect
        self._listener = on_status
        self._on_connected = on_connected
        self._new_build()
        #: The build this one reloaded (None for the first build).
        self.previous: PreviousBuild | None = None
        #: Each pushed name's manifest digest (``--push``), once pushed.
        self.pushed: dict[str, str] = {}

    @functools.cached_property
    def graph(self) -> BuildGraph:
        """The build's steps as the status stream tells them (not fed by a plain build)."""
        from tui.debug.model.graph import BuildGraph

        return BuildGraph(self._log_cap)

    @functools.cached_property
    def _pending(self) -> Changes:
        from tui.debug.model.graph import Changes

        return Changes()

    @property
    def invoke(self) -> InvokeConfig:
        """The command shells run (``/bin/sh`` unless ``--invoke`` said otherwise)."""
        if self._invoke is None:
            from tui.debug.model.invoke import InvokeConfig

            self._invoke = InvokeConfig(cmd=["/bin/sh"])
        return self._invoke

    # -- the build ---------------------------------------------------------------------------
    def _new_build(self) -> None:
        """What one build holds (set again by :meth:`reload`)."""
        for name in ("graph", "_pending", "_retrying"):
            self.__dict__.pop(name, None)  # the cached properties: made anew when asked for
        self.shells: list[Shell] = []
        self.started_at = time.monotonic()
        self._outcome: Outcome | None = None
        self._kept: Kept | None = None
        self._client: BuildkitClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._done_task: asyncio.Task[None] | None = None
        self._connected = False
        self._t_build: float | None = None
        self._t_end: float | None = None
        #: The Dockerfile's text when this build started (read only when kept open).
        self.dockerfile_text: str | None = None

    def start(self) -> None:
        """Start the build in a task of the running loop."""
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def wait_finished(self) -> Outcome:
        """Wait until the build has finished (or could not run); its outcome."""
        self.start()
        assert self._task is not None
        # the build's own cancellation (done() stopped it) ends the wait; the caller's goes on
        await wait_child(asyncio.shield(self._task))
        return self._outcome or Cancelled()

    @property
    def outcome(self) -> Outcome | None:
        """How the build ended (None while it runs)."""
        return self._outcome

    @property
    def phase(self) -> Phase:
        """Where the build stands."""
        if self._outcome is not None:
            return self._outcome.phase
        return Phase.BUILDING if self._connected else Phase.CONNECTING

    @property
    def duration(self) -> float | None:
        """Wall time of the build as seen from here (request sent to result); None before.

        Measured locally rather than from the vertices' timestamps: a step shared with
        another build on the same daemon carries that build's (earlier) start time.
        """
        if self._t_build is None:
            return None
        end = self._t_end if self._t_end is not None else time.monotonic()
        return end - self._t_build

    @property
    def finished(self) -> bool:
        """Whether the build has finished one way or another."""
        return self._outcome is not None

    @property
    def has_states(self) -> bool:
        """Whether the finished build is kept open (its states can be opened)."""
        return self._kept is not None

    def _on_status(self, resp: control_pb2.StatusResponse) -> None:
        self._pending.merge(self.graph.apply(resp))
        if self._listener is not None:
            self._listener(resp)

    def _on_definition(self, definition: LLBDefinition) -> None:
        self._pending.merge(self.graph.adopt(definition.op_infos()))

    def take_changes(self) -> Changes | None:
        """Everything that changed since the last call (None when nothing did)."""
        if not self._pending:
            return None
        changes = self._pending
        del self._pending  # the next one is made when asked for
        return changes

    async def _run(self) -> None:
        if self.keep:
            from tui.debug.engine.reload import read_dockerfile

            self.dockerfile_text = read_dockerfile(self.opts)
            self._breaks.carry(self.previous, self.dockerfile_text)
        try:
            self._client = await self._connect()
        except (AddressError, DaemonUnreachable) as exc:
            self._outcome = Unreachable(str(exc))
            return
        self._connected = True
        if self._on_connected is not None:
            self._on_connected()
        from tui.debug.engine.running import BuildRun

        self._t_build = time.monotonic()
        run = BuildRun(self._client, self.opts, self._t_build, self.pushed)
        try:
            if self.keep:
                ran = await run.kept(self.graph, self._on_status, self._on_definition,
                                     self._breaks.stepper, self.toolbox)
            else:
                ran = await run.plain(self._listener)
        except asyncio.CancelledError:
            self._t_end = time.monotonic()
            self._outcome = Cancelled()
            raise
        self._t_end, self._kept, self.pushed = ran.ended, ran.kept, ran.pushed
        if self.keep:
            match ran.outcome:
                case Failed(failure):
                    self._pending.merge(self.graph.settle(failure.vertex, failure.message))
                case _:
                    self._pending.merge(self.graph.settle())
        self._outcome = ran.outcome

    @property
    def kept(self) -> Kept | None:
        """The finished build kept open (None: running, a plain build, or none to keep)."""
        return self._kept

    @property
    def lost(self) -> str:
        """Why the kept-open build is gone (the builder stopped or restarted); empty if not."""
        if self._kept is not None and (lost := self._kept.lost):
            return lost
        match self._outcome:
            case BuilderLost(failure):
                return failure.message
        return ""

    async def wait_lost(self, limit: float) -> str:
        """Why the kept-open build is gone, waiting up to ``limit`` s for the daemon to say so."""
        return await self._kept.wait_lost(limit) if self._kept is not None else ""

    # -- the feature objects (each one job; the public methods below delegate to them) -----
    @functools.cached_property
    def _steps(self) -> Exploring:
        from tui.debug.engine.exploring import Exploring

        return Exploring(self)

    @functools.cached_property
    def _opener(self) -> ShellOpener:
        from tui.debug.engine.opener import ShellOpener

        return ShellOpener(self, self._steps)  # kept across reloads: ps numbers go on

    @functools.cached_property
    def _files(self) -> FilesOut:
        from tui.debug.engine.filesout import FilesOut

        return FilesOut(self, self._steps)

    @functools.cached_property
    def _retrying(self) -> Retrying:
        from tui.debug.engine.retrying import Retrying

        return Retrying(self)  # one per build: dropped by _new_build

    @functools.cached_property
    def _breaks(self) -> Breakpoints:
        from tui.debug.engine.breakpoints import Breakpoints

        return Breakpoints(self)  # kept across reloads: breakpoints stay

    # -- shells (tui.debug.engine.opener) --------------------------------------------------
    def describe_target(self, state: StateKind, step: str | None = None) -> str:
        """Where ``f`` (final) or ``i`` (initial), or ``step``'s state, opens a shell."""
        return self._opener.describe_target(state, step)

    async def start_process(self, state: StateKind, rows: int, cols: int, on_output: OutputFn,
                            step: str | None = None, *, tty: bool = True
                            ) -> tuple[ProcessHandle, bool]:
        """The invoke command in a state; whether the toolbox is on its PATH (see opener)."""
        return await self._opener.start_process(state, rows, cols, on_output, step, tty=tty)

    async def open_shell(self, state: StateKind, rows: int, cols: int, on_output: OutputFn,
                         drain: Drain | None = None, step: str | None = None) -> Shell:
        """A shell (see :meth:`start_process`) for the app's terminal pane."""
        return await self._opener.open_shell(state, rows, cols, on_output, drain, step)

    def use_default_shell(self) -> str | None:
        """After the invoke command turned out missing: f/i open ``/bin/sh`` from now on.

        Returns the command given up (None when it already was the default).
        """
        inv = self.invoke
        if inv.entrypoint is None and inv.cmd == ["/bin/sh"]:
            return None
        old = " ".join([*(inv.entrypoint or []), *(inv.cmd or [])]) or "the image's command"
        self._invoke = dataclasses.replace(inv, entrypoint=None, cmd=["/bin/sh"])
        return old


    # -- several shells (buildx monitor's exec / ps / kill) ----------------------------------
    @property
    def processes(self) -> ProcessRegistry:
        """The open shells and their containers."""
        return self._opener.processes

    async def exec_shell(self, base: Shell, rows: int, cols: int, on_output: OutputFn,
                         drain: Drain | None = None, args: list[str] | None = None) -> Shell:
        """A second process (``/bin/sh`` by default) in ``base``'s running container."""
        return await self._opener.exec_shell(base, rows, cols, on_output, drain, args)

    def process_list(self) -> list[ProcessInfo]:
        """The shells opened so far, running or not, oldest first."""
        return self._opener.process_list()

    async def end_process(self, pid: str) -> bool:
        """End shell ``pid``; False when it had already ended (or is unknown)."""
        return await self._opener.end_process(pid)

    # -- exploring (tui.debug.engine.exploring) ----------------------------------------------
    async def prepare(self) -> None:
        """Fetch what any-step shells and the file browser need first (never raises)."""
        await self._steps.prepare()

    def step_candidates(self) -> list[StepRef]:
        """Every named vertex, for ``--step`` selectors."""
        return self._steps.step_candidates()

    def resolve_step(self, selector: str) -> str:
        """The digest ``selector`` names (raises OpenError saying why not)."""
        return self._steps.resolve_step(selector)

    def step_unavailable(self, digest: str) -> str:
        """Why no shell can open in ``digest``'s state ("" when it can)."""
        return self._steps.step_unavailable(digest)

    def is_failed_step(self, digest: str | None) -> bool:
        """Whether ``digest`` is the failed step (whose states f/i open)."""
        return self._steps.is_failed_step(digest)

    async def browse(self, digest: str | None = None) -> list[StateFiles]:
        """States for the file browser (``digest``'s output first, when given)."""
        return await self._steps.browse(digest)

    def diff_source(self) -> DiffSource:
        """The failed RUN's initial-vs-final differences (raises OpenError when none)."""
        return self._steps.diff_source()

    # -- retry and write back (tui.debug.engine.retrying) --------------------------------------
    async def retrier(self) -> Retrier:
        """The failed RUN, to retry edited commands in (raises OpenError saying why not)."""
        return await self._retrying.retrier()

    async def retry(self, cmd: str, on_output: OutputFn, rows: int = 24, cols: int = 80, *,
                    tty: bool = False) -> ProcessHandle:
        """Run ``cmd`` in a fresh container of the failed RUN's initial state."""
        return await self._retrying.retry(cmd, on_output, rows, cols, tty=tty)

    # -- the end -----------------------------------------------------------------------------
    @property
    def exit_status(self) -> int:
        """0 for a successful build (whose builder stayed with us), 1 otherwise."""
        return 0 if isinstance(self._outcome, Succeeded) and not self.lost else 1

    def summary(self) -> str:
        """The paragraph printed once the app has closed."""
        from tui.debug.engine.summary import closing_summary

        text = closing_summary(self._outcome, self.duration)
        line = f"ERROR: {self.lost}\n"
        if self.lost and line not in text:
            text += line
        return text

    async def done(self) -> None:
        """Release everything: shells, containers, gateway, session, the daemon-side build.

        A build still running is cancelled.  Idempotent; concurrent callers share one run.
        """
        if self._done_task is None:
            self._done_task = asyncio.ensure_future(self._release())
        await asyncio.shield(self._done_task)

    async def _release(self) -> None:
        if self._task is not None:
            await cancel_child(self._task, Exception)
        LOG.debug("done: releasing %d shell(s)", len(self.shells))
        for shell in self.shells:
            await shell.stop_forwarding()
        LOG.debug("done: shells released")
        if self._kept is not None:
            await self._kept.ctx.done()
        if self._client is not None:
            await self._client.close()

    # -- files out (tui.debug.engine.filesout) -----------------------------------------------
    async def copy_out(self, path: str, dest: str, *, state: StateKind = StateKind.FINAL,
                       step: str | None = None, overwrite: bool = False) -> CopyReport:
        """Copy ``path`` of a state to the host path ``dest`` (OpenError: one line why not)."""
        return await self._files.copy_out(path, dest, state=state, step=step,
                                          overwrite=overwrite)

    def diff_state(self, mount: str, state: StateKind) -> HelperState:
        """The failed RUN's ``state`` of its writable mount ``mount`` (for ``o`` in the diff)."""
        return self._files.diff_state(mount, state)

    # -- reload ------------------------------------------------------------------------------
    async def reload(self) -> None:
        """Release this build (its shells end) and start it again with the same options.

        The Dockerfile and context are read from disk again through a fresh session; the
        graph is a new one.  :meth:`step_change` and :meth:`dockerfile_changes` compare the
        new build with this one.
        """
        from tui.debug.engine.reload import snapshot

        previous = snapshot(self.graph, self.dockerfile_text)
        await self.done()
        self._new_build()
        self.previous = previous
        self.start()

    def step_change(self, digest: str) -> StepChange | None:
        """Whether a step of a reloaded build came from cache, ran again or is new.

        None for the first build, for a vertex that is no Dockerfile step (no source
        location) and for a step that did not complete or fail.
        """
        from tui.debug.engine.reload import step_change

        return step_change(self.previous, self.graph, digest)

    def dockerfile_changes(self) -> DockerfileChanges | None:
        """The Dockerfile's lines changed since the previous build (None: not reloaded).

        Known once the new build has started (its Dockerfile is read then).
        """
        from tui.debug.model.reload import dockerfile_changes

        if self.previous is None:
            return None
        return dockerfile_changes(self.previous.dockerfile, self.dockerfile_text)

    # -- breakpoints (tui.debug.engine.breakpoints) ------------------------------------------
    def set_breakpoints(self, selectors: Sequence[str], *, toggles: bool = False) -> None:
        """Pause before each step ``selectors`` name (``--step``'s forms); call before start.

        ``toggles``: breakpoints may be set later too (:meth:`toggle_breakpoint`, the app).
        """
        self._breaks.set(selectors, toggles=toggles,
                         on_first_pause=self._declare_pending if self.keep else None)

    def _declare_pending(self, definition: LLBDefinition, steps: list[str]) -> None:
        """The steps not reported yet join the graph as queued (a paused build shows them)."""
        from tui.buildkit.proto import control_pb2

        infos = definition.op_infos()
        resp = control_pb2.StatusResponse()
        for d in steps:
            if d not in self.graph and d in infos:
                resp.vertexes.add(digest=d, name=infos[d].name, inputs=list(infos[d].inputs))
        if resp.vertexes:
            self._pending.merge(self.graph.apply(resp))


    def toggle_breakpoint(self, digest: str) -> bool:
        """Set or clear a breakpoint on ``digest``; whether it is set now (OpenError: off)."""
        return self._breaks.toggle(digest)

    def step_row(self, digest: str) -> str:
        """The graph row that shows step ``digest`` (a pause's step)."""
        return self._breaks.step_row(digest)

    def breakpoint_applies(self, digest: str) -> bool:
        """Whether a breakpoint on ``digest`` can still stop this build (else: after ``r``)."""
        return self._breaks.applies(digest)

    @property
    def breakpoints(self) -> frozenset[str]:
        """The digests with a breakpoint (resolved selectors included, once known)."""
        return self._breaks.rows

    @property
    def paused(self) -> PausedStep | None:
        """The step the build is paused at (None while it runs or has finished)."""
        return self._breaks.paused

    async def wait_paused(self) -> PausedStep | None:
        """Wait until the build pauses at a step (that pause) or has finished (None)."""
        self.start()
        assert self._task is not None
        return await self._breaks.wait_paused(self._task)

    def resume(self, how: Resume) -> None:
        """Go on from the pause: ``continue`` or ``next``."""
        self._breaks.resume(how)

    async def start_paused_process(self, rows: int, cols: int, on_output: OutputFn, *,
                                   tty: bool = True) -> ProcessHandle:
        """The invoke command in the paused step's state (OpenError when nothing starts)."""
        return await self._breaks.start_paused_process(rows, cols, on_output, tty=tty)

    async def open_paused_shell(self, rows: int, cols: int, on_output: OutputFn,
                                drain: Drain | None = None) -> Shell:
        """A shell in the paused step's state (it ends when the build goes on)."""
        return await self._breaks.open_paused_shell(rows, cols, on_output, drain)
    # -- watch (--watch) ---------------------------------------------------------------------
    def watcher(self, debounce: float | None = None) -> Watcher:
        """The Dockerfile's and the context's changes (after ``.dockerignore``), debounced.

        ``async for change in session.watcher().changes()``; the front-end decides when to
        :meth:`reload` (never over an open shell without asking).
        """
        from tui.debug.engine.watch import DEBOUNCE, Watcher

        return Watcher(self.opts, DEBOUNCE if debounce is None else debounce)
