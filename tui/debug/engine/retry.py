"""Retry the failed RUN with an edited command, and write a command that worked back.

Each try runs in a fresh container of the failed step's *initial* state: the same mounts
(its root and bind inputs as they were before it ran, its cache mounts, secrets and SSH
sockets as the gateway gives them), user, environment, working directory, network mode,
extra hosts, hostname and secret environment variables.  What the gateway cannot give is
listed by :meth:`Retrier.notes`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tui.debug.engine.container import OutputFn
from tui.debug.engine.handle import ProcessHandle
from tui.debug.engine.result import ResultContext
from tui.debug.model.failure import FailureInfo, SourceSnippet
from tui.debug.model.invoke import InvokeConfig, InvokeError, spec_from_step
from tui.debug.model.retry import dockerfile_ranges, not_reproduced, prefill, retry_args
from tui.debug.model.state import StateKind
from tui.debug.model.writeback import Patch, WriteBackError, patch_run, read_run

__all__ = ["Retrier", "WriteBack"]


@dataclass(frozen=True)
class WriteBack:
    """A patch of the Dockerfile at ``path`` ready to be written."""

    path: Path
    patch: Patch
    #: The bytes the patch was made from (the file must still hold them when written).
    original: bytes


class Retrier:
    """The failed RUN of a kept-open build: run edited commands in its initial state."""

    def __init__(self, ctx: ResultContext, failure: FailureInfo, dockerfile: Path,
                 sources: Sequence[SourceSnippet] = ()) -> None:
        """``sources``: where the step is in the Dockerfile when the error does not say."""
        solve = ctx.solve_failure
        if solve is None or solve.exec is None:
            raise InvokeError("only a failed RUN step can be retried")
        self.ctx = ctx
        self.failure = failure
        self.exec = solve.exec
        self.dockerfile = dockerfile
        located = dockerfile_ranges(failure.sources or sources, dockerfile.name)
        self._source, self._ranges = located if located is not None else (b"", [])
        self.source_command: str | None = None
        #: Why the command cannot be written back ("" when it can).
        self.unwritable = ""
        if not self._ranges:
            self.unwritable = "the error does not say where in the Dockerfile the step is"
        else:
            first, last = self._ranges[0]
            try:
                self.source_command = read_run(self._source, first, last).command
            except WriteBackError as exc:
                self.unwritable = str(exc)

    @property
    def command(self) -> str:
        """The failing command, as the user starts editing it."""
        return prefill(self.exec.meta.args, self.source_command)

    def notes(self) -> list[str]:
        """What of the step the retry container cannot reproduce."""
        return not_reproduced(self.exec)

    async def run(self, cmd: str, on_output: OutputFn, rows: int = 24, cols: int = 80, *,
                  tty: bool = False) -> ProcessHandle:
        """Start ``cmd`` in a fresh initial-state container of the step (released at exit).

        Without a tty, stdin is closed at once (the command reads nothing).  Raises
        InvokeError (nothing to run) or ProcessError (it did not start).
        """
        if not cmd.strip():
            raise InvokeError("the command is empty")
        args = retry_args(self.exec.meta.args, self.source_command, cmd)
        cfg = InvokeConfig(cmd=args, state=StateKind.INITIAL, tty=tty)
        spec = dataclasses.replace(spec_from_step(self.exec.meta, cfg),
                                   secretenv=tuple(self.exec.secretenv))
        mounts, kwargs = self.ctx.container_request(cfg)
        _, proc = await self.ctx.start_in(mounts, spec, on_output, rows, cols, **kwargs)
        if not tty:
            await proc.close_stdin()
        return ProcessHandle(proc, rows, cols)

    async def plan(self, cmd: str) -> WriteBack:
        """The patch writing ``cmd`` back (raises WriteBackError saying why it cannot)."""
        if self.unwritable:
            raise WriteBackError(f"cannot write back: {self.unwritable}")
        try:
            current = await asyncio.to_thread(self.dockerfile.read_bytes)
        except OSError as exc:
            raise WriteBackError(f"cannot read {self.dockerfile}: {exc.strerror}") from None
        if current != self._source:
            raise WriteBackError(f"{self.dockerfile} changed since the build: rebuild first")
        patch = patch_run(current, self._ranges, cmd.strip(), self.dockerfile.name)
        return WriteBack(self.dockerfile, patch, current)

    async def write(self, plan: WriteBack) -> None:
        """Write the patched Dockerfile (atomically, its mode kept) if it did not change."""
        await asyncio.to_thread(_write, plan)


def _write(plan: WriteBack) -> None:
    path = plan.path
    if path.read_bytes() != plan.original:
        raise WriteBackError(f"{path} changed meanwhile: nothing written")
    mode = path.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(plan.patch.data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
