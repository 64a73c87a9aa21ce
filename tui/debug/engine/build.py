"""Client-driven gateway builds, as BuildKit's ``client.Build`` runs them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import grpc

from tui.buildkit.aio import cancel_child
from tui.buildkit.client import BuildkitClient
from tui.buildkit.debuglog import LOG
from tui.buildkit.defs import ref_definition
from tui.buildkit.errors import BuildError, error_from_rpc, status_from_error
from tui.buildkit.gateway import Gateway
from tui.buildkit.proto import control_pb2, gateway_pb2, ops_pb2
from tui.buildkit.session.filesync import ExportTarget
from tui.buildkit.session.server import SessionServer
from tui.debug.engine.options import DOCKERFILE_FRONTEND, BuildOptions
from tui.debug.model.buildmeta import BUILD_REF_KEY, build_ref

if TYPE_CHECKING:
    from tui.buildkit.session.secrets import SecretSource
    from tui.buildkit.session.sshforward import AgentSource
    from tui.debug.model.llbdef import LLBDefinition

StatusCallback = Callable[[control_pb2.StatusResponse], None]
#: Called with the build's own definition once the frontend has returned it.
DefinitionCallback = Callable[["LLBDefinition"], None]
BuildFunc = Callable[[Gateway], Awaitable[gateway_pb2.Result | None]]


@dataclass
class SolveSetup:
    """Everything the job needs besides the build function: session and exporters."""

    dirs: dict[str, str] = field(default_factory=dict)
    exporters: list[control_pb2.Exporter] = field(default_factory=list)
    export_targets: list[ExportTarget] = field(default_factory=list)
    secrets: dict[str, SecretSource] = field(default_factory=dict)
    frontend_attrs: dict[str, str] = field(default_factory=dict)
    entitlements: list[str] = field(default_factory=list)
    environ: Mapping[str, str] | None = None
    name: str = "bxtui"
    ref: str = field(default_factory=lambda: secrets.token_hex(13))
    #: The builder named in ``buildx.build.ref``: ``default`` (buildx's name for the
    #: Docker Engine of the default context) or ``bxtui`` for a buildkitd address.
    builder: str = "default"
    ssh: dict[str, AgentSource] = field(default_factory=dict)
    cache: control_pb2.CacheOptions | None = None

    def request(self, session_id: str) -> control_pb2.SolveRequest:
        """The Control.Solve request: no frontend, no definition; the client drives."""
        req = control_pb2.SolveRequest(
            Ref=self.ref,
            Session=session_id,
            FrontendAttrs=self.frontend_attrs,
            Entitlements=self.entitlements,
            Exporters=self.exporters,
        )
        if self.cache is not None:
            req.Cache.CopyFrom(self.cache)
        if self.exporters:
            req.ExporterDeprecated = self.exporters[0].Type
            req.ExporterAttrsDeprecated.update(self.exporters[0].Attrs)
        return req


def setup_for(opts: BuildOptions, engine: bool) -> SolveSetup:
    """The job setup for a Dockerfile build with buildx's flags."""
    exporters, targets = opts.exporters(engine)
    cache = None
    attrs = opts.frontend_opts(engine=engine)
    if opts.cache_to or opts.cache_from:
        from tui.debug.engine.cache import imports_attr, solve_cache

        cache = solve_cache(opts.cache_to, opts.cache_from, engine)
        if cache.Imports:
            attrs["cache-imports"] = imports_attr(
                [c for c in opts.cache_from if c.type != "local"])
    return SolveSetup(
        dirs=opts.local_dirs(),
        exporters=exporters,
        export_targets=targets,
        secrets={s.id: s for s in opts.secrets},
        frontend_attrs=attrs,
        entitlements=opts.entitlements(),
        name=os.path.basename(os.path.abspath(opts.context)) or "bxtui",
        builder="default" if engine else "bxtui",
        ssh=dict(opts.ssh),
        cache=cache,
    )


async def _read_status(client: BuildkitClient, ref: str, on_status: StatusCallback | None) -> None:
    call = client.control.Status(control_pb2.StatusRequest(Ref=ref))
    failed = False
    try:
        async for resp in call:
            if on_status is None:
                continue
            try:
                on_status(resp)
            except Exception:  # a bug of ours: keep the stream (the build goes on)
                if not failed:  # in the debug log (-D), once; never on the screen
                    LOG.debug("build %s: a status message could not be shown", ref,
                              exc_info=True)
                failed = True
    except grpc.aio.AioRpcError:
        pass  # the job never appeared or was cancelled: Solve reports why


#: The error of a build whose session connection the daemon closed.
SESSION_DROPPED = "the daemon closed the session connection"


