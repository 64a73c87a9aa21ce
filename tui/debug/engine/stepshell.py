"""Shells beyond the failed RUN: any step's state, a toolbox, a failed file op's inputs."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Awaitable, Callable
from typing import Any

from tui.buildkit.proto import ops_pb2
from tui.debug.engine.container import Container, OutputFn, Process, ProcessError
from tui.debug.engine.explore import ExploreError, Explorer
from tui.debug.engine.helper import TOOL_PATH, TOOLBOX_DIR, bind, toolbox_path_entries
from tui.debug.model.invoke import InvokeConfig, InvokeError, ProcessSpec, spec_from_step
from tui.debug.model.llbdef import DEFAULT_PATH

__all__ = ["FallbackProcess", "Shells", "command_not_found", "toolbox_spec"]

_NOT_FOUND = re.compile(r'exec: "[^"]*": (?:stat [^:]*: )?(?:no such file or directory|'
                        r"executable file not found)|exec format error")
#: How runc's init reports a command it cannot start (on the process's output, exit 1).
RUNC_FAILED = b"runc run failed: "


def command_not_found(text: str | None) -> bool:
    """Whether runc's message says the command does not exist in the state."""
    return bool(text) and _NOT_FOUND.search(text or "") is not None


class StartSniffer:
    """Holds a process's first output while it may be runc's "command not found" message."""

    def __init__(self, on_output: OutputFn) -> None:
        self.on_output = on_output
        self.held: list[tuple[int, bytes]] = []
        self.passing = False

    def sink(self, fd: int, data: bytes) -> None:
        """The output callback for the first process."""
        if self.passing:
            self.on_output(fd, data)
            return
        self.held.append((fd, data))
        head = b"".join(d for _, d in self.held)
        if not (RUNC_FAILED.startswith(head) or head.startswith(RUNC_FAILED)):
            self.release()

    def release(self) -> None:
        """Pass on what was held; everything after goes straight through."""
        held, self.held = self.held, []
        self.passing = True
        for fd, data in held:
            self.on_output(fd, data)

    def not_found(self) -> bool:
        """Whether the held output is runc saying the command does not exist."""
        head = b"".join(d for _, d in self.held)
        return head.startswith(RUNC_FAILED) and command_not_found(head.decode("utf-8", "replace"))


