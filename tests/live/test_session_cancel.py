"""Cancelling around a DebugSession on the real daemon: never swallowed, the release bounded."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest

from tui.buildkit.address import parse_address
from tui.buildkit.client import BuildkitClient
from tui.debug.engine.options import BuildOptions
from tui.debug.engine.session import DebugSession
from tui.ui.run import DONE_TIMEOUT

pytestmark = [pytest.mark.daemon, pytest.mark.timeout(120)]


async def test_cancel_during_the_build_then_again_during_the_release(
    tmp_path: Path, docker_host: str, client: BuildkitClient
) -> None:
    token = secrets.token_hex(4)
    (tmp_path / "Dockerfile").write_text(f"FROM busybox:local\nRUN echo {token} && sleep 120\n")
    closing, proceed = asyncio.Event(), asyncio.Event()
    own: list[BuildkitClient] = []

    async def connect() -> BuildkitClient:
        c = await BuildkitClient.open(parse_address(docker_host, "docker", "test"))
        real_close = c.close

        async def held_close() -> None:  # the release's last step waits here
            closing.set()
            await proceed.wait()
            await real_close()

        c.close = held_close  # type: ignore[method-assign]
        own.append(c)
        return c

    before = set(await client.active_builds())
    session = DebugSession(BuildOptions(context=str(tmp_path)), connect)
    after_build: list[str] = []

    async def build_worker() -> None:  # the app's worker: post-build code after the wait
        await session.wait_finished()
        after_build.append("post-build code ran")

    worker = asyncio.create_task(build_worker())
    async with asyncio.timeout(60):
        while not (mine := set(await client.active_builds()) - before):  # noqa: ASYNC110
            await asyncio.sleep(0.1)  # polls the daemon
    worker.cancel()
    with pytest.raises(asyncio.CancelledError):
        await worker
    assert after_build == [] and not session.finished
    assert mine <= set(await client.active_builds())  # the build goes on until done()

    async def close_view() -> None:  # as run_app releases once the view has closed
        async with asyncio.timeout(DONE_TIMEOUT):
            await session.done()

    releaser = asyncio.create_task(close_view())
    async with asyncio.timeout(DONE_TIMEOUT):
        await closing.wait()  # the release is under way (the build already stopped)
    assert not releaser.done()
    releaser.cancel()  # a second cancel, during the release
    async with asyncio.timeout(DONE_TIMEOUT):  # ends at once, well within the bound
        with pytest.raises(asyncio.CancelledError):
            await releaser
    proceed.set()
    async with asyncio.timeout(DONE_TIMEOUT):
        await session.done()  # the release itself went on to its end
    assert own and own[0] is not client
    async with asyncio.timeout(15):
        while mine & set(await client.active_builds()):  # noqa: ASYNC110 - polls the daemon
            await asyncio.sleep(0.2)
