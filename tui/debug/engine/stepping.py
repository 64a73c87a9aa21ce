"""Breakpoints and stepping inside one client-driven gateway build.

The frontend's definition is known before anything runs (it is asked with Evaluate=false).
Pausing before a step solves the sub-graphs of that step's inputs in the same job (one
status stream, one graph), then waits; ``next`` solves one more vertex; ``continue`` goes on
to the next breakpoint, and after the last one the build function evaluates the whole result
as usual.  Everything solved before is a cache hit: nothing runs twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tui.buildkit.debuglog import LOG
from tui.buildkit.errors import BuildError
from tui.buildkit.gateway import Gateway
from tui.buildkit.proto import ops_pb2
from tui.debug.engine.build import result_refs
from tui.debug.engine.container import OutputFn
from tui.debug.engine.handle import ProcessHandle
from tui.debug.engine.helper import bind
from tui.debug.engine.result import ResultContext, exec_mounts
from tui.debug.model.breakmarks import Carried, Location, carry, location_of, resolve
from tui.debug.model.invoke import InvokeConfig, InvokeError, spec_from_step
from tui.debug.model.llbdef import DEFAULT_PATH, LLBDefinition, step_order
from tui.debug.model.pause import PausedStep, Resume, Walk, Where
from tui.debug.model.stepsel import StepError, StepRef, resolve_step

__all__ = ["Stepper"]

_KINDS = {ops_pb2.BIND: "bind", ops_pb2.CACHE: "cache", ops_pb2.TMPFS: "tmpfs",
          ops_pb2.SECRET: "secret", ops_pb2.SSH: "ssh"}


class _Stop:
    """One pause: the step, the container mounts of its state, and the process config."""

    def __init__(self, info: PausedStep, mounts: list[ops_pb2.Mount], meta: ops_pb2.Meta,
                 kwargs: dict[str, Any]) -> None:
        self.info = info
        self.mounts = mounts
        self.meta = meta
        self.kwargs = kwargs


class Stepper:
    """Runs a build up to its breakpoints (``--step`` selectors), pausing before each."""

    def __init__(self, selectors: Sequence[str]) -> None:
        self.selectors = list(selectors)
        self._stop: _Stop | None = None
        self._ctx: ResultContext | None = None
        self._resume: asyncio.Future[Resume] | None = None
        self.changed = asyncio.Event()
        self._refs: dict[tuple[str, int], str] = {}
        #: Breakpoints by digest: toggled while the build runs or is paused (applied at the
        #: next turn; the selectors join them once the definition is known).
        self.digests: set[str] = set()
        #: This build's steps' Dockerfile locations (known once its definition is).
        self._where: dict[str, Location] = {}
        #: Breakpoints carried from the previous build, resolved when the definition is known.
        self._carried = Carried()
        #: Whether the walk is over (the build evaluates its whole result: toggles wait for
        #: the next build).
        self.walked = False
        #: This build's steps by vertex name: the daemon reports some steps under another
        #: digest than the frontend's definition has (those after a COPY from the context).
        self._by_name: dict[str, str] = {}
        #: Where the walk stands: each step's place in the order, the current one's.
        self._index: dict[str, int] = {}
        self._at = -1
        #: Called with the steps not run yet at the first pause (the graph shows them pending).
        self.on_first_pause: Callable[[LLBDefinition, list[str]], None] | None = None

    def toggle(self, digest: str) -> bool:
        """Set or clear the breakpoint on ``digest``; whether it is set now."""
        if digest in self.digests:
            self.digests.discard(digest)
            return False
        self.digests.add(digest)
        return True

    def carry(self, lines: Mapping[int, int] | None) -> None:
        """For a reload: keep the breakpoints by Dockerfile line (``lines``: old → new)."""
        self._carried = carry(self.digests, self._where, lines, self._carried.locations)
        self._refs.clear()  # the previous build's results: released with it
        self.digests = set()
        self._where = {}
        self.walked = False

    def own(self, digest: str, name: str) -> str:
        """The definition's digest of the graph row ``digest`` named ``name``."""
        if digest in self._index or not name:
            return digest
        return self._by_name.get(name, digest)

    def rows(self, graph: Iterable[tuple[str, str]]) -> set[str]:
        """The breakpoints as graph rows: the digests, and the rows that are their steps."""
        return set(self.digests) | {d for d, name in graph
                                    if self._by_name.get(name) in self.digests}

    def applies(self, digest: str) -> bool:
        """Whether a breakpoint on ``digest`` can still stop this build.

        Not once the walk is over (the whole result is being evaluated) or past the step;
        before the definition is known, it can.
        """
        if self.walked:
            return False
        return not self._index or self._index.get(digest, -1) > self._at

    @property
    def paused(self) -> PausedStep | None:
        """The step the build is paused at (None while it runs, from :meth:`resume` on)."""
        if self._stop is None or self._resume is None or self._resume.done():
            return None
        return self._stop.info

    def resume(self, how: Resume) -> None:
        """Go on from the pause (ignored when not paused)."""
        LOG.debug("stepping: %s", how)
        if self._resume is not None and not self._resume.done():
            self._resume.set_result(how)

    async def run(self, gw: Gateway, definition: LLBDefinition) -> None:
        """Walk the build's steps, pausing at the breakpoints; return to let it finish.

        A bad selector raises BuildError (one line); a failing step raises its BuildError.
        """
        order = step_order(definition)
        infos = definition.op_infos()
        candidates = [StepRef(d, infos[d].name, None) for d in order if d in infos]
        for sel in self.selectors:
            try:
                self.digests.add(resolve_step(sel, candidates).digest)
            except StepError as exc:
                raise BuildError(f"--break {sel}: {exc}") from None
        self.selectors = []  # resolved once: from then on they move with their lines
        self._where = {d: loc for d, info in infos.items()
                       if (loc := location_of(info.source)) is not None}
        self.digests |= resolve(self._carried, self._where)
        self._carried = Carried()
        index = self._index = {d: i for i, d in enumerate(order)}
        names = [(infos[d].name, d) for d in order if d in infos and infos[d].name]
        counts: dict[str, int] = {}
        for name, _ in names:
            counts[name] = counts.get(name, 0) + 1
        self._by_name = {name: d for name, d in names if counts[name] == 1}
        first = True
        walk: Walk | None = Walk()
        how = Resume.CONTINUE
        try:
            while walk is not None:
                points = sorted(index[d] for d in self.digests if d in index)
                walk = walk.go(how, len(order), points)
                if walk is None:
                    break
                digest = order[walk.index]
                self._at = walk.index
                if first and self.on_first_pause is not None:
                    self.on_first_pause(definition, order[walk.index:])
                first = False
                stop = await self._prepare(gw, definition, digest, walk.where,
                                           walk.where is Where.BEFORE and digest in self.digests)
                how = await self._pause(gw, stop)
        finally:
            self.walked = True

    async def _solve(self, gw: Gateway, definition: LLBDefinition, digest: str,
                     output: int) -> str:
        """A result id of output ``output`` of ``digest`` (solved once; then a cache hit)."""
        key = (digest, output)
        if key not in self._refs:
            # --no-cache marks kept: the same vertices as the final evaluation's, which the
            # daemon then finds solved in this job (a step never runs twice)
            sub = definition.subgraph(digest, output, definition.ops)
            res = await gw.solve(definition=sub, evaluate=True)
            ids = [r.id for r in result_refs(res).values()]
            self._refs[key] = ids[0] if ids else ""
        return self._refs[key]

    async def _prepare(self, gw: Gateway, definition: LLBDefinition, digest: str,
                       where: Where, is_break: bool) -> _Stop:
        op = definition.ops[digest]
        name = definition.describe(digest)
        info = definition.op_infos().get(digest)
        source = info.source if info is not None else None
        kwargs: dict[str, Any] = {}
        if op.HasField("platform"):
            kwargs["platform"] = op.platform
        if where is Where.AFTER:
            rid = await self._solve(gw, definition, digest, 0)
            meta = definition.exec_meta(digest) or ops_pb2.Meta(env=[DEFAULT_PATH], cwd="/")
            mounts = [bind("/", rid, readonly=False)]
        else:
            ids = await asyncio.gather(*(self._solve(gw, definition, i.digest, i.index)
                                         for i in op.inputs))
            if op.HasField("exec"):
                ex = op.exec
                meta = ex.meta
                by_mount = [ids[m.input] if 0 <= m.input < len(ids) else "" for m in ex.mounts]
                mounts = exec_mounts(ex, by_mount)
                kwargs.update(network=ex.network, extra_hosts=list(ex.meta.extraHosts),
                              hostname=ex.meta.hostname)
            else:
                # a file operation: its first input is the state it changes, the others
                # (a COPY's source) beside it under /src
                first = op.inputs[0].digest if op.inputs else ""
                meta = definition.exec_meta(first) or ops_pb2.Meta(env=[DEFAULT_PATH], cwd="/")
                mounts = [bind("/" if i == 0 else f"/src{i if i > 1 else ''}", rid,
                               readonly=i > 0) for i, rid in enumerate(ids) if rid]
        paused = PausedStep(
            digest=digest, name=name, where=where, source=source, args=tuple(meta.args),
            user=meta.user, cwd=meta.cwd, env=tuple(meta.env),
            mounts=tuple(_mount_words(m) for m in mounts), breakpoint=is_break)
        return _Stop(paused, mounts, meta, kwargs)

    async def _pause(self, gw: Gateway, stop: _Stop) -> Resume:
        """Hold the build at ``stop`` until :meth:`resume`; release its containers then."""
        self._ctx = ResultContext(gw)
        self._resume = asyncio.get_running_loop().create_future()
        self._stop = stop
        self.changed.set()
        LOG.debug("stepping: %s", stop.info.headline())
        try:
            return await self._resume
        finally:
            ctx, self._ctx, self._stop, self._resume = self._ctx, None, None, None
            self.changed.set()
            await ctx.done()

    async def start_process(self, cfg: InvokeConfig, on_output: OutputFn, rows: int = 24,
                            cols: int = 80) -> ProcessHandle:
        """``cfg``'s process in the paused step's state (its initial state when before it).

        Raises InvokeError when the build is not paused, ProcessError when it cannot start.
        """
        stop, ctx = self._stop, self._ctx
        if stop is None or ctx is None:
            raise InvokeError("the build is not paused")
        spec = spec_from_step(stop.meta, cfg)
        if not spec.args:
            raise InvokeError("no command to run: give one (e.g. --invoke /bin/sh)")
        _, proc = await ctx.start_in(list(stop.mounts), spec, on_output, rows, cols,
                                     **stop.kwargs)
        return ProcessHandle(proc, rows, cols)


def _mount_words(m: ops_pb2.Mount) -> str:
    kind = _KINDS.get(m.mountType, "bind")
    ro = ", ro" if m.readonly else ""
    return f"{m.dest} ({kind}{ro})"
