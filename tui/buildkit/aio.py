"""Awaiting a child task without swallowing the caller's own cancellation.

Suppressing CancelledError around ``await child`` cannot tell the child's cancellation (asked
for, expected) from the caller's (which must go on up: it is how a worker is stopped and how
a release is bounded).  The two functions here tell them apart by the caller's
``Task.cancelling()`` count: a cancellation that reached the caller while it waited is raised
again, even when the child finished or swallowed it; the child's own is absorbed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

__all__ = ["cancel_child", "wait_child"]

T = TypeVar("T")


async def wait_child(child: Awaitable[T], *expected: type[Exception]) -> T | None:
    """Await ``child``: its result, or None when it was cancelled or raised one of ``expected``.

    A cancellation of the calling task that arrives meanwhile is raised (never swallowed).
    ``child`` is a task, a future or ``asyncio.shield(...)`` of one.
    """
    me = asyncio.current_task()
    before = me.cancelling() if me is not None else 0
    result: T | None = None
    try:
        result = await child
    except asyncio.CancelledError:
        if me is not None and me.cancelling() > before:
            raise  # ours: the caller is being cancelled
    except expected:
        pass
    if me is not None and me.cancelling() > before:
        raise asyncio.CancelledError  # ours, although the child ended (or swallowed it)
    return result


async def cancel_child(child: asyncio.Future[Any], *expected: type[Exception]) -> None:
    """Cancel ``child`` and wait for its end (its cancellation and ``expected`` errors absorbed).

    A cancellation of the calling task that arrives meanwhile is raised (never swallowed).
    """
    child.cancel()
    await wait_child(child, *expected)
