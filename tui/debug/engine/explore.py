"""Explore any state of a finished build: any step's output, files, the failed step's diff.

An :class:`Explorer` sits on a :class:`~tui.debug.engine.result.ResultContext` (whose gateway is
still open).  It gets the build's LLB definition from the gateway (a successful result
carries it; for a failed build the frontend is asked again without evaluating), solves the
sub-graph ending at a chosen vertex (a cache hit), and reads states through toolbox helper
containers (:mod:`tui.debug.engine.helper`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from tui.buildkit.errors import BuildError
from tui.buildkit.proto import ops_pb2
from tui.debug.engine.build import result_refs
from tui.debug.engine.helper import (
    DEFAULT_TOOLBOX,
    WHOLE_FILE_CAP,
    HelperContainer,
    ToolError,
    image_definition,
)
from tui.debug.engine.result import ResultContext
from tui.debug.model.fsmodel import (
    FsDiff,
    Snapshot,
    content_candidates,
    diff_snapshots,
    unified_diff,
)
from tui.debug.model.ignored import excluded_paths
from tui.debug.model.llbdef import LLBDefinition, merged_definition

if TYPE_CHECKING:
    from tui.debug.model.copyspec import CopyReport

__all__ = ["ExploreError", "Explorer", "HelperState", "StateSpec"]

T = TypeVar("T")


class ExploreError(RuntimeError):
    """A state cannot be reached or read (one line)."""


@dataclass(frozen=True)
class StateSpec:
    """A state to browse: a label and the gateway result id holding it ("" = empty)."""

    label: str
    result_id: str
    excluded: tuple[str, ...] = ()
    note: str = ""


class HelperState:
    """One state read through a helper container (a ``StateFiles``)."""

    def __init__(self, explorer: Explorer, spec: StateSpec) -> None:
        self.explorer = explorer
        self.spec = spec
        self.label = spec.label
        self.excluded = spec.excluded
        self.note = spec.note

    async def snapshot(self) -> Snapshot:
        """Every path of the state (walked once per build state, shared with the diff)."""
        return await self.explorer.snapshot(self.spec.result_id)

    async def read(self, path: str, offset: int = 0, length: int = 65536) -> bytes:
        """Bytes of one file of the state."""
        helper, key = await self.explorer.helper_for(self.spec)
        return await _tool(helper.read(key, path, offset, length))

    async def copy_out(self, path: str, dest: str, overwrite: bool = False) -> CopyReport:
        """Copy ``path`` (a file, link or directory) of the state to the host path ``dest``.

        Raises CopyError (one line): a missing path, an existing ``dest``, a path leading
        out of the state.
        """
        from tui.debug.engine.copyout import copy_state_path

        helper, key = await self.explorer.helper_for(self.spec)
        return await copy_state_path(helper, key, path, dest, overwrite)


async def _tool(aw: Awaitable[T]) -> T:
    try:
        return await aw
    except ToolError as exc:
        raise ExploreError(str(exc)) from None
    except BuildError as exc:
        raise ExploreError(exc.message) from None


class Explorer:
    """States of a finished build beyond the failed step: see the module docstring."""

    def __init__(self, ctx: ResultContext, frontend: str, frontend_opt: Mapping[str, str],
                 local_dirs: Mapping[str, str], toolbox: str = DEFAULT_TOOLBOX) -> None:
        self.ctx = ctx
        self.frontend = frontend
        self.frontend_opt = dict(frontend_opt)
        self.local_dirs = dict(local_dirs)
        self.toolbox = toolbox
        self._definition: LLBDefinition | None = None
        self._def_lock = asyncio.Lock()
        self._toolbox_id: str | None = None
        self._toolbox_lock = asyncio.Lock()
        self._refs: dict[str, str] = {}
        self._helpers: dict[frozenset[str], HelperContainer] = {}
        self._helper_lock = asyncio.Lock()
        self._walks: dict[str, asyncio.Future[Snapshot]] = {}
        self._diff: list[FsDiff] | None = None
        self._diff_lock = asyncio.Lock()
        ctx.register_cleanup(self._release_helpers)

    # -- definition and refs -----------------------------------------------------------------
    async def definition(self) -> LLBDefinition:
        """The build's LLB definition (from the result, else from the frontend, unevaluated)."""
        async with self._def_lock:
            if self._definition is None:
                self._definition = await self._load_definition()
            return self._definition

    async def _load_definition(self) -> LLBDefinition:
        if self.ctx.definition is not None:
            return self.ctx.definition
        refs = result_refs(self.ctx.result) if self.ctx.result is not None else {}
        if not refs:
            try:
                res = await self.ctx.gateway.solve(
                    frontend=self.frontend, frontend_opt=self.frontend_opt, evaluate=False)
            except BuildError as exc:
                raise ExploreError(f"the build's definition is not available: {exc.message}") \
                    from None
            refs = result_refs(res)
        merged = merged_definition(refs.values())
        if merged is None:
            raise ExploreError("the build result carries no definition")
        return merged

    async def step_ref(self, digest: str, output: int = 0) -> str:
        """A gateway result id of ``digest``'s state (solving its sub-graph: a cache hit)."""
        key = f"{digest}#{output}"
        if key in self._refs:
            return self._refs[key]
        definition = await self.definition()
        if digest not in definition:
            raise ExploreError("that step has no state of its own to open: only the build's "
                               "steps ([N/M]) can be entered, not internal ones (loading "
                               "the definition or the context, exporting)")
        try:
            res = await self.ctx.gateway.solve(definition=definition.subgraph(digest, output),
                                               evaluate=True)
        except BuildError as exc:
            raise ExploreError(f"that step's state could not be solved: {exc.message}") \
                from None
        ids = [r.id for r in result_refs(res).values()]
        rid = ids[0] if ids else ""
        self._refs[key] = rid
        return rid

    async def toolbox_id(self, platform: ops_pb2.Platform | None = None) -> str:
        """The toolbox image's result id (solved once)."""
        async with self._toolbox_lock:
            if self._toolbox_id is None:
                try:
                    res = await self.ctx.gateway.solve(
                        definition=image_definition(self.toolbox, platform), evaluate=True)
                except BuildError as exc:
                    raise ExploreError(f"the toolbox image {self.toolbox} is not available: "
                                       f"{exc.message}") from None
                ids = [r.id for r in result_refs(res).values() if r.id]
                if not ids:
                    raise ExploreError(f"the toolbox image {self.toolbox} has no filesystem")
                self._toolbox_id = ids[0]
            return self._toolbox_id

    # -- helpers -----------------------------------------------------------------------------
    async def helper(self, states: Mapping[str, str]) -> HelperContainer:
        """A helper container with ``states`` (key -> result id) mounted, reused per set."""
        key = frozenset(f"{k}={v}" for k, v in states.items())
        async with self._helper_lock:
            helper = self._helpers.get(key)
            if helper is None:
                toolbox = await self.toolbox_id()
                try:
                    helper = await HelperContainer.create(self.ctx.gateway, toolbox,
                                                          dict(states))
                except BuildError as exc:
                    raise ExploreError(f"a helper container could not start: {exc.message}") \
                        from None
                except Exception as exc:
                    raise ExploreError(f"a helper container could not start: {exc}") from None
                self._helpers[key] = helper
            return helper

    async def helper_for(self, spec: StateSpec) -> tuple[HelperContainer, str]:
        """A helper that reads ``spec`` and the key it is mounted under.

        One already holding that state (e.g. the diff's) is reused.
        """
        for names, helper in self._helpers.items():
            for item in names:
                key, _, rid = item.partition("=")
                if rid and rid == spec.result_id:
                    return helper, key
        return await self.helper({"s": spec.result_id}), "s"

    async def snapshot(self, result_id: str, via: tuple[HelperContainer, str] | None = None
                       ) -> Snapshot:
        """Every path of the state ``result_id``, walked once (concurrent callers share it)."""
        walk = self._walks.get(result_id)
        if walk is None:
            walk = self._walks[result_id] = asyncio.ensure_future(self._walk(result_id, via))
        try:
            return await asyncio.shield(walk)
        except ExploreError:
            self._walks.pop(result_id, None)  # a later call may try again
            raise

    async def _walk(self, result_id: str, via: tuple[HelperContainer, str] | None) -> Snapshot:
        helper, key = via or await self.helper_for(StateSpec("", result_id))
        return await _tool(helper.walk(key))

    async def _release_helpers(self) -> None:
        helpers, self._helpers = list(self._helpers.values()), {}
        await asyncio.gather(*(h.release() for h in helpers))

    # -- states ------------------------------------------------------------------------------
    async def step_state(self, digest: str, name: str) -> HelperState:
        """The state a step produced."""
        return HelperState(self, StateSpec(f"output of {name}", await self.step_ref(digest)))

    def failed_exec_states(self, step: str) -> list[HelperState]:
        """The failed RUN's root after it failed and before it ran."""
        failure = self.ctx.solve_failure
        if failure is None or failure.exec is None:
            return []
        root = _root_index(failure.exec)
        if root is None:
            return []
        final = failure.mount_ids[root] if root < len(failure.mount_ids) else ""
        initial = failure.input_ids[root] if root < len(failure.input_ids) else ""
        return [HelperState(self, StateSpec(f"final state of {step}", final)),
                HelperState(self, StateSpec(f"initial state of {step}", initial))]

    async def file_op_inputs(self) -> list[tuple[str, HelperState]]:
        """The failed file operation's inputs: ("dest"/"src"/"input<i>", state)."""
        failure = self.ctx.solve_failure
        if failure is None or not failure.op.HasField("file"):
            return []
        definition = await self.definition()
        roles = _file_roles(failure.op, failure.file_action)
        out: list[tuple[str, HelperState]] = []
        for i, inp in enumerate(failure.op.inputs):
            role = roles.get(i, f"input{i}")
            rid = await self.step_ref(inp.digest, inp.index)
            local = definition.local_source(inp.digest)
            excluded: tuple[str, ...] = ()
            note = ""
            if local is not None:
                label = f"{role}: the {local.name} as the daemon received it"
                root = self.local_dirs.get(local.name)
                if root is not None and local.exclude:
                    excluded = tuple(await asyncio.to_thread(
                        excluded_paths, root, local.exclude, local.include))
                    note = (f"{len(excluded)} path(s) of {root} were not sent (.dockerignore)"
                            if excluded else "")
            else:
                label = f"{role}: {definition.describe(inp.digest)}"
            out.append((role, HelperState(self, StateSpec(label, rid, excluded, note))))
        return out

    def result_state(self) -> HelperState | None:
        """The successful build's result."""
        if self.ctx.result is None:
            return None
        refs = result_refs(self.ctx.result)
        ids = [r.id for r in refs.values() if r.id]
        return HelperState(self, StateSpec("build result", ids[0])) if ids else None

    # -- the failed step's diff ---------------------------------------------------------------
    def writable_mounts(self) -> list[tuple[str, str, str]]:
        """(label, initial id, final id) of the failed RUN's writable mounts, root first."""
        failure = self.ctx.solve_failure
        if failure is None or failure.exec is None:
            return []
        out = []
        for i, m in enumerate(failure.exec.mounts):
            if m.output < 0 or m.mountType != ops_pb2.BIND:
                continue
            initial = failure.input_ids[i] if i < len(failure.input_ids) else ""
            final = failure.mount_ids[i] if i < len(failure.mount_ids) else ""
            out.append((m.dest, initial, final))
        out.sort(key=lambda t: (t[0] != "/", t[0]))
        return out

    async def diffs(self) -> list[FsDiff]:
        """What the failed RUN changed in each writable mount (initial vs final)."""
        async with self._diff_lock:
            if self._diff is None:
                self._diff = await self._compute_diffs()
            return self._diff

    async def _diff_helper(self) -> tuple[HelperContainer, list[tuple[str, str, str]]]:
        mounts = self.writable_mounts()
        if not mounts:
            raise ExploreError("only a failed RUN step has a diff (its initial and final "
                               "states)")
        states: dict[str, str] = {}
        for i, (_, initial, final) in enumerate(mounts):
            states[f"i{i}"] = initial
            states[f"f{i}"] = final
        return await self.helper(states), mounts

    async def _compute_diffs(self) -> list[FsDiff]:
        helper, mounts = await self._diff_helper()
        out = []
        for i, (label, initial, final) in enumerate(mounts):
            before, after = await asyncio.gather(
                self.snapshot(initial, (helper, f"i{i}")), self.snapshot(final, (helper, f"f{i}")))
            same: dict[str, bool] = {}
            candidates = await asyncio.to_thread(content_candidates, before, after)
            if candidates:
                paths = [helper.path(f"i{i}", p) for p in candidates]
                paths += [helper.path(f"f{i}", p) for p in candidates]
                sums = await _tool(helper.checksums(paths))
                for p in candidates:
                    a = sums.get(helper.path(f"i{i}", p))
                    b = sums.get(helper.path(f"f{i}", p))
                    same[p] = a is not None and a == b
            out.append(await asyncio.to_thread(diff_snapshots, before, after, label, same))
        return out

    async def unified(self, label: str, path: str) -> list[str] | None:
        """``diff -u`` of one file of the failed RUN's mount ``label``."""
        helper, mounts = await self._diff_helper()
        index = next((i for i, m in enumerate(mounts) if m[0] == label), None)
        if index is None:
            raise ExploreError(f"no writable mount {label}")
        diff = next((d for d in await self.diffs() if d.label == label), None)
        change = diff.get(path) if diff is not None else None
        before: bytes | None = None
        after: bytes | None = None
        if change is None or change.before is not None:
            before = await _tool(helper.read(f"i{index}", path, 0, WHOLE_FILE_CAP))
        if change is None or change.after is not None:
            after = await _tool(helper.read(f"f{index}", path, 0, WHOLE_FILE_CAP))
        return await asyncio.to_thread(unified_diff, path, before, after)  # off the loop


def _root_index(ex: ops_pb2.ExecOp) -> int | None:
    for i, m in enumerate(ex.mounts):
        if m.dest == "/":
            return i
    return None


def _file_roles(op: ops_pb2.Op, action: ops_pb2.FileAction | None) -> dict[int, str]:
    """Input index -> role of the failing action: where it writes, what it copies from."""
    roles: dict[int, str] = {}
    actions: Sequence[ops_pb2.FileAction] = [action] if action is not None else \
        list(op.file.actions)
    for a in actions:
        if 0 <= a.input < len(op.inputs):
            roles.setdefault(a.input, "dest")
        if a.WhichOneof("action") == "copy" and 0 <= a.secondaryInput < len(op.inputs):
            roles.setdefault(a.secondaryInput, "src")
    return roles
