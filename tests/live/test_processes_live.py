"""Several shells on the real daemon: exec a second process into a shell's container, list, end."""

from __future__ import annotations

import asyncio
import re
import secrets
from pathlib import Path

import pytest

from tui.buildkit.address import parse_address
from tui.buildkit.client import BuildkitClient
from tui.debug.engine.facade import OpenError
from tui.debug.engine.options import BuildOptions
from tui.debug.engine.processes import Role
from tui.debug.engine.session import DebugSession
from tui.debug.engine.shell import Shell
from tui.debug.model.outcome import Failed, StateKind

pytestmark = [pytest.mark.daemon, pytest.mark.timeout(120)]


class Screen:
    """A shell's output, waited on by content."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.changed = asyncio.Event()

    def __call__(self, _fd: int, data: bytes) -> None:
        self.data += data
        self.changed.set()

    async def wait_for(self, needle: bytes, limit: float = 30) -> None:
        async with asyncio.timeout(limit):
            while needle not in self.data:
                self.changed.clear()
                await self.changed.wait()


async def test_exec_sees_the_first_shells_files_and_ps_ends_it(
    tmp_path: Path, docker_host: str
) -> None:
    token = secrets.token_hex(4)
    (tmp_path / "Dockerfile").write_text(
        f"FROM busybox:local\nRUN echo {token} > /made && exit 3\n")

    async def connect() -> BuildkitClient:
        return await BuildkitClient.open(parse_address(docker_host, "docker", "test"))

    session = DebugSession(BuildOptions(context=str(tmp_path)), connect)
    try:
        assert isinstance(await session.wait_finished(), Failed)
        first_out = Screen()
        first = await session.open_shell(StateKind.FINAL, 24, 80, first_out)
        first.send(f"echo {token}-one > /tmp/shared; echo written-$((1+1))\n".encode())
        await first_out.wait_for(b"written-2")

        second_out = Screen()
        second = await session.exec_shell(first, 24, 80, second_out)
        second.send(b"cat /tmp/shared /made\n")
        await second_out.wait_for(f"{token}-one".encode())
        await second_out.wait_for(token.encode())

        rows = session.process_list()
        assert [(r.pid, r.role, r.running) for r in rows] == \
            [("1", Role.INIT, True), ("2", Role.EXEC, True)]
        assert rows[0].container == rows[1].container and rows[1].command == "/bin/sh"
        assert rows[1].label.startswith("exec in #1")
        assert session.processes.siblings("2") == ["1"]

        # the exec'd process sees the first one's processes (one pid namespace)
        second.send(b"ps -o pid,args; echo listed-$((4+4))\n")
        await second_out.wait_for(b"listed-8")
        listed = second_out.data.decode().rsplit("PID", 1)[1]
        assert len(re.findall(r"^ *\d+ /bin/sh\r?$", listed, re.M)) == 2, listed

        assert await session.end_process("2")
        async with asyncio.timeout(30):
            code = await second.wait()
        assert code != 0
        assert not session.process_list()[1].running
        assert not await session.end_process("2")  # already ended
        assert not await session.end_process("9")  # unknown
        # BuildKit ends a container's processes together when one ends in error (a kill)
        async with asyncio.timeout(30):
            assert await first.wait() == 137
        assert [r.running for r in session.process_list()] == [False, False]
    finally:
        async with asyncio.timeout(60):
            await session.done()


async def test_exec_into_an_ended_shell_says_why(tmp_path: Path, docker_host: str) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox:local\nRUN exit 4\n")

    async def connect() -> BuildkitClient:
        return await BuildkitClient.open(parse_address(docker_host, "docker", "test"))

    session = DebugSession(BuildOptions(context=str(tmp_path)), connect)
    try:
        await session.wait_finished()
        first: Shell = await session.open_shell(StateKind.FINAL, 24, 80, Screen())
        first.send(b"exit 0\n")
        async with asyncio.timeout(30):
            assert await first.wait() == 0
        with pytest.raises(OpenError, match="container has ended"):
            await session.exec_shell(first, 24, 80, Screen())
        assert [r.running for r in session.process_list()] == [False]
    finally:
        async with asyncio.timeout(60):
            await session.done()