class FallbackProcess(Process):
    """A process replaced by the same command with the toolbox if its command is missing.

    The daemon reports a missing command only as an exit after the start, so the swap
    happens in :meth:`wait`; everything else is delegated to the current process.
    """

    def __init__(self, first: Process,
                 restart: Callable[[int, int], Awaitable[Process]] | None,
                 rows: int, cols: int, sniffer: StartSniffer) -> None:
        """Wrap ``first``; ``restart(rows, cols)`` starts the toolbox variant.

        ``restart`` is None when the toolbox cannot help (an absolute path):
        :attr:`missing` still tells that the command was not there.
        """
        self.inner = first
        self.sniffer = sniffer
        self._restart = restart
        #: The command is not in the state (runc said so) and nothing replaced it.
        self.missing = False
        self._size = (rows, cols)
        self._drain_fn: Callable[[], Awaitable[None]] | None = None
        self.toolbox = False
        #: Input sent before the process showed it runs, replayed to a restarted one.
        self._replay: list[bytes] = []
        self._replay_size = 0
        self._eof = False
        #: Called once the toolbox variant has replaced the first process (for a notice).
        self.on_toolbox: Callable[[], None] | None = None

    def __getattribute__(self, name: str) -> Any:
        """State attributes (id, exit_code, error, ...) are the current process's."""
        if name in _DELEGATED:
            return getattr(object.__getattribute__(self, "inner"), name)
        return object.__getattribute__(self, name)

    def __setattr__(self, name: str, value: Any) -> None:
        """``drain`` is kept and passed on to every process."""
        if name == "drain":
            object.__setattr__(self, "_drain_fn", value)
            self.inner.drain = value
            return
        object.__setattr__(self, name, value)

    @property
    def finished(self) -> bool:
        """True once the (last) process has ended."""
        return self.inner.finished and (self.toolbox or not self.sniffer.not_found())

    async def write(self, data: bytes) -> None:
        """Send bytes to the current process (kept for a restart until it printed)."""
        if not self.toolbox and not self.sniffer.passing and self._replay_size < _REPLAY_CAP:
            self._replay.append(data)
            self._replay_size += len(data)
        await self.inner.write(data)

    async def close_stdin(self) -> None:
        """EOF to the current process."""
        self._eof = True
        await self.inner.close_stdin()

    async def resize(self, rows: int, cols: int) -> None:
        """Resize the current process (remembered for a restart)."""
        self._size = (rows, cols)
        await self.inner.resize(rows, cols)

    async def signal(self, name: str) -> None:
        """Signal the current process."""
        await self.inner.signal(name)

    async def abort(self) -> None:
        """Abort the current process's stream."""
        await self.inner.abort()

    async def wait(self) -> int:
        """The exit code, after restarting with the toolbox when the command was missing."""
        code = await self.inner.wait()
        if self.toolbox or code == 0 or not self.sniffer.not_found():
            self.sniffer.release()
            return code
        if self._restart is None:
            self.missing = True
            self.sniffer.release()  # runc's message stays: the command is not there
            return code
        try:
            replacement = await self._restart(*self._size)
        except (ProcessError, ExploreError):
            self.missing = True
            self.sniffer.release()
            return code
        self.sniffer.held.clear()
        self.toolbox = True
        self.inner = replacement
        self.inner.drain = self._drain_fn
        replay, self._replay = self._replay, []
        for data in replay:
            await self.inner.write(data)
        if self._eof:
            await self.inner.close_stdin()
        if self.on_toolbox is not None:
            self.on_toolbox()
        return await self.inner.wait()


_REPLAY_CAP = 1 << 20
_DELEGATED = frozenset({"id", "exit_code", "error", "spec", "container_id", "drain"})
_SHELLS = ("/bin/sh", "/bin/bash", "/bin/ash", "/usr/bin/bash", "sh", "bash", "ash")


def _toolbox_can_help(spec: ProcessSpec) -> bool:
    """Whether a missing command could be found with the toolbox.

    A shell it replaces, or a bare name looked up on PATH (an absolute path stays missing).
    """
    return bool(spec.args) and (spec.args[0] in _SHELLS or "/" not in spec.args[0])


def toolbox_spec(spec: ProcessSpec) -> ProcessSpec:
    """``spec`` with the toolbox mounted at TOOLBOX_DIR on PATH (its shell for a missing one)."""
    env = list(spec.env)
    extra = ":".join(toolbox_path_entries())
    for i, item in enumerate(env):
        if item.startswith("PATH="):
            env[i] = f"{item}:{extra}" if item != "PATH=" else f"PATH={extra}"
            break
    else:
        env.append(f"{DEFAULT_PATH}:{extra}")
    args = list(spec.args)
    if args and args[0] in _SHELLS:
        args[0] = f"{TOOLBOX_DIR}/bin/sh"
    return dataclasses.replace(spec, args=args, env=env)


