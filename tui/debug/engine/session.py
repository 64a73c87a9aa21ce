"""One build driven for the app: status into a BuildGraph, then its result context.

The app (tui/ui) talks only to this: it never sees gRPC or protobuf.  ``start`` runs the
build in a task; the app takes merged :class:`Changes` once per frame, reads
:attr:`DebugSession.failure` / :attr:`DebugSession.success` when the build has finished,
opens shells with :meth:`DebugSession.open_shell`, and calls :meth:`DebugSession.done`
(idempotent) when the view closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import enum
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from tui.buildkit.address import AddressError
from tui.buildkit.aio import cancel_child, wait_child
from tui.buildkit.debuglog import LOG
from tui.buildkit.errors import BuildError, connection_lost
from tui.buildkit.relay import DaemonUnreachable
from tui.debug.engine.container import OutputFn, ProcessError
from tui.debug.engine.helper import DEFAULT_TOOLBOX
from tui.debug.engine.options import DOCKERFILE_FRONTEND, BuildOptions
from tui.debug.engine.result import ResultContext, new_result_context
from tui.debug.engine.shell import Shell
from tui.debug.headless.report import error_message
from tui.debug.model.graph import BuildGraph, Changes, VertexState
from tui.debug.model.invoke import InvokeConfig, InvokeError

if TYPE_CHECKING:
    from tui.buildkit.client import BuildkitClient
    from tui.buildkit.proto import control_pb2
    from tui.debug.engine.explore import Explorer
    from tui.debug.model.failure import FailureInfo, SuccessInfo
    from tui.debug.model.fsmodel import DiffSource, StateFiles
    from tui.debug.model.llbdef import LLBDefinition
    from tui.debug.model.stepsel import StepRef

__all__ = ["APP_LOG_CAP", "LATER_MODULES", "DebugSession", "OpenError", "Phase"]

#: What the session needs only once the build has finished (states, shells, summaries).
#: Imported where used; the app imports them in a thread while the daemon builds, so that
#: nothing stands between the command line and the build's start.
LATER_MODULES = (
    "tui.debug.engine.explore",
    "tui.debug.engine.stepshell",
    "tui.debug.model.stepsel",
    "tui.debug.engine.summary",
)

#: Bytes of log output the app keeps per vertex (the plain printer keeps 1 MiB).
APP_LOG_CAP = 64 << 20

Connect = Callable[[], Awaitable["BuildkitClient"]]


class Phase(enum.StrEnum):
    """Where the build stands."""

    CONNECTING = "connecting"
    BUILDING = "building"
    FAILED = "failed"
    SUCCEEDED = "succeeded"
    UNREACHABLE = "unreachable"
    STOPPED = "stopped"


class OpenError(Exception):
    """A shell could not be opened: nothing to open, or the process did not start (one line)."""


class DebugSession:
    """A build and, once it has finished, its result context kept open for debugging."""

    def __init__(self, opts: BuildOptions, connect: Connect, invoke: InvokeConfig | None = None,
                 *, builder: str = "", log_cap: int = APP_LOG_CAP,
                 toolbox: str | None = None) -> None:
        self.opts = opts
        self.builder = builder
        self.invoke = invoke or InvokeConfig(cmd=["/bin/sh"])
        self.graph = BuildGraph(log_cap)
        self.phase = Phase.CONNECTING
        self.failure: FailureInfo | None = None
        self.success: SuccessInfo | None = None
        #: One line for a build that could not run at all (daemon unreachable).
        self.error_text = ""
        self.ctx: ResultContext | None = None
        #: Any step's state, files and the failed step's diff (once the build has finished).
        self.explorer: Explorer | None = None
        #: The toolbox image; given explicitly, every shell gets it on PATH.
        self.toolbox = toolbox or DEFAULT_TOOLBOX
        self.force_toolbox = toolbox is not None
        self.shells: list[Shell] = []
        self.started_at = time.monotonic()
        self._connect = connect
        self._client: BuildkitClient | None = None
        self._pending = Changes()
        self._task: asyncio.Task[None] | None = None
        self._done_task: asyncio.Task[None] | None = None
        self._t_build: float | None = None
        self._t_end: float | None = None
        self._lost: BuildError | None = None

    # -- the build ---------------------------------------------------------------------------
    def start(self) -> None:
        """Start the build in a task of the running loop."""
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def wait_finished(self) -> Phase:
        """Wait until the build has finished (or could not run); the final phase."""
        self.start()
        assert self._task is not None
        # the build's own cancellation (done() stopped it) ends the wait; the caller's goes on
        await wait_child(asyncio.shield(self._task))
        return self.phase

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
        return self.phase not in (Phase.CONNECTING, Phase.BUILDING)

    def _on_status(self, resp: control_pb2.StatusResponse) -> None:
        self._pending.merge(self.graph.apply(resp))

    def _on_definition(self, definition: LLBDefinition) -> None:
        self._pending.merge(self.graph.adopt(definition.op_infos()))

    def take_changes(self) -> Changes | None:
        """Everything that changed since the last call (None when nothing did)."""
        if not self._pending:
            return None
        changes, self._pending = self._pending, Changes()
        return changes

    async def _run(self) -> None:
        try:
            self._client = await self._connect()
        except (AddressError, DaemonUnreachable) as exc:
            self.error_text = str(exc)
            self.phase = Phase.UNREACHABLE
            return
        self.phase = Phase.BUILDING
        self._t_build = time.monotonic()
        try:
            ctx, resp, err = await new_result_context(self._client, self.opts, self._on_status,
                                                      self._on_definition)
        except asyncio.CancelledError:
            self._t_end = time.monotonic()
            self.phase = Phase.STOPPED
            raise
        self._t_end = time.monotonic()
        from tui.debug.engine.explore import Explorer
        from tui.debug.engine.summary import failure_info, success_info

        self.ctx = ctx
        if ctx is not None:
            self.explorer = Explorer(ctx, DOCKERFILE_FRONTEND, self.opts.frontend_opts(),
                                     self.opts.local_dirs(), self.toolbox)
        if err is not None and connection_lost(err):
            self._lost = err
        if err is not None:
            self.failure = failure_info(err, self.graph, ctx)
            self.phase = Phase.FAILED
        else:
            exporter = dict(resp.ExporterResponse) if resp is not None else {}
            self.success = success_info(ctx, exporter, self.opts.tags, self.graph, self.duration)
            self.phase = Phase.SUCCEEDED

    @property
    def lost(self) -> str:
        """Why the kept-open build is gone (the builder stopped or restarted); empty if not."""
        lost = self.ctx.lost if self.ctx is not None and self.ctx.lost else self._lost
        return error_message(lost) if lost is not None else ""

    # -- shells ------------------------------------------------------------------------------
    def describe_target(self, initial: bool) -> str:
        """Where ``f`` (final) or ``i`` (initial) would open a shell."""
        if self.phase is Phase.SUCCEEDED:
            return "the build result"
        step = self.failure.step_name if self.failure and self.failure.step_name else "the step"
        return f"the {'initial' if initial else 'final'} state of {step}"

    async def open_shell(self, initial: bool, rows: int, cols: int, on_output: OutputFn,
                         drain: Callable[[], Awaitable[None]] | None = None,
                         step: str | None = None) -> Shell:
        """Start the invoke command in the failed step's final/initial state (or the result).

        ``step`` (a vertex digest) opens it in the state that step produced instead.  A
        state without a shell gets the toolbox.  ``drain`` is awaited after each output
        chunk (flow control for a slow screen).  Raises OpenError with one clear sentence
        when nothing can be opened.
        """
        if not self.finished:
            raise OpenError("the build is still running: wait for it to finish")
        if self.ctx is None or self.explorer is None:
            if self.failure is not None:
                raise OpenError(self.failure.cannot_open or "nothing to open")
            raise OpenError(self.error_text or "the build did not finish")
        if self.lost:
            raise OpenError(self.lost)
        from tui.debug.engine.explore import ExploreError
        from tui.debug.engine.stepshell import Shells

        cfg = dataclasses.replace(self.invoke, initial=initial, tty=True)
        shells = Shells(self.explorer)
        if step is not None and self.is_failed_step(step):
            step = None  # the failed step's own state is its final (or initial) state
        try:
            if step is not None:
                reason = self.step_unavailable(step)
                if reason:
                    raise OpenError(reason)
                _, proc, toolbox = await shells.step(step, cfg, on_output, rows, cols,
                                                     toolbox=self.force_toolbox)
                target = f"the state after {self._step_name(step)}"
            else:
                _, proc, toolbox = await shells.failed(cfg, on_output, rows, cols,
                                                       toolbox=self.force_toolbox)
                target = self.describe_target(initial)
                if self.failure is not None and self.failure.file_op:
                    target = f"the inputs of {self.failure.step_name or 'the step'}"
        except (InvokeError, ExploreError) as exc:
            raise OpenError(str(exc)) from None
        except (ProcessError, BuildError) as exc:
            raise OpenError(f"the process did not start: {exc}") from None
        proc.set_drain(drain)
        if toolbox:
            target += " (toolbox on PATH)"
        shell = Shell(proc, target)
        self.shells.append(shell)
        return shell

    def use_default_shell(self) -> str | None:
        """After the invoke command turned out missing: f/i open ``/bin/sh`` from now on.

        Returns the command given up (None when it already was the default).
        """
        inv = self.invoke
        if inv.entrypoint is None and inv.cmd == ["/bin/sh"]:
            return None
        old = " ".join([*(inv.entrypoint or []), *(inv.cmd or [])]) or "the image's command"
        self.invoke = dataclasses.replace(inv, entrypoint=None, cmd=["/bin/sh"])
        return old

    # -- exploring ---------------------------------------------------------------------------
    async def prepare(self) -> None:
        """Fetch what any-step shells and the file browser need first.

        The build's definition and the toolbox image, so that the first key is quick.
        Never raises.
        """
        from tui.debug.engine.explore import ExploreError

        if self.explorer is None:
            return
        with contextlib.suppress(ExploreError, BuildError):
            await self.explorer.definition()
            await self.explorer.toolbox_id()

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
        v = self.graph.get(digest)
        if v is None:
            return "no such step in this build"
        if self.failure is not None and digest == self.failure.vertex:
            return ""  # the failed step: f/i open its states
        done = v.state in (VertexState.DONE, VertexState.CACHED) or \
            (v.state is VertexState.QUEUED and self.graph.used_later(digest))
        if not done:
            return f"{v.name or 'that step'} did not complete ({v.state.value}): it has no state"
        return ""

    def is_failed_step(self, digest: str | None) -> bool:
        """Whether ``digest`` is the failed step (whose states f/i open)."""
        return digest is not None and self.failure is not None and digest == self.failure.vertex

    async def browse(self, digest: str | None = None) -> list[StateFiles]:
        """States for the file browser.

        ``digest``'s output first (when given and not the failed step), then the failed
        step's final/initial states (or a failed file operation's inputs), or the result.
        """
        from tui.debug.engine.explore import ExploreError

        if self.explorer is None:
            raise OpenError(self.error_text or (self.failure.cannot_open if self.failure else "")
                            or "the build has no state to browse")
        out: list[StateFiles] = []
        try:
            if digest is not None and not self.is_failed_step(digest) \
                    and not self.step_unavailable(digest) \
                    and digest in await self.explorer.definition():
                # internal vertices (context transfers, exporting) have no state: skipped
                out.append(await self.explorer.step_state(digest, self._step_name(digest)))
            if self.failure is not None:
                step = self.failure.step_name or "the failed step"
                out.extend(self.explorer.failed_exec_states(step))
                out.extend(state for _, state in await self.explorer.file_op_inputs())
            else:
                result = self.explorer.result_state()
                if result is not None:
                    out.append(result)
        except ExploreError as exc:
            raise OpenError(str(exc)) from None
        if not out:
            raise OpenError("this build has no state to browse")
        return out

    def diff_source(self) -> DiffSource:
        """The failed RUN's initial-vs-final differences (raises OpenError when none)."""
        if self.explorer is None or not self.explorer.writable_mounts():
            if self.failure is not None and self.failure.file_op:
                raise OpenError("the failed step is a file operation: it changed nothing "
                                "(b browses its inputs)")
            raise OpenError("only a failed RUN step has a diff")
        return self.explorer

    # -- the end -----------------------------------------------------------------------------
    @property
    def exit_status(self) -> int:
        """0 for a successful build (whose builder stayed with us), 1 otherwise."""
        return 0 if self.phase is Phase.SUCCEEDED and not self.lost else 1

    def summary(self) -> str:
        """The paragraph printed once the app has closed."""
        from tui.debug.engine.summary import closing_summary

        if self.phase is Phase.UNREACHABLE:
            return f"ERROR: {self.error_text}\n"
        text = closing_summary(self.failure, self.success, self.duration)
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
        if self.ctx is not None:
            await self.ctx.done()
        if self._client is not None:
            await self._client.close()
