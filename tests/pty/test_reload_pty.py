"""``r`` in the real app in a real PTY: fix the failing line, reload, the build succeeds."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLES, active_builds, bxtui_binary, wait_until
from ptyscreen import PtyScreen

pytestmark = [pytest.mark.daemon, pytest.mark.timeout(150)]

CHORD = b"\x1d"  # ctrl+]
PROMPT = r"/work # "


def test_reload_after_fixing_the_failing_line(docker_host: str, tmp_path: Path) -> None:
    context = tmp_path / "fail-run"
    shutil.copytree(EXAMPLES / "fail-run", context)
    dockerfile = context / "Dockerfile"
    before = active_builds(docker_host)
    env = dict(os.environ, DOCKER_HOST=docker_host, TERM="xterm-256color")
    run = PtyScreen([bxtui_binary(), "build", str(context)], env, rows=40, cols=140)
    try:
        run.wait_for(r"exit code 3")
        first = active_builds(docker_host) - before
        assert first, "the failed build is kept open"
        run.send("f")
        run.wait_for(PROMPT, timeout=30)
        run.send(CHORD)
        run.wait_for(r"q Quit")
        # the fix: the failing test command of line 6 no longer fails
        text = dockerfile.read_text()
        assert "sh app.sh test" in text.splitlines()[5]
        # a unique command: it cannot come from the cache of an earlier run
        fix = f"echo fixed-{secrets.token_hex(6)}"
        dockerfile.write_text(text.replace("sh app.sh test", fix))
        run.send("r")
        run.wait_for(r"previous build's shells ended")
        run.wait_for(r"Build succeeded", timeout=60)
        run.wait_for(r"Dockerfile since the last build: line 6 changed")
        screen = run.text()
        assert "CACHED" in screen  # the unchanged steps came from the cache
        assert "NEW" in screen  # the edited RUN ran for the first time
        # the previous build was released on the daemon
        assert wait_until(lambda: not (first & active_builds(docker_host)), timeout=20)
        run.send("q")
        assert run.wait_exit(timeout=30) == 0
    finally:
        run.close()
