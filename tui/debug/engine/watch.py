"""``--watch``: which file changes concern a build, and a debounced stream of them.

:class:`ContextFilter` decides whether a changed host path is part of what the build reads:
the Dockerfile, its ignore file, or a file of the context that ``.dockerignore`` lets through
(the same pattern matcher the context upload uses).  :class:`Watcher` watches the context
(and the Dockerfile's directory when it lies outside, filtered to the Dockerfile: editors
save by renaming, which ends a watch of the file itself) through inotify (watchfiles), and
yields one :class:`ChangedFiles` once no relevant change has come for ``debounce`` seconds.

watchfiles' synchronous ``watch`` runs in a default-executor thread with a ``threading.Event``
to stop it: ``awatch`` would hold an AnyIO worker thread for 10 s after the end, and its
cancellation waits for the Rust timeout unless told to stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import AsyncGenerator, Iterable
from dataclasses import dataclass

from tui.buildkit.aio import cancel_child
from tui.buildkit.debuglog import LOG
from tui.buildkit.fsync.patterns import PatternError, PatternMatcher
from tui.debug.engine.options import BuildOptions

__all__ = ["DEBOUNCE", "ChangedFiles", "ContextFilter", "WatchError", "Watcher",
           "read_ignore_patterns"]

#: Quiet time after the last relevant change before a rebuild (seconds).
DEBOUNCE = 0.3
#: How often the watching thread looks at its stop event (milliseconds).
_STEP_MS = 50
#: Longest wait of the watching thread before it returns (milliseconds): its first return
#: says the watch is in place (:attr:`Watcher.watching`).
_TIMEOUT_MS = 200
_BOM = "\ufeff"


def read_ignore_patterns(text: str) -> list[str]:
    """The patterns of a ``.dockerignore`` file's text, as the Dockerfile frontend reads them.

    A BOM is dropped; lines starting with ``#`` are comments; each line is trimmed, cleaned
    like a path, and loses a leading ``/``; ``!`` keeps marking an exception.
    """
    from tui.buildkit.fsync.patterns import go_clean

    out: list[str] = []
    for n, raw in enumerate(text.splitlines()):
        line = raw.removeprefix(_BOM) if n == 0 else raw
        if line.startswith("#"):
            continue
        line = line.strip()
        if not line:
            continue
        invert = line.startswith("!")
        if invert:
            line = line[1:].strip()
        if line:
            line = go_clean(line)
            if len(line) > 1 and line.startswith("/"):
                line = line[1:]
        out.append("!" + line if invert else line)
    return out


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


class ContextFilter:
    """Whether a changed host path is read by the build of ``opts``.

    The Dockerfile and its ignore files always count; a path of the context counts unless
    the ignore rules (read anew by :meth:`refresh`) leave it out.  Paths are absolute.
    """

    def __init__(self, opts: BuildOptions) -> None:
        self.context = os.path.realpath(opts.context)
        folder = os.path.realpath(opts.dockerfile_dir)
        self.dockerfile = os.path.join(folder, opts.dockerfile_name)
        #: The Dockerfile's own ignore file first (it replaces ``.dockerignore`` when present).
        self.ignore_files = (self.dockerfile + ".dockerignore",
                             os.path.join(self.context, ".dockerignore"))
        self._matcher: PatternMatcher | None = None
        self.refresh()

    @property
    def roots(self) -> list[tuple[str, bool]]:
        """The directories to watch and whether recursively (the context; the Dockerfile's)."""
        folder = os.path.dirname(self.dockerfile)
        out = [(self.context, True)]
        if not _under(folder, self.context):
            out.append((folder, False))
        return out

    def refresh(self) -> None:
        """Read the ignore rules again (an unreadable or malformed file: nothing ignored)."""
        self._matcher = None
        for path in self.ignore_files:
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    patterns = read_ignore_patterns(f.read())
            except OSError:
                continue
            try:
                self._matcher = PatternMatcher(patterns) if patterns else None
            except PatternError as exc:
                LOG.debug("watch: %s: %s (nothing ignored)", path, exc)
            return

    def is_ignore_file(self, path: str) -> bool:
        """Whether ``path`` is one of the ignore files (a change re-reads the rules)."""
        return path in self.ignore_files

    def __call__(self, path: str) -> bool:
        """Whether a change of ``path`` concerns the build."""
        if path == self.dockerfile or path in self.ignore_files:
            return True
        if not _under(path, self.context) or path == self.context:
            return False
        rel = os.path.relpath(path, self.context)
        if self._matcher is None:
            return True
        try:
            return not self._matcher.matches(rel)
        except PatternError:
            return True  # the frontend refuses such a pattern: the rebuild will say so


class WatchError(Exception):
    """The files can no longer be watched (one line: the directory and the reason)."""


def _paths(item: set[str] | WatchError) -> set[str]:
    if isinstance(item, WatchError):
        raise item
    return item


@dataclass(frozen=True)
class ChangedFiles:
    """The relevant paths that changed since the last rebuild (absolute, sorted)."""

    paths: tuple[str, ...]

    def describe(self, root: str, limit: int = 3) -> str:
        """The first few paths relative to ``root`` and how many more."""
        rels = [os.path.relpath(p, root) if _under(p, root) else p for p in self.paths]
        more = len(rels) - limit
        return ", ".join(rels[:limit]) + (f" (+{more})" if more > 0 else "")


class Watcher:
    """Debounced changes of what a build reads, as an async iterator (:meth:`changes`)."""

    def __init__(self, opts: BuildOptions, debounce: float = DEBOUNCE) -> None:
        self.filter = ContextFilter(opts)
        self.debounce = debounce
        #: Set once every directory is watched (changes from then on are seen).
        self.watching = asyncio.Event()
        self._waiting = 0
        self._queue: asyncio.Queue[set[str] | WatchError] = asyncio.Queue()

    async def changes(self) -> AsyncGenerator[ChangedFiles]:
        """Each batch of relevant changes once ``debounce`` s passed without another.

        Watching starts with the first ``anext`` (:attr:`watching` is set once it is in place)
        and ends when the iterator is closed or its consumer cancelled.
        """
        queue = self._queue
        stop = threading.Event()
        roots = self.filter.roots
        self._waiting = len(roots)
        pumps = [asyncio.create_task(self._pump(root, recursive, queue, stop))
                 for root, recursive in roots]
        try:
            while True:
                got = _paths(await queue.get())
                while True:
                    try:
                        got |= _paths(await asyncio.wait_for(queue.get(), self.debounce))
                    except TimeoutError:
                        break
                yield ChangedFiles(tuple(sorted(got)))
        finally:
            stop.set()
            for task in pumps:
                await cancel_child(task)

    def discard_pending(self) -> None:
        """Forget the changes not yielded yet (a rebuild starting now reads them anyway)."""
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if isinstance(item, WatchError):
                self._queue.put_nowait(item)  # said at the next anext
                return

    async def _pump(self, root: str, recursive: bool, queue: asyncio.Queue[set[str] | WatchError],
                    stop: threading.Event) -> None:
        """Watch ``root`` in a thread; put the relevant paths of each batch on ``queue``."""
        loop = asyncio.get_running_loop()

        def put(paths: Iterable[str]) -> None:
            flt = self.filter
            raw = set(paths)
            if any(flt.is_ignore_file(p) for p in raw):
                flt.refresh()
            relevant = {p for p in raw if flt(p)}
            LOG.debug("watch: %d change(s), %d relevant", len(raw), len(relevant))
            if relevant:
                queue.put_nowait(relevant)

        def started() -> None:
            self._waiting -= 1
            if self._waiting == 0:
                self.watching.set()

        def run() -> None:
            from watchfiles import watch

            gen = watch(root, watch_filter=None, debounce=int(self.debounce * 1000),
                        step=_STEP_MS, stop_event=stop, rust_timeout=_TIMEOUT_MS,
                        yield_on_timeout=True, recursive=recursive)
            with contextlib.closing(gen):
                first = True
                for batch in gen:
                    if first:
                        loop.call_soon_threadsafe(started)
                        first = False
                    if batch:
                        loop.call_soon_threadsafe(put, [p for _, p in batch])

        thread = asyncio.ensure_future(asyncio.to_thread(run))
        try:
            await asyncio.shield(thread)
        except Exception as exc:  # inotify limits, a vanished root: said once
            queue.put_nowait(WatchError(f"cannot watch {root}: {exc}"))
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.shield(thread)  # the thread ends within a step
