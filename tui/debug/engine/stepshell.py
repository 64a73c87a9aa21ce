"""Shells beyond the failed RUN: any step's state, a toolbox, a failed file op's inputs."""

from __future__ import annotations

import dataclasses
from typing import Any

from tui.buildkit.proto import ops_pb2
from tui.debug.engine.container import Container, ContainerProcess, OutputFn, ProcessError
from tui.debug.engine.explore import ExploreError, Explorer
from tui.debug.engine.handle import ProcessHandle, StartSniffer
from tui.debug.engine.helper import TOOL_PATH, TOOLBOX_DIR, bind, toolbox_path_entries
from tui.debug.model.invoke import InvokeConfig, InvokeError, ProcessSpec, spec_from_step
from tui.debug.model.llbdef import DEFAULT_PATH

__all__ = ["Shells", "toolbox_spec"]

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
                    **kwargs: Any) -> tuple[Container, ProcessHandle, bool]:
        """Start ``spec``; when it cannot start (no shell in the state), again with the toolbox.

        Returns the container, the process and whether the toolbox is in use.  A command
        that turns out missing once started is replaced by its toolbox variant (see
        :class:`ProcessHandle`).
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
                return ctr, ProcessHandle(proc, rows, cols), True

            async def restart(r: int, c: int) -> ContainerProcess:
                try:
                    _, again = await self._with_toolbox(mounts, spec, on_output, r, c,
                                                        **kwargs)
                except ExploreError as exc:
                    raise ProcessError(str(exc)) from None
                return again

            again = restart if _toolbox_can_help(spec) else None
            return ctr, ProcessHandle(proc, rows, cols, sniffer=sniffer, restart=again), False
        ctr, proc = await self._with_toolbox(mounts, spec, on_output, rows, cols, **kwargs)
        return ctr, ProcessHandle(proc, rows, cols), True

    async def _with_toolbox(self, mounts: list[ops_pb2.Mount], spec: ProcessSpec,
                            on_output: OutputFn, rows: int, cols: int,
                            **kwargs: Any) -> tuple[Container, ContainerProcess]:
        tid = await self.explorer.toolbox_id()
        return await self.ctx.start_in([*mounts, bind(TOOLBOX_DIR, tid)], toolbox_spec(spec),
                                       on_output, rows, cols, **kwargs)

    async def step(self, digest: str, cfg: InvokeConfig, on_output: OutputFn, rows: int = 24,
                   cols: int = 80, toolbox: bool = False) -> tuple[Container, ProcessHandle, bool]:
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

    async def failed(self, cfg: InvokeConfig, on_output: OutputFn, rows: int = 24, cols: int = 80,
                     toolbox: bool = False) -> tuple[Container, ProcessHandle, bool]:
        """The failed step's final/initial state (a file op: its inputs), or the result."""
        failure = self.ctx.solve_failure
        if failure is not None and failure.op.HasField("file"):
            return await self.file_op(cfg, on_output, rows, cols)
        spec = self.ctx.process_spec(cfg)
        mounts, kwargs = self.ctx.container_request(cfg)
        return await self.start(mounts, spec, on_output, rows, cols, toolbox=toolbox, **kwargs)

    async def file_op(self, cfg: InvokeConfig, on_output: OutputFn, rows: int = 24,
                      cols: int = 80) -> tuple[Container, ProcessHandle, bool]:
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
        return ctr, ProcessHandle(proc, rows, cols), True
