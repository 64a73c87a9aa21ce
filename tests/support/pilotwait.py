"""Waiting in pilot tests: on a condition, with a deadline, never a bare sleep."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from textual.pilot import Pilot


async def wait_for(pilot: Pilot[None], cond: Callable[[], bool], limit: float = 5.0) -> None:
    """Let the app run until ``cond()`` holds; fail after ``limit`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not cond():
        assert loop.time() < deadline, "condition not reached"
        await pilot.pause(0.01)
