"""Copy a file or directory of any build state to the host (``o`` in the app, ``--copy-out``).

Transport: a ``tar`` stream from a toolbox helper container where the state is mounted
read-only (:mod:`tui.debug.engine.helper`).  It is the one way that reads every state on
every daemon: the failed step's final and initial states exist only as container mounts
(the gateway's ReadFile/ReadDir do not accept them, and the container file RPCs need
BuildKit >= 0.27), and one stream keeps modes, links and hard links in one round trip
instead of a ReadDir/StatFile/ReadFile call per path (each reply one gRPC message).

The path is first resolved inside the state by probing its prefixes (links in its
directories are followed as the state's own shell would, ``..`` or a link leading out of
the state is refused); the last component is never followed.  The stream is written by
:func:`tui.debug.engine.untar.write_tree` in a thread, with flow control on the process's
output, and put in place only when ``tar`` succeeded.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import posixpath
import queue

from tui.buildkit.errors import BuildError
from tui.debug.engine.helper import HelperContainer, ToolError
from tui.debug.engine.untar import ChunkPipe, CopyReport, UntarError, write_tree
from tui.debug.model.copyspec import Kind, PathError, resolve_steps

__all__ = ["CopyError", "copy_state_path"]

#: Output bytes queued for the writer before the process's stream is held.
HIGH_WATER = 8 << 20
LOW_WATER = 2 << 20

_PROBE = r'''r=$1; shift
for p; do f="$r/$p"
  if [ -L "$f" ]; then printf 'L%s\n' "$(readlink "$f")"
  elif [ -d "$f" ]; then echo D
  elif [ -e "$f" ]; then echo F
  else echo -; fi
done'''


class CopyError(RuntimeError):
    """A path could not be copied out (one line)."""


async def _probe(helper: HelperContainer, key: str, paths: list[str]) -> list[tuple[Kind, str]]:
    res = await helper.run(["sh", "-c", _PROBE, "probe", helper.path(key), *paths])
    lines = res.out.decode("utf-8", "surrogateescape").split("\n")[:-1]
    if res.code != 0 or len(lines) != len(paths):
        err = res.err.decode("utf-8", "replace").strip()
        raise CopyError(f"the state could not be probed: {err or res.error or res.code}")
    return [(Kind(line[:1]), line[1:]) for line in lines]


async def resolve(helper: HelperContainer, key: str, path: str) -> tuple[str, Kind]:
    """``path`` resolved inside the state ``key`` (relative to its root) and its kind."""
    try:
        steps = resolve_steps(path)
        while steps.result is None:
            steps.answer(await _probe(helper, key, steps.pending()))
    except PathError as exc:
        raise CopyError(str(exc)) from None
    return steps.result


async def copy_state_path(helper: HelperContainer, key: str, path: str, dest: str,
                          overwrite: bool = False) -> CopyReport:
    """Copy ``path`` of the state mounted as ``key`` in ``helper`` to the host path ``dest``."""
    if not overwrite and await asyncio.to_thread(os.path.lexists, dest):
        raise CopyError(f"{dest} already exists (not overwritten)")
    try:
        rel, _ = await resolve(helper, key, path)
        return await _stream(helper, key, rel, dest, overwrite)
    except ToolError as exc:
        raise CopyError(str(exc)) from None
    except BuildError as exc:
        raise CopyError(exc.message) from None


async def _stream(helper: HelperContainer, key: str, rel: str, dest: str,
                  overwrite: bool) -> CopyReport:
    loop = asyncio.get_running_loop()
    space = asyncio.Event()
    space.set()

    def on_read(queued: int) -> None:  # in the writer's thread
        if queued < LOW_WATER:
            loop.call_soon_threadsafe(space.set)

    pipe = ChunkPipe(on_read)
    decision: queue.Queue[bool] = queue.Queue()
    err = bytearray()
    top = posixpath.basename(rel) or "."
    writer = asyncio.ensure_future(asyncio.to_thread(write_tree, pipe, top, dest, overwrite,
                                                     decision.get))
    writer.add_done_callback(lambda _: space.set())

    def sink(fd: int, data: bytes) -> None:
        if fd != 1:
            err.extend(data[:4096])
        elif not writer.done():
            pipe.feed(data)
            if pipe.queued > HIGH_WATER:
                space.clear()

    async def drain() -> None:
        await space.wait()

    parent = posixpath.dirname(rel)
    args = ["tar", "-C", helper.path(key, parent), "-cf", "-", f"./{top}" if rel else "."]
    decided = False
    try:
        proc = await helper.spawn(args, sink, drain)
        waiter = asyncio.ensure_future(proc.wait())
        try:
            await asyncio.wait({waiter, writer}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped = not waiter.done()  # the writer gave up first: its error is the cause
            if stopped:
                await proc.abort()
            waiter.cancel()
        code = proc.exit_code
        pipe.end()
        ok = code == 0 and not writer.done()
        decision.put(ok)
        decided = True
        try:
            report = await writer
        except UntarError as exc:
            if code not in (0, None) and not stopped:
                raise CopyError(_tar_error(err, proc.error)) from None
            raise CopyError(str(exc)) from None
        if not ok:
            raise CopyError(_tar_error(err, proc.error))
        return report
    finally:
        pipe.end()
        if not decided:
            decision.put(False)
        if not writer.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(writer)


def _tar_error(err: bytearray, error: str | None) -> str:
    text = err.decode("utf-8", "replace").strip()
    line = text.splitlines()[0] if text else (error or "tar failed")
    return f"reading the state failed: {line}"