class Shells:
    """Shells beyond the failed RUN.

    Any step's state, a toolbox when the state has no shell, the inputs of a failed file
    operation.
    """

    def __init__(self, explorer: Explorer) -> None:
        self.explorer = explorer
        self.ctx = explorer.ctx

    async def start(self, mounts: list[ops_pb2.Mount], spec: ProcessSpec, on_output: OutputFn,
                    rows: int, cols: int, *, toolbox: bool = False,
                    **kwargs: Any) -> tuple[Container, Process, bool]:
        """Start ``spec``; when it cannot start (no shell in the state), again with the toolbox.

        Returns the container, the process and whether the toolbox is in use.
        """
        if not toolbox:
            sniffer = StartSniffer(on_output)
            try:
                ctr, proc = await self.ctx.start_in(mounts, spec, sniffer.sink, rows, cols,
                                                    **kwargs)
            except ProcessError as first:
                try:
                    ctr, proc = await self._with_toolbox(mounts, spec, on_output, rows, cols,
                                                         **kwargs)
                except (ProcessError, ExploreError) as second:
                    raise ProcessError(f"{first} (with the toolbox: {second})") from None
                return ctr, proc, True

            async def restart(r: int, c: int) -> Process:
                try:
                    _, again = await self._with_toolbox(mounts, spec, on_output, r, c,
                                                        **kwargs)
                except ExploreError as exc:
                    raise ProcessError(str(exc)) from None
                return again

            again = restart if _toolbox_can_help(spec) else None
            return ctr, FallbackProcess(proc, again, rows, cols, sniffer), False
        ctr, proc = await self._with_toolbox(mounts, spec, on_output, rows, cols, **kwargs)
        return ctr, proc, True

    async def _with_toolbox(self, mounts: list[ops_pb2.Mount], spec: ProcessSpec,
                            on_output: OutputFn, rows: int, cols: int,
                            **kwargs: Any) -> tuple[Container, Process]:
        tid = await self.explorer.toolbox_id()
        return await self.ctx.start_in([*mounts, bind(TOOLBOX_DIR, tid)], toolbox_spec(spec),
                                       on_output, rows, cols, **kwargs)

    async def step(self, digest: str, cfg: InvokeConfig, on_output: OutputFn, rows: int = 24,
                   cols: int = 80, toolbox: bool = False) -> tuple[Container, Process, bool]:
        """A shell in the state ``digest`` produced, with that step's user, env and cwd."""
        definition = await self.explorer.definition()
        rid = await self.explorer.step_ref(digest)
        meta = definition.exec_meta(digest) or ops_pb2.Meta(env=[DEFAULT_PATH], cwd="/")
        spec = spec_from_step(meta, cfg)
        if not spec.args:
            raise InvokeError("no command to run: give one (e.g. --invoke /bin/sh)")
        kwargs: dict[str, Any] = {}
        platform = definition.platform(digest)
        if platform is not None:
            kwargs["platform"] = platform
        return await self.start([bind("/", rid, readonly=False)], spec, on_output, rows, cols,
                                toolbox=toolbox, **kwargs)

    async def failed(self, cfg: InvokeConfig, on_output: OutputFn, rows: int = 24,
                     cols: int = 80, toolbox: bool = False) -> tuple[Container, Process, bool]:
        """The failed step's final/initial state (a file op: its inputs), or the result."""
        failure = self.ctx.solve_failure
        if failure is not None and failure.op.HasField("file"):
            return await self.file_op(cfg, on_output, rows, cols)
        spec = self.ctx.process_spec(cfg)
        mounts, kwargs = self.ctx.container_request(cfg)
        return await self.start(mounts, spec, on_output, rows, cols, toolbox=toolbox, **kwargs)

    async def file_op(self, cfg: InvokeConfig, on_output: OutputFn, rows: int = 24,
                      cols: int = 80) -> tuple[Container, Process, bool]:
        """A toolbox shell with the failed file operation's inputs at ``/dest``, ``/src``."""
        inputs = await self.explorer.file_op_inputs()
        tid = await self.explorer.toolbox_id()
        mounts = [bind("/", tid)]
        cwd = "/"
        for role, state in inputs:
            if state.spec.result_id:
                mounts.append(bind(f"/{role}", state.spec.result_id))
                if role == "src" or cwd == "/":
                    cwd = f"/{role}"
        args = [*(cfg.entrypoint or []), *(cfg.cmd or [])] or ["/bin/sh"]
        spec = ProcessSpec(args=args, env=[TOOL_PATH, *cfg.env], user=cfg.user or "0:0",
                           cwd=cfg.cwd or cwd, tty=cfg.tty)
        ctr, proc = await self.ctx.start_in(mounts, spec, on_output, rows, cols,
                                            network=ops_pb2.NONE)
        return ctr, proc, True
