"""The result context: a build's gateway kept open for debugging (buildx's ResultContext).

A failed build keeps its gateway open until :meth:`ResultContext.done`; a successful one is
re-evaluated in a second gateway session (an instant cache hit) that stays open likewise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

from tui.buildkit.aio import cancel_child, wait_child
from tui.buildkit.client import BuildkitClient
from tui.buildkit.debuglog import LOG
from tui.buildkit.errors import BuildError, SolveFailure
from tui.buildkit.gateway import Gateway
from tui.buildkit.proto import control_pb2, gateway_pb2, ops_pb2
from tui.debug.engine.build import (
    BeforeEvaluate,
    DefinitionCallback,
    OwnNames,
    SolveSetup,
    StatusCallback,
    dockerfile_build_func,
    evaluate_result,
    gateway_build,
    result_refs,
    setup_for,
)
from tui.debug.engine.container import Container, ContainerProcess, OutputFn, ProcessError
from tui.debug.engine.options import BuildOptions
from tui.debug.model.invoke import (
    InvokeConfig,
    InvokeError,
    ProcessSpec,
    load_image_config,
    spec_from_image,
    spec_from_step,
)
from tui.debug.model.llbdef import LLBDefinition
from tui.debug.model.state import StateKind

Cleanup = Callable[[], Awaitable[None]]
STATUS_SETTLE_TIMEOUT = 2.0


def describe_op(failure: SolveFailure) -> str:
    """Words for the failed op, e.g. ``a file operation (copy "/missing.txt" -> "/app/")``."""
    kind = failure.op_kind
    if kind == "file":
        action = failure.file_action
        if action is None and len(failure.op.file.actions) == 1:
            action = failure.op.file.actions[0]
        what = action.WhichOneof("action") if action is not None else None
        if action is not None and what == "copy":
            return f'a file operation (copy "{action.copy.src}" -> "{action.copy.dest}")'
        if action is not None and what == "mkfile":
            return f'a file operation (write "{action.mkfile.path}")'
        if action is not None and what == "mkdir":
            return f'a file operation (mkdir "{action.mkdir.path}")'
        if action is not None and what == "rm":
            return f'a file operation (remove "{action.rm.path}")'
        return "a file operation"
    if kind == "source":
        return f"a source ({failure.op.source.identifier})"
    return f"a {kind or 'non-exec'} operation"


def exec_mounts(ex: ops_pb2.ExecOp, ids: list[str]) -> list[ops_pb2.Mount]:
    """Container mounts for ``ex``'s mounts, the i-th given result id ``ids[i]``.

    Cache, secret, SSH and tmpfs options are kept as the step has them.
    """
    mounts = []
    for i, m in enumerate(ex.mounts):
        rid = ids[i] if i < len(ids) else ""
        mount = ops_pb2.Mount(
            dest=m.dest, selector=m.selector, readonly=m.readonly, mountType=m.mountType,
            resultID=rid, input=-1, output=-1,
        )
        if m.HasField("cacheOpt"):
            mount.cacheOpt.CopyFrom(m.cacheOpt)
        if m.HasField("secretOpt"):
            mount.secretOpt.CopyFrom(m.secretOpt)
        if m.HasField("SSHOpt"):
            mount.SSHOpt.CopyFrom(m.SSHOpt)
        if m.HasField("TmpfsOpt"):
            mount.TmpfsOpt.CopyFrom(m.TmpfsOpt)
        mounts.append(mount)
    return mounts


class ResultContext:
    """A finished build whose gateway is still open: start containers, then :meth:`done`."""

    def __init__(self, gateway: Gateway, *, result: gateway_pb2.Result | None = None,
                 error: BuildError | None = None) -> None:
        self.gateway = gateway
        self.result = result
        self.error = error
        self._released = asyncio.Event()
        self._cleanups: list[Cleanup] = []
        #: Cleanups registered once :meth:`done` had begun (run at once).
        self._late: set[asyncio.Future[None]] = set()
        self._job: asyncio.Task[Any] | None = None
        self._done_task: asyncio.Task[None] | None = None
        self.containers: list[Container] = []
        #: Why the daemon-side build ended before :meth:`done` (the connection broke, the
        #: daemon stopped): nothing can be started in it any more.
        self.lost: BuildError | None = None
        #: Set when :attr:`lost` is.
        self.lost_event = asyncio.Event()
        #: The build's definition as the frontend returned it (None if it never did).
        self.definition: LLBDefinition | None = None

    @property
    def failed(self) -> bool:
        """True for a failed build (containers come from the failed step)."""
        return self.error is not None

    @property
    def solve_failure(self) -> SolveFailure | None:
        """The failed op and its mount states, for a failed build."""
        return self.error.solve if self.error is not None else None

    def image_config(self) -> dict[str, Any] | None:
        """The result's image config (first platform), for a successful build."""
        if self.result is None:
            return None
        key = "containerimage.config"
        pid = self._first_platform_id()
        if pid and f"{key}/{pid}" in self.result.metadata:
            key = f"{key}/{pid}"
        return load_image_config(self.result.metadata.get(key))

    def _first_platform_id(self) -> str | None:
        assert self.result is not None
        raw = self.result.metadata.get("refs.platforms")
        if not raw:
            return None
        try:
            platforms = json.loads(raw).get("platforms") or []
            return str(platforms[0]["id"]) if platforms else None
        except (ValueError, KeyError, TypeError, AttributeError):
            return None

    def register_cleanup(self, fn: Cleanup) -> None:
        """Run ``fn`` in :meth:`done`, before the gateway closes (at once if that has begun)."""
        if self._done_task is not None:
            self._late.add(asyncio.ensure_future(fn()))
            return
        self._cleanups.append(fn)

    # -- containers -------------------------------------------------------------------------
    def container_config(
        self, cfg: InvokeConfig
    ) -> tuple[list[ops_pb2.Mount], ops_pb2.ExecOp | None]:
        """Mounts (and the failed exec op, if any) for a container as ``cfg`` asks."""
        if self.error is None:
            if cfg.state is StateKind.INITIAL:
                raise InvokeError(
                    "the initial state exists only for a failed step; this build succeeded"
                )
            assert self.result is not None
            refs = result_refs(self.result)
            pid = self._first_platform_id()
            ref = refs.get(pid or "") or (next(iter(refs.values())) if refs else None)
            if ref is None or not ref.id:
                raise InvokeError("the build result has no filesystem to start a container in")
            mount = ops_pb2.Mount(dest="/", mountType=ops_pb2.BIND, resultID=ref.id,
                                  input=-1, output=-1)
            return [mount], None
        failure = self.error.solve
        if failure is None:
            raise InvokeError("the build failed before any step ran: there is no step to enter")
        ex = failure.exec
        if ex is None:
            raise InvokeError(
                f"the failed step is {describe_op(failure)}, not a RUN: it has no state of its "
                "own to enter"
            )
        ids = failure.input_ids if cfg.state is StateKind.INITIAL else failure.mount_ids
        return exec_mounts(ex, list(ids)), ex

    def process_spec(self, cfg: InvokeConfig) -> ProcessSpec:
        """The process to run, resolved from the failed step or the image config."""
        if self.error is None:
            spec = spec_from_image(self.image_config(), cfg)
        else:
            failure = self.error.solve
            if failure is None or failure.exec is None:
                self.container_config(cfg)  # raises the clear error
                raise AssertionError("unreachable")
            spec = spec_from_step(failure.exec.meta, cfg)
        if not spec.args:
            raise InvokeError("no command to run: give one (e.g. --invoke /bin/sh)")
        return spec

    async def exec(self, cfg: InvokeConfig, on_output: OutputFn, rows: int = 24,
                   cols: int = 80) -> tuple[Container, ContainerProcess]:
        """Start ``cfg``'s process in a new container; release the container after it exits.

        Raises InvokeError (nothing to enter) or ProcessError (it could not start); the
        context stays usable either way.
        """
        spec = self.process_spec(cfg)
        mounts, kwargs = self.container_request(cfg)
        return await self.start_in(mounts, spec, on_output, rows, cols, **kwargs)

    def container_request(self, cfg: InvokeConfig) -> tuple[list[ops_pb2.Mount], dict[str, Any]]:
        """Mounts and container options (network, hosts, platform) for ``cfg``'s container."""
        mounts, ex = self.container_config(cfg)
        kwargs: dict[str, Any] = {}
        if ex is not None:
            kwargs["network"] = ex.network
            kwargs["extra_hosts"] = list(ex.meta.extraHosts)
            kwargs["hostname"] = ex.meta.hostname
            failure = self.solve_failure
            if failure is not None and failure.op.HasField("platform"):
                kwargs["platform"] = failure.op.platform
        return mounts, kwargs

    async def start_in(self, mounts: list[ops_pb2.Mount], spec: ProcessSpec, on_output: OutputFn,
                       rows: int = 24, cols: int = 80,
                       **kwargs: Any) -> tuple[Container, ContainerProcess]:
        """A new container with ``mounts`` running ``spec``.

        The container is released after the process exits (and by :meth:`done`).  Raises
        ProcessError when the process cannot start.
        """
        ctr = await Container.create(self.gateway, mounts, **kwargs)
        if self._done_task is not None:  # released while it was being created: not kept
            await ctr.release()
            raise ProcessError("the build is being released")
        self.containers.append(ctr)

        async def release() -> None:
            await ctr.release()

        self.register_cleanup(release)
        try:
            proc = await ctr.start(spec, on_output, rows, cols)
        except BaseException:
            await ctr.release()
            raise

        async def release_after_exit() -> None:
            await proc.wait()
            await ctr.release()

        task = asyncio.create_task(release_after_exit())
        self.register_cleanup(lambda: cancel_child(task, Exception))
        return ctr, proc

    # -- lifetime ---------------------------------------------------------------------------
    def _attach_job(self, job: asyncio.Task[Any]) -> None:
        self._job = job
        job.add_done_callback(self._job_ended)

    def _job_ended(self, job: asyncio.Task[Any]) -> None:
        if self._released.is_set() or job.cancelled():
            return
        exc = job.exception()
        if exc is None:
            err = BuildError("the builder ended the build", grpc.StatusCode.UNAVAILABLE)
        elif isinstance(exc, BuildError):
            err = exc
        else:
            err = BuildError(str(exc) or type(exc).__name__, grpc.StatusCode.UNAVAILABLE)
        self.lost = err
        self.lost_event.set()
        LOG.debug("result context lost: %s", err)

    async def wait_lost(self, limit: float) -> BuildError | None:
        """:attr:`lost`, waiting up to ``limit`` s for it.

        A process stream that broke usually means the build's own call is breaking too.
        """
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(limit):
                await self.lost_event.wait()
        return self.lost

    async def wait_released(self) -> None:
        """Block (the build function) until :meth:`done` is called."""
        await self._released.wait()

    async def done(self) -> None:
        """Release containers, close the gateway, wait for the daemon-side build to end.

        Idempotent and safe to call from any task; concurrent callers share one run.
        """
        if self._done_task is None:
            self._done_task = asyncio.ensure_future(self._finish())
        await asyncio.shield(self._done_task)

    async def _finish(self) -> None:
        cleanups, self._cleanups = self._cleanups, []
        t0 = time.perf_counter()
        for fn in reversed(cleanups):
            with contextlib.suppress(Exception):
                await fn()
        if self._late:  # registered while the cleanups above ran
            await asyncio.gather(*self._late, return_exceptions=True)
        LOG.debug("result context: %d cleanup(s) in %.1f ms", len(cleanups),
                  (time.perf_counter() - t0) * 1e3)
        self._released.set()
        if self._job is not None:
            # its error was reported already (or does not matter once released)
            await wait_child(self._job, Exception)