async def gateway_build(
    client: BuildkitClient,
    setup: SolveSetup,
    build_func: BuildFunc,
    on_status: StatusCallback | None = None,
) -> control_pb2.SolveResponse:
    """Run one job whose result ``build_func`` computes through the gateway.

    ``build_func``'s result (or its BuildError) is returned to the job; Control.Solve then
    exports it.  Raises BuildError when the job fails.  Cancelling the caller aborts the job.
    """
    session = SessionServer(
        dirs=setup.dirs,
        exports=setup.export_targets,
        secrets=setup.secrets,
        ssh=setup.ssh,
        environ=setup.environ,
        name=setup.name,
    )
    link = None
    status_task: asyncio.Task[None] | None = None
    solve_task: asyncio.Task[control_pb2.SolveResponse] | None = None
    func_task: asyncio.Task[None] | None = None
    link_task: asyncio.Task[None] | None = None
    t0 = time.perf_counter()
    LOG.debug("build %s: session %s, dirs %s, secrets %s, frontend attrs %s, exporters %s",
              setup.ref, session.id, sorted(setup.dirs), sorted(setup.secrets),
              dict(setup.frontend_attrs), [e.Type for e in setup.exporters])
    try:
        link = await client.attach_session(session)
        LOG.debug("build %s: session attached in %.1f ms", setup.ref,
                  (time.perf_counter() - t0) * 1e3)
        status_task = asyncio.create_task(_read_status(client, setup.ref, on_status))
        solve_task = asyncio.create_task(_solve(client, setup.request(session.id)))
        gw = client.gateway(setup.ref)
        if setup.cache is not None:
            gw.cache_imports = [gateway_pb2.CacheOptionsEntry(Type=c.Type, Attrs=c.Attrs)
                                for c in setup.cache.Imports]
        func_task = asyncio.create_task(_drive(gw, build_func))
        link_task = asyncio.create_task(link.wait_closed())
        done, _ = await asyncio.wait({func_task, solve_task, link_task},
                                     return_when=asyncio.FIRST_COMPLETED)
        link_task.cancel()
        if not done - {link_task}:
            # The daemon dropped the session (context, secrets, exports): the job cannot
            # go on; cancelling the solve ends it on the daemon too.
            await cancel_child(func_task, BuildError)
            LOG.debug("build %s: the session connection ended after %.1f ms", setup.ref,
                      (time.perf_counter() - t0) * 1e3)
            raise BuildError(SESSION_DROPPED, grpc.StatusCode.UNAVAILABLE)
        if func_task not in done:
            # The job ended before the client returned anything: report the job's error.
            await cancel_child(func_task, BuildError)
        else:
            func_task.result()
        try:
            resp = await solve_task
        except grpc.aio.AioRpcError as exc:
            err = error_from_rpc(exc)
            LOG.debug("build %s failed after %.1f ms: %s", setup.ref,
                      (time.perf_counter() - t0) * 1e3, err.message)
            raise err from None
        LOG.debug("build %s solved in %.1f ms; exporter response %s", setup.ref,
                  (time.perf_counter() - t0) * 1e3, dict(resp.ExporterResponse))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(status_task), 5)
        # as buildx does: where the build is in the daemon's history
        resp.ExporterResponse[BUILD_REF_KEY] = build_ref(setup.builder, setup.ref)
        return resp
    finally:
        for child in (func_task, link_task):  # still running when the caller is cancelled
            if child is not None and not child.done():
                await cancel_child(child, BuildError, grpc.RpcError)
        if solve_task is not None and not solve_task.done():
            await cancel_child(solve_task, grpc.RpcError)
        elif solve_task is not None and not solve_task.cancelled():
            solve_task.exception()  # retrieved: the dropped session is what we report
        if status_task is not None and not status_task.done():
            await cancel_child(status_task)
        if link is not None:
            await link.close()
        await session.stop()


async def _solve(
    client: BuildkitClient, req: control_pb2.SolveRequest
) -> control_pb2.SolveResponse:
    resp: control_pb2.SolveResponse = await client.control.Solve(req)
    return resp


async def _drive(gw: Gateway, build_func: BuildFunc) -> None:
    """Run the build function and hand its result or error to the job."""
    try:
        result = await build_func(gw)
    except BuildError as err:
        await gw.return_error(status_from_error(err))
        return
    await gw.return_result(result if result is not None else gateway_pb2.Result())


def result_refs(result: gateway_pb2.Result) -> dict[str, gateway_pb2.Ref]:
    """The refs of a result by key (``""`` for a single ref, else platform ids)."""
    kind = result.WhichOneof("result")
    if kind == "ref":
        return {"": result.ref}
    if kind == "refs":
        return dict(result.refs.refs)
    return {}


