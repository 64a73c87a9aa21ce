"""Reload on the real daemon: the previous build is released, the new one compared with it."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from tui.buildkit.address import parse_address
from tui.buildkit.client import BuildkitClient
from tui.debug.engine.options import BuildOptions
from tui.debug.engine.session import DebugSession
from tui.debug.model.outcome import Failed, StateKind, Succeeded
from tui.debug.model.reload import StepChange

pytestmark = [pytest.mark.daemon, pytest.mark.timeout(120)]

DOCKERFILE = (
    "FROM busybox:local\n"
    "RUN echo prepare-{token} > /prepared\n"
    "RUN echo {token} && {cmd}\n"
    "RUN echo after-{token} > /after\n"
)


async def test_reload_after_fixing_the_dockerfile(
    tmp_path: Path, docker_host: str, client: BuildkitClient
) -> None:
    token = secrets.token_hex(6)
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(DOCKERFILE.format(token=token, cmd="exit 3"))

    async def connect() -> BuildkitClient:
        return await BuildkitClient.open(parse_address(docker_host, "docker", "test"))

    session = DebugSession(BuildOptions(context=str(tmp_path)), connect)
    try:
        first = await session.wait_finished()
        assert isinstance(first, Failed), first
        assert session.dockerfile_changes() is None  # nothing to compare the first build with
        shell = await session.open_shell(StateKind.FINAL, 24, 80, lambda _fd, _d: None)
        old_ref = session._kept.ctx.gateway.build_ref  # type: ignore[union-attr]
        assert old_ref in await client.active_builds()

        dockerfile.write_text(DOCKERFILE.format(token=token, cmd="true"))
        await session.reload()
        # released first: the shell ended, the daemon-side build is gone
        assert shell.finished
        assert old_ref not in await client.active_builds()
        second = await session.wait_finished()
        assert isinstance(second, Succeeded), second

        changes = session.dockerfile_changes()
        assert changes is not None and changes.changed == (3,) and changes.removed == 0
        by_line = {}
        for v in session.graph:
            if v.source is not None and v.source.ranges:
                by_line[v.source.ranges[0].start_line] = session.step_change(v.digest)
        assert by_line[2] is StepChange.CACHED  # unchanged: from the cache
        assert by_line[3] is StepChange.NEW  # the edited line
        assert by_line[4] is StepChange.NEW  # the first build stopped before it: never ran

        dockerfile.write_text(DOCKERFILE.format(token=token, cmd="true 2"))
        await session.reload()
        assert isinstance(await session.wait_finished(), Succeeded)
        step4 = next(v for v in session.graph if v.source is not None
                     and v.source.ranges and v.source.ranges[0].start_line == 4)
        assert session.step_change(step4.digest) is StepChange.RERAN  # new parent: ran again
    finally:
        await session.done()
