"""The cancellation helper: the child's cancellation is absorbed, the caller's goes on."""

from __future__ import annotations

import asyncio

import pytest

from tui.buildkit.aio import cancel_child, wait_child

pytestmark = pytest.mark.timeout(30)


async def _forever(started: asyncio.Event) -> None:
    started.set()
    await asyncio.Event().wait()


async def test_cancel_child_absorbs_the_childs_cancellation() -> None:
    started = asyncio.Event()
    child = asyncio.create_task(_forever(started))
    await started.wait()
    await cancel_child(child)  # no CancelledError here: we asked for it
    assert child.cancelled()


async def test_the_callers_cancellation_goes_through() -> None:
    started, waiting = asyncio.Event(), asyncio.Event()
    after: list[str] = []

    async def caller() -> None:
        child = asyncio.create_task(_forever(started))
        await started.wait()
        waiting.set()
        await wait_child(child)
        after.append("ran on")  # must not run: the caller was cancelled

    task = asyncio.create_task(caller())
    await waiting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert after == []


async def test_a_child_swallowing_the_callers_cancel_does_not_hide_it() -> None:
    started, waiting, child_saw = asyncio.Event(), asyncio.Event(), asyncio.Event()
    after: list[str] = []

    async def stubborn() -> str:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            child_saw.set()
        return "finished anyway"

    async def caller() -> None:
        child = asyncio.create_task(stubborn())
        await started.wait()
        waiting.set()
        await wait_child(child)
        after.append("ran on")

    task = asyncio.create_task(caller())
    await waiting.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert child_saw.is_set() and after == []


async def test_cleanup_while_being_cancelled_runs_to_its_end() -> None:
    """In a ``finally`` of a cancelled task, cancelling children does not cut the cleanup."""
    started, waiting = asyncio.Event(), asyncio.Event()
    cleaned: list[int] = []

    async def caller() -> None:
        children = [asyncio.create_task(_forever(asyncio.Event())) for _ in range(3)]
        try:
            started.set()
            await waiting.wait()
        finally:
            for n, child in enumerate(children):
                await cancel_child(child)
                cleaned.append(n)

    task = asyncio.create_task(caller())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert cleaned == [0, 1, 2]


async def test_expected_errors_are_absorbed_others_raised() -> None:
    async def fails(exc: Exception) -> None:
        raise exc

    assert await wait_child(asyncio.create_task(fails(KeyError("x"))), KeyError) is None
    with pytest.raises(ValueError):
        await wait_child(asyncio.create_task(fails(ValueError("y"))), KeyError)


async def test_result_and_shield_of_a_task_cancelled_elsewhere() -> None:
    async def value() -> int:
        return 7

    assert await wait_child(asyncio.create_task(value())) == 7
    started = asyncio.Event()
    build = asyncio.create_task(_forever(started))
    await started.wait()
    waiter = asyncio.create_task(wait_child(asyncio.shield(build)))
    build.cancel()  # someone else (a release) stopped the build: the waiter just returns
    assert await waiter is None
