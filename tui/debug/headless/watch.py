"""Headless ``--watch``: build, then build again each time the files change, until stopped.

Each build is a plain headless run (its progress, ``--invoke`` shell and all); the changes
made meanwhile, including while a shell runs, rebuild once it has ended.  SIGINT ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import TextIO

from tui.buildkit.aio import cancel_child
from tui.debug.engine.options import BuildOptions
from tui.debug.engine.watch import ChangedFiles, Watcher, WatchError

__all__ = ["run_watching"]


async def run_watching(opts: BuildOptions, build: Callable[[], Awaitable[int]],
                       out: TextIO) -> int:
    """Run ``build`` now and after each change of what it reads, until cancelled.

    Returns 1 (after one ``ERROR:`` line) only when the files can no longer be watched.
    """
    watcher = Watcher(opts)
    async with contextlib.aclosing(watcher.changes()) as changes:
        nxt: asyncio.Future[ChangedFiles] = asyncio.ensure_future(anext(changes))
        try:
            while True:
                await build()
                out.write(f"watching {opts.context} for changes (ctrl-c stops)\n")
                out.flush()
                try:
                    change = await nxt
                except WatchError as exc:
                    out.write(f"ERROR: {exc}\n")
                    return 1
                nxt = asyncio.ensure_future(anext(changes))
                out.write(f"\nfiles changed: {change.describe(watcher.filter.context)}: "
                          "rebuilding\n")
        finally:
            await cancel_child(nxt)
