"""One build driven for a front-end (the app or headless): status, outcome, then its states.

A front-end talks only to this (see :class:`~tui.debug.engine.facade.SessionFacade`): it never
sees gRPC or protobuf.  ``start`` runs the build in a task; the app takes merged
:class:`Changes` once per frame, headless passes ``on_status`` to its printer.  When the build
has finished, :attr:`DebugSession.outcome` says how (one immutable value), shells open with
:meth:`DebugSession.open_shell` / :meth:`DebugSession.start_process`, and
:meth:`DebugSession.done` (idempotent) releases everything.

Only what a plain build needs is imported up front (start-up time counts): debugging loads
its modules once the build has finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import os
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from tui.buildkit.address import AddressError
from tui.buildkit.aio import cancel_child, wait_child
from tui.buildkit.debuglog import LOG
from tui.buildkit.errors import BuildError, connection_lost, error_message
from tui.buildkit.relay import DaemonUnreachable
from tui.debug.engine.facade import Drain, OpenError
from tui.debug.engine.options import DOCKERFILE_FRONTEND, BuildOptions
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
    from tui.debug.engine.build import StatusCallback
    from tui.debug.engine.container import OutputFn
    from tui.debug.engine.explore import Explorer, HelperState
    from tui.debug.engine.handle import ProcessHandle
    from tui.debug.engine.processes import ProcessInfo, ProcessRegistry
    from tui.debug.engine.result import ResultContext
    from tui.debug.engine.retry import Retrier
    from tui.debug.engine.shell import Shell
    from tui.debug.engine.stepping import Stepper
    from tui.debug.engine.watch import Watcher
    from tui.debug.model.copyspec import CopyReport
    from tui.debug.model.failure import SourceSnippet
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
    "tui.debug.engine.stepshell",
    "tui.debug.engine.shell",
    "tui.debug.model.stepsel",
    "tui.debug.engine.summary",
)

#: Bytes of log output the app keeps per vertex (the plain printer keeps 1 MiB).
APP_LOG_CAP = 64 << 20

Connect = Callable[[], Awaitable["BuildkitClient"]]


class NotStarted(OpenError):
    """The process was asked for but did not start (the daemon's reason, as it said it)."""


class _Kept:
    """A finished build kept open for debugging: its result context and what explores it."""

    __slots__ = ("ctx", "explorer")

    def __init__(self, ctx: ResultContext, explorer: Explorer) -> None:
        self.ctx = ctx
        self.explorer = explorer


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
        self._stepper: Stepper | None = None  # kept across reloads: breakpoints stay
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
        for name in ("graph", "_pending"):
            self.__dict__.pop(name, None)  # the cached properties: made anew when asked for
        self.shells: list[Shell] = []
        self.started_at = time.monotonic()
        self._outcome: Outcome | None = None
        self._kept: _Kept | None = None
        self._client: BuildkitClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._done_task: asyncio.Task[None] | None = None
        self._connected = False
        self._t_build: float | None = None
        self._t_end: float | None = None
        self._retrier: Retrier | None = None
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
            self._carry_breakpoints()
        try:
            self._client = await self._connect()
        except (AddressError, DaemonUnreachable) as exc:
            self._outcome = Unreachable(str(exc))
            return
        self._connected = True
        if self._on_connected is not None:
            self._on_connected()
        self._t_build = time.monotonic()
        try:
            outcome = await (self._debug_build(self._client) if self.keep
                             else self._plain_build(self._client))
        except asyncio.CancelledError:
            self._t_end = time.monotonic()
            self._outcome = Cancelled()
            raise
        self._outcome = outcome

    async def _plain_build(self, client: BuildkitClient) -> Outcome:
        from tui.debug.engine.build import run_dockerfile_build

        try:
            resp = await run_dockerfile_build(client, self.opts, self._listener)
        except BuildError as err:
            self._t_end = time.monotonic()
            return self._failed(err, None)
        pushed = await self._push(client, self._listener)
        self._t_end = time.monotonic()
        if pushed is not None:
            return self._failed(pushed, None)
        return self._succeeded(None, resp)

    async def _push(self, client: BuildkitClient,
                    on_status: Callable[[control_pb2.StatusResponse], None] | None,
                    ) -> BuildError | None:
        """Push the built image when asked (after a successful solve); the push's error."""
        if not self.opts.pushes or client.endpoint.kind != "docker":
            return None
        from tui.debug.engine.push import push_images

        try:
            self.pushed = await push_images(client.endpoint, self.opts.tags, os.environ,
                                            on_status)
        except BuildError as err:
            return err
        return None

    async def _debug_build(self, client: BuildkitClient) -> Outcome:
        from tui.debug.engine.result import new_result_context

        stepper = self._stepper
        ctx, resp, err = await new_result_context(
            client, self.opts, self._on_status, self._on_definition,
            stepper.run if stepper is not None else None)
        if err is None:
            err = await self._push(client, self._on_status)
        self._t_end = time.monotonic()
        if ctx is not None:
            from tui.debug.engine.explore import Explorer
            from tui.debug.engine.helper import DEFAULT_TOOLBOX

            attrs = self.opts.frontend_opts(engine=client.endpoint.kind == "docker")
            explorer = Explorer(ctx, DOCKERFILE_FRONTEND, attrs, self.opts.local_dirs(),
                                self.toolbox or DEFAULT_TOOLBOX)
            self._kept = _Kept(ctx, explorer)
        if err is not None:
            return self._failed(err, ctx)
        return self._succeeded(ctx, resp)

    def _failed(self, err: BuildError, ctx: ResultContext | None) -> Outcome:
        from tui.debug.engine.summary import failure_info

        info = failure_info(err, self.graph if self.keep else None, ctx)
        return BuilderLost(info) if connection_lost(err) else Failed(info)

    def _succeeded(self, ctx: ResultContext | None,
                   resp: control_pb2.SolveResponse | None) -> Outcome:
        from tui.debug.engine.summary import success_info

        exporter = dict(resp.ExporterResponse) if resp is not None else {}
        graph = self.graph if self.keep else None
        return Succeeded(success_info(ctx, exporter, self.opts.tags, graph, self.duration,
                                      self.pushed))

    @property
    def lost(self) -> str:
        """Why the kept-open build is gone (the builder stopped or restarted); empty if not."""
        if self._kept is not None and self._kept.ctx.lost is not None:
            return error_message(self._kept.ctx.lost)
        match self._outcome:
            case BuilderLost(failure):
                return failure.message
        return ""

    async def wait_lost(self, limit: float) -> str:
        """Why the kept-open build is gone, waiting up to ``limit`` s for the daemon to say so."""
        if self._kept is None:
            return ""
        ctx = self._kept.ctx
        lost = await ctx.wait_lost(limit) if limit > 0 else ctx.lost
        return error_message(lost) if lost is not None else ""

    # -- shells ------------------------------------------------------------------------------
    def describe_target(self, state: StateKind, step: str | None = None) -> str:
        """Where ``f`` (final) or ``i`` (initial), or ``step``'s state, opens a shell."""
        if step is not None and not self.is_failed_step(step):
            return f"the state after {self._step_name(step)}"
        match self._outcome:
            case Succeeded():
                return "the build result"
            case Failed(failure) | BuilderLost(failure):
                name = failure.step_name or "the step"
                if failure.file_op:
                    return f"a toolbox with the inputs of {name} (/dest, /src)"
                return f"the {state} state of {name}"
        return f"the {state} state of the step"

    def _explorer(self) -> Explorer:
        """The finished build's explorer (OpenError says why there is none)."""
        if self._kept is not None:
            return self._kept.explorer
        match self._outcome:
            case None:
                raise OpenError("the build is still running: wait for it to finish")
            case Failed(failure) | BuilderLost(failure):
                raise OpenError(failure.cannot_open or "nothing to open")
            case Unreachable(error):
                raise OpenError(error)
        raise OpenError("the build did not finish")

    async def start_process(self, state: StateKind, rows: int, cols: int, on_output: OutputFn,
                            step: str | None = None, *, tty: bool = True
                            ) -> tuple[ProcessHandle, bool]:
        """Start the invoke command in the failed step's ``state`` (or the result).

        ``step`` (a vertex digest) starts it in the state that step produced instead.  A
        state without a shell gets the toolbox.  Returns the process and whether the toolbox
        is on its PATH.  Raises OpenError with one clear sentence when nothing can start
        (NotStarted: the daemon's reason).
        """
        explorer = self._explorer()
        if self.lost:
            raise OpenError(self.lost)
        from tui.debug.engine.container import ProcessError
        from tui.debug.engine.explore import ExploreError
        from tui.debug.engine.stepshell import Shells
        from tui.debug.model.invoke import InvokeError

        cfg = dataclasses.replace(self.invoke, state=state, tty=tty)
        shells = Shells(explorer)
        if step is not None and self.is_failed_step(step):
            step = None  # the failed step's own state is its final (or initial) state
        forced = self.toolbox is not None
        try:
            if step is not None:
                reason = self.step_unavailable(step)
                if reason:
                    raise OpenError(reason)
                _, proc, toolbox = await shells.step(step, cfg, on_output, rows, cols,
                                                     toolbox=forced)
            else:
                _, proc, toolbox = await shells.failed(cfg, on_output, rows, cols,
                                                       toolbox=forced)
        except (InvokeError, ExploreError) as exc:
            raise OpenError(str(exc)) from None
        except (ProcessError, BuildError) as exc:
            raise NotStarted(str(exc)) from None
        return proc, toolbox

    async def open_shell(self, state: StateKind, rows: int, cols: int, on_output: OutputFn,
                         drain: Drain | None = None, step: str | None = None) -> Shell:
        """A shell (see :meth:`start_process`) for the app's terminal pane.

        ``drain`` is awaited after each output chunk (flow control for a slow screen).
        """
        from tui.debug.engine.shell import Shell

        target = self.describe_target(state, step)
        try:
            proc, toolbox = await self.start_process(state, rows, cols, on_output, step)
        except NotStarted as exc:
            raise OpenError(f"the process did not start: {exc}") from None
        proc.set_drain(drain)
        if toolbox:
            target += " (toolbox on PATH)"
        shell = Shell(proc, target)
        self.shells.append(shell)
        if self._kept is not None:
            self.processes.add(shell, self._kept.ctx.containers)
        return shell

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

    # -- exploring ---------------------------------------------------------------------------
    async def prepare(self) -> None:
        """Fetch what any-step shells and the file browser need first.

        The build's definition and the toolbox image, so that the first key is quick.
        Never raises.
        """
        from tui.debug.engine.explore import ExploreError

        if self._kept is None:
            return
        with contextlib.suppress(ExploreError, BuildError):
            await self._kept.explorer.definition()
            await self._kept.explorer.toolbox_id()

    def _step_name(self, digest: str) -> str:
        v = self.graph.get(digest)
        return v.name if v is not None and v.name else digest[:19]

    def step_candidates(self) -> list[StepRef]:
        """Every named vertex, for ``--step`` selectors."""
        from tui.debug.model.stepsel import StepRef

        return [StepRef(v.digest, v.name, v.step) for v in self.graph if v.declared]

    def resolve_step(self, selector: str) -> str:
        """The digest ``selector`` names (raises OpenError saying why not)."""
        from tui.debug.model.stepsel import StepError, resolve_step

        try:
            return resolve_step(selector, self.step_candidates()).digest
        except StepError as exc:
            raise OpenError(str(exc)) from None

    def step_unavailable(self, digest: str) -> str:
        """Why no shell can open in ``digest``'s state ("" when it can)."""
        from tui.debug.model.graph import VertexState

        v = self.graph.get(digest)
        if v is None:
            return "no such step in this build"
        if self.is_failed_step(digest):
            return ""  # the failed step: f/i open its states
        done = v.state in (VertexState.DONE, VertexState.CACHED) or \
            (v.state is VertexState.QUEUED and self.graph.used_later(digest))
        if not done:
            return f"{v.name or 'that step'} did not complete ({v.state.value}): " \
                "it has no state to open"
        return ""

    def is_failed_step(self, digest: str | None) -> bool:
        """Whether ``digest`` is the failed step (whose states f/i open)."""
        match self._outcome:
            case Failed(failure) | BuilderLost(failure):
                return digest is not None and digest == failure.vertex
        return False

    async def browse(self, digest: str | None = None) -> list[StateFiles]:
        """States for the file browser.

        ``digest``'s output first (when given and not the failed step), then the failed
        step's final/initial states (or a failed file operation's inputs), or the result.
        """
        from tui.debug.engine.explore import ExploreError

        explorer = self._explorer()
        out: list[StateFiles] = []
        try:
            if digest is not None and not self.is_failed_step(digest) \
                    and not self.step_unavailable(digest) \
                    and digest in await explorer.definition():
                # internal vertices (context transfers, exporting) have no state: skipped
                out.append(await explorer.step_state(digest, self._step_name(digest)))
            match self._outcome:
                case Failed(failure) | BuilderLost(failure):
                    step = failure.step_name or "the failed step"
                    out.extend(explorer.failed_exec_states(step))
                    out.extend(state for _, state in await explorer.file_op_inputs())
                case _:
                    result = explorer.result_state()
                    if result is not None:
                        out.append(result)
        except ExploreError as exc:
            raise OpenError(str(exc)) from None
        if not out:
            raise OpenError("this build has no state to browse")
        return out

    def diff_source(self) -> DiffSource:
        """The failed RUN's initial-vs-final differences (raises OpenError when none)."""
        if self._kept is not None and self._kept.explorer.writable_mounts():
            return self._kept.explorer
        match self._outcome:
            case Failed(failure) | BuilderLost(failure) if failure.file_op:
                raise OpenError("the failed step is a file operation: it changed nothing "
                                "(b browses its inputs)")
        raise OpenError("only a failed RUN step has a diff")

    # -- retry and write back ------------------------------------------------------------------
    async def retrier(self) -> Retrier:
        """The failed RUN, to retry edited commands in (raises OpenError saying why not)."""
        if self._retrier is not None:
            return self._retrier
        explorer = self._explorer()
        if self.lost:
            raise OpenError(self.lost)
        from tui.debug.engine.retry import Retrier
        from tui.debug.model.invoke import InvokeError

        match self._outcome:
            case Failed(failure) | BuilderLost(failure):
                pass
            case _:
                raise OpenError("nothing to retry: the build did not fail")
        path = self.opts.dockerfile_dir / self.opts.dockerfile_name
        sources: tuple[SourceSnippet, ...] = ()
        solve = explorer.ctx.solve_failure
        if not failure.sources and solve is not None:
            # the error does not always carry its source (nor the vertex): the definition does
            from tui.debug.engine.explore import ExploreError

            with contextlib.suppress(ExploreError, BuildError):
                definition = await explorer.definition()
                vertex = failure.vertex or ""
                digests = [vertex] if vertex in definition else definition.find_exec(solve.op.exec)
                sources = tuple(s for d in digests if d
                                for s in definition.source_snippets(d))
                LOG.debug("retry: step %s, located by the definition at %s: %d source(s)",
                          failure.vertex, digests, len(sources))
        try:
            self._retrier = Retrier(explorer.ctx, failure, path, sources)
        except InvokeError as exc:
            raise OpenError(str(exc)) from None
        return self._retrier

    async def retry(self, cmd: str, on_output: OutputFn, rows: int = 24, cols: int = 80, *,
                    tty: bool = False) -> ProcessHandle:
        """Run ``cmd`` in a fresh container of the failed RUN's initial state.

        Raises OpenError (nothing to retry, NotStarted: the daemon's reason).
        """
        retrier = await self.retrier()
        from tui.debug.engine.container import ProcessError
        from tui.debug.model.invoke import InvokeError

        try:
            return await retrier.run(cmd, on_output, rows, cols, tty=tty)
        except InvokeError as exc:
            raise OpenError(str(exc)) from None
        except (ProcessError, BuildError) as exc:
            raise NotStarted(str(exc)) from None

    # -- several shells (buildx monitor's exec / ps / kill) ----------------------------------
    @functools.cached_property
    def processes(self) -> ProcessRegistry:
        """The open shells and their containers."""
        from tui.debug.engine.processes import ProcessRegistry

        return ProcessRegistry()

    async def exec_shell(self, base: Shell, rows: int, cols: int, on_output: OutputFn,
                         drain: Drain | None = None, args: list[str] | None = None) -> Shell:
        """A second process (``/bin/sh`` by default) in ``base``'s running container.

        It sees the same files and processes; user, env, cwd and tty are ``base``'s.  Raises
        OpenError when the container has ended or the process does not start.
        """
        from tui.debug.engine.container import ProcessError
        from tui.debug.engine.handle import ProcessHandle
        from tui.debug.engine.processes import Role, Unavailable
        from tui.debug.engine.shell import Shell

        if self.lost:
            raise OpenError(self.lost)
        try:
            proc = await self.processes.exec_in(base, args or ["/bin/sh"], on_output, rows, cols)
        except Unavailable as exc:
            raise OpenError(str(exc)) from None
        except (ProcessError, BuildError) as exc:
            raise OpenError(f"the process did not start: {exc}") from None
        handle = ProcessHandle(proc, rows, cols)
        handle.set_drain(drain)
        base_pid = self.processes.pid_of(base) or "?"
        shell = Shell(handle, f"exec in #{base_pid}: {base.label}")
        self.shells.append(shell)
        assert self._kept is not None  # base was registered: the build is kept open
        self.processes.add(shell, self._kept.ctx.containers, Role.EXEC)
        return shell

    def process_list(self) -> list[ProcessInfo]:
        """The shells opened so far, running or not, oldest first."""
        return self.processes.listing()

    async def end_process(self, pid: str) -> bool:
        """End shell ``pid``; False when it had already ended (or is unknown)."""
        return await self.processes.end(pid)

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

    # -- files out ---------------------------------------------------------------------------
    async def copy_out(self, path: str, dest: str, *, state: StateKind = StateKind.FINAL,
                       step: str | None = None, overwrite: bool = False) -> CopyReport:
        """Copy ``path`` of a state to the host path ``dest`` (modes and links kept).

        The state: ``step``'s output (a vertex digest), else the failed step's ``state``
        (final or initial), else the build result (final only).  Raises OpenError with one
        line: no such state, a missing path, an existing ``dest`` (unless ``overwrite``).
        """
        from tui.debug.engine.copyout import CopyError
        from tui.debug.engine.explore import ExploreError

        files = await self._copy_source(state, step)
        try:
            return await files.copy_out(path, dest, overwrite)
        except (CopyError, ExploreError) as exc:
            raise OpenError(str(exc)) from None

    async def _copy_source(self, state: StateKind, step: str | None) -> HelperState:
        from tui.debug.engine.explore import ExploreError

        explorer = self._explorer()
        if self.lost:
            raise OpenError(self.lost)
        if step is not None and self.is_failed_step(step):
            step = None
        try:
            if step is not None:
                reason = self.step_unavailable(step)
                if reason:
                    raise OpenError(reason)
                return await explorer.step_state(step, self._step_name(step))
            match self._outcome:
                case Failed(failure) | BuilderLost(failure):
                    name = failure.step_name or "the failed step"
                    states = explorer.failed_exec_states(name)
                    if not states:
                        raise OpenError(f"{name} is not a RUN step: it has no {state} state "
                                        "(copy from a step's output instead)")
                    chosen = states[0] if state is StateKind.FINAL else states[1]
                    if not chosen.spec.result_id:
                        raise OpenError(f"the {state} state of {name} is not available")
                    return chosen
            if state is StateKind.INITIAL:
                raise OpenError("the build succeeded: only a failed step has an initial state")
            result = explorer.result_state()
            if result is None:
                raise OpenError("the build result has no filesystem to copy from")
            return result
        except ExploreError as exc:
            raise OpenError(str(exc)) from None

    def diff_state(self, mount: str, state: StateKind) -> HelperState:
        """The failed RUN's ``state`` of its writable mount ``mount`` (for ``o`` in the diff)."""
        from tui.debug.engine.explore import HelperState, StateSpec

        explorer = self._explorer()
        name = "the failed step"
        match self._outcome:
            case Failed(failure) | BuilderLost(failure):
                name = failure.step_name or name
        for label, initial, final in explorer.writable_mounts():
            if label == mount:
                rid = final if state is StateKind.FINAL else initial
                where = "" if mount == "/" else f" (mount {mount})"
                if not rid:
                    raise OpenError(f"the {state} state of {name}{where} is not available")
                return HelperState(explorer, StateSpec(f"{state} state of {name}{where}", rid))
        raise OpenError(f"no writable mount {mount} in the failed step")
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
        from tui.debug.model.graph import VertexState
        from tui.debug.model.reload import classify

        v = self.graph.get(digest)
        if self.previous is None or v is None or v.source is None or \
                v.state in (VertexState.QUEUED, VertexState.RUNNING, VertexState.CANCELED):
            return None
        return classify(self.previous, digest, v.name, v.state is VertexState.CACHED)

    def dockerfile_changes(self) -> DockerfileChanges | None:
        """The Dockerfile's lines changed since the previous build (None: not reloaded).

        Known once the new build has started (its Dockerfile is read then).
        """
        from tui.debug.model.reload import dockerfile_changes

        if self.previous is None:
            return None
        return dockerfile_changes(self.previous.dockerfile, self.dockerfile_text)
    # -- breakpoints -------------------------------------------------------------------------
    def set_breakpoints(self, selectors: Sequence[str], *, toggles: bool = False) -> None:
        """Pause before each step ``selectors`` name (``--step``'s forms); call before start.

        ``toggles``: breakpoints may be set later too (:meth:`toggle_breakpoint`, the app).
        """
        from tui.debug.engine.stepping import Stepper

        self._stepper = Stepper(selectors) if selectors or toggles else None
        if self._stepper is not None and self.keep:
            self._stepper.on_first_pause = self._declare_pending

    def _carry_breakpoints(self) -> None:
        """A reloaded build keeps the breakpoints on their Dockerfile lines (moved by the diff)."""
        if self._stepper is None or self.previous is None:
            return
        from tui.debug.model.reload import line_map

        self._stepper.carry(line_map(self.previous.dockerfile, self.dockerfile_text))

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
        """Set or clear a breakpoint on ``digest``; whether it is set now.

        It applies from the next turn of the walk (a pause, or before the first step runs).
        OpenError when breakpoints are not enabled.
        """
        if self._stepper is None:
            raise OpenError("breakpoints are not enabled for this build")
        return self._stepper.toggle(self._own_step(self._stepper, digest))

    def _own_step(self, stepper: Stepper, digest: str) -> str:
        """The definition's digest of the graph row ``digest``.

        The daemon reports some steps under another digest (those after a COPY from the
        context) than the frontend's definition, which the walk goes by.
        """
        v = self.graph.get(digest)
        return stepper.own(digest, v.name if v is not None else "")

    def step_row(self, digest: str) -> str:
        """The graph row that shows step ``digest`` (a pause's step).

        A step the daemon reported under another build's digest (see :meth:`_own_step`)
        leaves this build's row queued: the reported row shows it then.
        """
        from tui.debug.model.graph import VertexState

        v = self.graph.get(digest)
        if v is None or v.state is not VertexState.QUEUED or not v.name:
            return digest
        return next((w.digest for w in self.graph if w.name == v.name and w.digest != digest
                     and w.state is not VertexState.QUEUED), digest)

    def breakpoint_applies(self, digest: str) -> bool:
        """Whether a breakpoint on ``digest`` can still stop this build (else: after ``r``).

        Not once the build is past the step, or evaluates its whole result.
        """
        stepper = self._stepper
        return stepper is not None and self.keep and self.outcome is None and \
            stepper.applies(self._own_step(stepper, digest))

    @property
    def breakpoints(self) -> frozenset[str]:
        """The digests with a breakpoint (resolved selectors included, once known)."""
        if self._stepper is None:
            return frozenset()
        return frozenset(self._stepper.rows((v.digest, v.name) for v in self.graph))

    @property
    def paused(self) -> PausedStep | None:
        """The step the build is paused at (None while it runs or has finished)."""
        return self._stepper.paused if self._stepper is not None else None

    async def wait_paused(self) -> PausedStep | None:
        """Wait until the build pauses at a step (that pause) or has finished (None)."""
        self.start()
        assert self._task is not None
        stepper = self._stepper
        while stepper is not None and not self._task.done():
            if stepper.paused is not None:
                return stepper.paused
            stepper.changed.clear()
            waiter = asyncio.ensure_future(stepper.changed.wait())
            try:
                await asyncio.wait({waiter, self._task}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                await cancel_child(waiter)
        return None

    def resume(self, how: Resume) -> None:
        """Go on from the pause: ``continue`` or ``next``."""
        if self._stepper is not None:
            self._stepper.resume(how)

    async def start_paused_process(self, rows: int, cols: int, on_output: OutputFn, *,
                                   tty: bool = True) -> ProcessHandle:
        """The invoke command in the paused step's state (before it ran: its initial state).

        Raises OpenError with one clear sentence when nothing can start.
        """
        from tui.debug.engine.container import ProcessError
        from tui.debug.model.invoke import InvokeError

        if self._stepper is None:
            raise OpenError("the build is not paused")
        cfg = dataclasses.replace(self.invoke, tty=tty)
        try:
            return await self._stepper.start_process(cfg, on_output, rows, cols)
        except InvokeError as exc:
            raise OpenError(str(exc)) from None
        except (ProcessError, BuildError) as exc:
            raise NotStarted(str(exc)) from None

    async def open_paused_shell(self, rows: int, cols: int, on_output: OutputFn,
                                drain: Drain | None = None) -> Shell:
        """A shell in the paused step's state for the app's terminal pane.

        It ends when the build goes on (the pause's containers are released).
        """
        from tui.debug.engine.shell import Shell

        pause = self.paused
        if pause is None:
            raise OpenError("the build is not paused")
        try:
            proc = await self.start_paused_process(rows, cols, on_output)
        except NotStarted as exc:
            raise OpenError(f"the process did not start: {exc}") from None
        proc.set_drain(drain)
        shell = Shell(proc, pause.state_words())
        self.shells.append(shell)
        return shell
    # -- watch (--watch) ---------------------------------------------------------------------
    def watcher(self, debounce: float | None = None) -> Watcher:
        """The Dockerfile's and the context's changes (after ``.dockerignore``), debounced.

        ``async for change in session.watcher().changes()``; the front-end decides when to
        :meth:`reload` (never over an open shell without asking).
        """
        from tui.debug.engine.watch import DEBOUNCE, Watcher

        return Watcher(self.opts, DEBOUNCE if debounce is None else debounce)