def with_cache(definition: ops_pb2.Definition) -> ops_pb2.Definition:
    """A copy of ``definition`` whose ops may use the cache (``--no-cache`` marks removed)."""
    out = ops_pb2.Definition()
    out.CopyFrom(definition)
    for meta in out.metadata.values():
        meta.ignore_cache = False
    return out


async def evaluate_result(gw: Gateway, result: gateway_pb2.Result,
                          reuse_cache: bool = False) -> gateway_pb2.Result:
    """Force evaluation of every ref of ``result`` (the seed's getDefinition/evalDefinition).

    Each ref's definition is solved again with Evaluate set, in parallel; the new refs replace
    the old ones and the metadata is kept.  A failing step raises BuildError here.
    ``reuse_cache`` re-evaluates a result that was just built: the ops' ``--no-cache`` marks
    are dropped so that nothing runs twice.
    """
    own = {k: d for k, r in result_refs(result).items() if (d := ref_definition(r)) is not None}
    if not own:
        return result
    keys = list(own)
    defs = list(own.values())
    if reuse_cache:
        defs = [with_cache(d) for d in defs]
    solved = await asyncio.gather(*(gw.solve(definition=d, evaluate=True) for d in defs))
    out = gateway_pb2.Result()
    out.CopyFrom(result)
    for key, res in zip(keys, solved, strict=True):
        new_ref = res.ref if res.WhichOneof("result") == "ref" else None
        if new_ref is None:
            continue
        if key == "":
            out.ref.CopyFrom(new_ref)
        else:
            out.refs.refs[key].CopyFrom(new_ref)
    return out


class OwnNames:
    """A status callback that gives this build's vertices the names its definition has.

    The daemon names a vertex shared with another build after the build that asked for it
    first (``[base 2/2] RUN …`` in a Dockerfile without a ``base`` stage); once the frontend
    has returned this build's definition, its ``llb.customname`` replaces that name in every
    status message before ``target`` sees it.
    """

    def __init__(self, target: StatusCallback | None) -> None:
        self.target = target
        self.names: dict[str, str] = {}

    def adopt(self, result: gateway_pb2.Result) -> None:
        """Take the names of every op of ``result``'s definitions."""
        for ref in result_refs(result).values():
            definition = ref_definition(ref)
            if definition is not None:
                for digest, meta in definition.metadata.items():
                    name = meta.description.get("llb.customname")
                    if name:
                        self.names[digest] = name

    def __call__(self, resp: control_pb2.StatusResponse) -> None:
        """Rename this build's vertices in ``resp``, then hand it on."""
        names = self.names
        if names:
            for v in resp.vertexes:
                own = names.get(v.digest)
                if own is not None and v.name != own:
                    v.name = own
        if self.target is not None:
            self.target(resp)


#: Runs inside the job once the definition is known, before the result is evaluated.
BeforeEvaluate = Callable[[Gateway, "LLBDefinition"], Awaitable[None]]


def dockerfile_build_func(
    frontend_opt: Mapping[str, str], names: OwnNames,
    on_definition: DefinitionCallback | None = None, before_evaluate: BeforeEvaluate | None = None,
) -> Callable[[Gateway], Awaitable[gateway_pb2.Result]]:
    """A build function calling the ``dockerfile.v0`` frontend, then evaluating its refs.

    ``names`` and ``on_definition`` get the frontend's definition before anything is
    evaluated; ``before_evaluate`` (breakpoints) runs then, in the same job.
    """
    attrs = dict(frontend_opt)

    async def build(gw: Gateway) -> gateway_pb2.Result:
        await gw.ping()
        # Unevaluated, as buildx asks: the definition is known before any step runs, and
        # evaluating it below yields the failing op's solve error.
        res = await gw.solve(frontend=DOCKERFILE_FRONTEND, frontend_opt=attrs,
                             evaluate=False)
        names.adopt(res)
        if on_definition is not None or before_evaluate is not None:
            from tui.debug.model.llbdef import merged_definition

            definition = merged_definition(result_refs(res).values())
            if definition is not None and on_definition is not None:
                on_definition(definition)
            if definition is not None and before_evaluate is not None:
                await before_evaluate(gw, definition)
        return await evaluate_result(gw, res)

    return build


async def run_dockerfile_build(
    client: BuildkitClient, opts: BuildOptions, on_status: StatusCallback | None = None
) -> control_pb2.SolveResponse:
    """Build a Dockerfile with buildx's flags; raise BuildError on failure."""
    setup = setup_for(opts, engine=client.endpoint.kind == "docker")
    names = OwnNames(on_status)
    build = dockerfile_build_func(setup.frontend_attrs, names)
    return await gateway_build(client, setup, build, names)
