"""--watch on the real daemon: a change of a context file rebuilds, an ignored one does not."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
from pathlib import Path

import pytest
from conftest import bxtui_binary
from ptyterm import PtyRun

from tui.buildkit.address import parse_address
from tui.buildkit.client import BuildkitClient
from tui.debug.engine.options import BuildOptions
from tui.debug.engine.session import DebugSession
from tui.debug.model.outcome import Failed, Succeeded

pytestmark = [pytest.mark.daemon, pytest.mark.timeout(120)]

DOCKERFILE = (
    "FROM busybox:local\n"
    "COPY answer.txt /answer.txt\n"
    'RUN echo {token} && test "$(cat /answer.txt)" = good\n'
)


async def test_watch_rebuilds_after_a_context_file_changes(
    tmp_path: Path, docker_host: str
) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE.format(token=secrets.token_hex(6)))
    (tmp_path / ".dockerignore").write_text("scratch/\n")
    (tmp_path / "scratch").mkdir()
    answer = tmp_path / "answer.txt"
    answer.write_text("bad\n")

    async def connect() -> BuildkitClient:
        return await BuildkitClient.open(parse_address(docker_host, "docker", "test"))

    session = DebugSession(BuildOptions(context=str(tmp_path)), connect)
    watcher = session.watcher(debounce=0.1)
    try:
        assert isinstance(await session.wait_finished(), Failed)
        async with contextlib.aclosing(watcher.changes()) as changes:
            first = asyncio.ensure_future(anext(changes))
            await asyncio.wait_for(watcher.watching.wait(), 10)
            # ignored first, then a real file: the one event holds only the real one
            (tmp_path / "scratch" / "notes.txt").write_text("ignored\n")
            answer.write_text("good\n")
            change = await asyncio.wait_for(first, 10)
            assert change.paths == (str(answer.resolve()),)
            await session.reload()
            assert isinstance(await session.wait_finished(), Succeeded)
    finally:
        await session.done()


def test_headless_watch_rebuilds_until_interrupted(tmp_path: Path, docker_host: str) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE.format(token=secrets.token_hex(6)))
    (tmp_path / ".dockerignore").write_text("scratch/\n")
    (tmp_path / "scratch").mkdir()
    (tmp_path / "answer.txt").write_text("bad\n")
    env = dict(os.environ, DOCKER_HOST=docker_host, TERM="xterm")
    run = PtyRun([bxtui_binary(), "build", "--progress=plain", "--watch", str(tmp_path)], env)
    try:
        run.expect(r"ERROR[\s\S]*watching .* for changes")
        # ignored first, then a real file: one rebuild, naming only the real one, succeeds
        (tmp_path / "scratch" / "notes.txt").write_text("ignored\n")
        (tmp_path / "answer.txt").write_text("good\n")
        done = run.expect(r"files changed: (.*): rebuilding\r?\n([\s\S]*?)watching .* for")
        assert done.group(1) == "answer.txt"
        assert "ERROR" not in done.group(2) and "DONE" in done.group(2)
        assert run.text.count("rebuilding") == 1
        os.kill(run.proc.pid, signal.SIGINT)
        assert run.wait_exit(timeout=30) == 128 + signal.SIGINT
        assert "Traceback" not in run.text
    finally:
        run.close()