class _StatusGate:
    """Forwards status to the caller until the context exists; remembers failed vertices."""

    def __init__(self, target: StatusCallback | None) -> None:
        self.target = target
        self.open = True
        self.errored: set[str] = set()
        self.changed = asyncio.Event()

    def __call__(self, resp: control_pb2.StatusResponse) -> None:
        for v in resp.vertexes:
            if v.error:
                self.errored.add(v.digest)
                self.changed.set()
        if self.open and self.target is not None:
            self.target(resp)

    async def settle(self, digest: str | None, limit: float) -> None:
        """Wait (bounded) until the failed vertex's error has come through, then close."""
        if digest:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(limit):
                    while digest not in self.errored:
                        self.changed.clear()
                        await self.changed.wait()
        self.open = False


async def new_result_context(
    client: BuildkitClient, opts: BuildOptions, on_status: StatusCallback | None = None,
    on_definition: DefinitionCallback | None = None,
    before_evaluate: BeforeEvaluate | None = None,
) -> tuple[ResultContext | None, control_pb2.SolveResponse | None, BuildError | None]:
    """Build, and keep the gateway open for debugging (buildx's NewResultContext).

    Returns ``(context, response, error)``: a failed RUN (or any step with solve details)
    gives a context holding the error; a success gives a context on a second gateway session
    holding the result; any other failure gives ``(None, None, error)`` with nothing left
    open.  Cancelling the caller before a context exists aborts the build; once it exists
    only :meth:`ResultContext.done` ends it.  ``on_definition`` gets the build's definition
    as soon as the frontend has returned it; ``before_evaluate`` (breakpoints) runs in the
    job before the result is evaluated.
    """
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[ResultContext] = loop.create_future()
    names = OwnNames(on_status)
    gate = _StatusGate(names)
    final: list[gateway_pb2.Result] = []
    definitions: list[LLBDefinition] = []

    def keep_definition(definition: LLBDefinition) -> None:
        definitions.append(definition)
        if on_definition is not None:
            on_definition(definition)

    setup = setup_for(opts, engine=client.endpoint.kind == "docker")
    build = dockerfile_build_func(setup.frontend_attrs, names, keep_definition, before_evaluate)

    async def main_func(gw: Gateway) -> gateway_pb2.Result:
        try:
            res = await build(gw)
        except BuildError as err:
            # A parse error also carries a Solve detail, but with no op: no step ran, so
            # there is nothing to debug (buildx would keep an unusable context open).
            if err.solve is not None and err.solve.op_kind and not ready.done():
                ctx = ResultContext(gw, error=err)
                ctx.definition = definitions[0] if definitions else None
                ready.set_result(ctx)
                await ctx.wait_released()
            raise
        final.append(res)
        return res

    job = asyncio.create_task(gateway_build(client, setup, main_func, gate))
    try:
        await _first(job, ready)
    except asyncio.CancelledError:
        if ready.done():
            await asyncio.shield(_done_after(ready.result(), job))
        else:
            await cancel_child(job, Exception)
        raise
    if ready.done():
        ctx = ready.result()
        ctx._attach_job(job)
        await gate.settle(ctx.error.vertex if ctx.error else None, STATUS_SETTLE_TIMEOUT)
        return ctx, None, ctx.error
    gate.open = False
    try:
        resp = job.result()
    except BuildError as err:
        return None, None, err
    try:
        ctx2 = await _reopen(client, setup, final[0])
    except BuildError as err:
        return None, resp, err
    return ctx2, resp, None


