"""What tests leave behind: asyncio tasks on the shared loop, non-daemon threads, files.

pytest-asyncio runs one event loop for the whole session, so a task a test forgot keeps
running during the tests after it.  :func:`settle_tasks` gives the tasks a test started a
bounded chance to finish (``asyncio.wait`` with a timeout, never a sleep), then cancels the
ones still pending so later tests start clean, and returns them for the failure message.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any

#: How long tasks and threads a test started may take to finish after it.
GRACE = 2.0


def other_tasks() -> set[asyncio.Task[object]]:
    """The loop's unfinished tasks except the calling one."""
    return asyncio.all_tasks() - {asyncio.current_task()}


async def settle_tasks(
    before: Collection[asyncio.Task[object]], grace: float = GRACE
) -> list[str]:
    """Tasks started since ``before`` still pending after ``grace`` seconds, described.

    Those are cancelled (and given ``grace`` again to unwind) so the next test starts clean.
    """
    started = other_tasks() - set(before)
    if not started:
        return []
    _, pending = await asyncio.wait(started, timeout=grace)
    if not pending:
        return []
    found = sorted(describe_task(t) for t in pending)
    for task in pending:
        task.cancel()
    _, stuck = await asyncio.wait(pending, timeout=grace)
    found += [f"{describe_task(t)} (ignored its cancellation)" for t in stuck]
    return found


def non_daemon_threads() -> set[threading.Thread]:
    """Live non-daemon threads except the main one and the loops' default executors.

    The shared loop's default executor (threads ``asyncio_N``) outlives every test on
    purpose: ``asyncio.to_thread`` reuses its idle workers.
    """
    return {
        t for t in threading.enumerate()
        if not t.daemon and t is not threading.main_thread()
        and not t.name.startswith("asyncio_")
    }


def settle_threads(
    before: Collection[threading.Thread], grace: float = GRACE
) -> list[str]:
    """Non-daemon threads started since ``before`` still alive after ``grace`` seconds."""
    started = non_daemon_threads() - set(before)
    deadline = time.monotonic() + grace
    for t in started:
        t.join(max(0.0, deadline - time.monotonic()))
    return sorted(f"thread {t.name}" for t in started if t.is_alive())


def describe_task(task: asyncio.Task[object]) -> str:
    """The task's name, its coroutine and the innermost line it waits at."""
    coro: Any = task.get_coro()
    where = ""
    while coro is not None and getattr(coro, "cr_frame", None) is not None:
        where = f" waiting at {coro.cr_frame.f_code.co_filename}:{coro.cr_frame.f_lineno}"
        coro = getattr(coro, "cr_await", None)
    return f"task {task.get_name()}: {task.get_coro()!r}{where}"


#: Folders whose contents tools own (caches, the virtualenv, builds, benchmark output) and
#: the stored snapshots (``--snapshot-update`` adds new ones).
NOT_STRAY = {".git", ".venv", "__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache",
             ".hypothesis", "build", "dist", "bench/out", "tests/ui/snapshots"}


def repo_files(root: Path) -> set[Path]:
    """Files under ``root`` outside :data:`NOT_STRAY`: compared before and after a run, what
    the tests wrote into the checkout."""
    found: set[Path] = set()
    for folder, dirs, files in os.walk(root):
        rel = Path(folder).relative_to(root)
        dirs[:] = [d for d in dirs if d not in NOT_STRAY and not d.endswith(".egg-info")
                   and (rel / d).as_posix() not in NOT_STRAY]
        found.update(Path(folder, f) for f in files)
    return found