async def _first(*futures: asyncio.Future[Any]) -> None:
    await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)


async def _done_after(ctx: ResultContext, job: asyncio.Task[Any]) -> None:
    ctx._attach_job(job)
    await ctx.done()


async def _reopen(client: BuildkitClient, setup: SolveSetup,
                  result: gateway_pb2.Result) -> ResultContext:
    """A second gateway session re-evaluating ``result`` (an instant cache hit), kept open."""
    loop = asyncio.get_running_loop()
    ready: asyncio.Future[ResultContext] = loop.create_future()
    second = SolveSetup(dirs=setup.dirs, secrets=setup.secrets, environ=setup.environ,
                        name=setup.name, ssh=setup.ssh)

    async def func(gw: Gateway) -> gateway_pb2.Result:
        try:
            res = await evaluate_result(gw, result, reuse_cache=True)
        except BuildError as err:
            raise BuildError(f"inconsistent solve result: {err.message}") from err
        ctx = ResultContext(gw, result=res)
        ready.set_result(ctx)
        await ctx.wait_released()
        return gateway_pb2.Result()

    job = asyncio.create_task(gateway_build(client, second, func, None))
    await _first(job, ready)
    if not ready.done():
        job.result()  # raises the reason
        raise BuildError("the result could not be re-opened for debugging")
    ctx = ready.result()
    ctx._attach_job(job)
    return ctx
