"""The debug loop in the real app, in a real PTY, on the real daemon.

- A breakpoint moves with its Dockerfile line across ``r``; ``space`` after the build marks
  a step for the next one; while paused, s/b/d open nothing (the build runs); ``f`` pressed
  while a reload is in flight starts no shell.
- Retry → write back → reload: a failing demo-like build is fixed without leaving the app,
  and the rebuild succeeds with the unchanged steps cached.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLES, bxtui_binary
from ptyscreen import PtyScreen
from stepfiles import four_steps

pytestmark = [pytest.mark.daemon, pytest.mark.timeout(150)]

FAILING = 'echo "partial output" > /work/partial.txt && sh app.sh test'


def _env(docker_host: str) -> dict[str, str]:
    return dict(os.environ, DOCKER_HOST=docker_host, TERM="xterm-256color")


def test_breakpoint_follows_its_line_across_reload(docker_host: str, tmp_path: Path) -> None:
    token = secrets.token_hex(6)
    dockerfile = four_steps(tmp_path, token)
    run = PtyScreen([bxtui_binary(), "build", "--break", "3", str(tmp_path)], _env(docker_host),
                    rows=40, cols=140)
    try:
        run.wait_for(r"paused before \[3/4\] RUN touch /file")
        run.wait_for(r"(?m)^ f Final .*c Continue")
        # s/b/d need a finished build: while paused they open nothing, the pause stays
        run.send("sbd")
        run.send("n")  # a key after them: once its effect shows, they were handled
        run.wait_for(r"paused after \[3/4\] RUN touch /file")
        screen = run.text()
        assert "Nothing to browse" not in screen and "No diff" not in screen
        assert "shell:" not in screen and "Files" not in screen.splitlines()[1]
        run.send("c")
        run.wait_for(r"SUCCEEDED")
        # space after the build: too late for it, the next build pauses there
        run.select_row(r"2/4 RUN echo")
        run.send(" ")
        run.wait_for(r"● .*2/4 RUN echo")
        run.wait_for(r"Breakpoint for the next build")
        # a line inserted above the breakpoints' steps: the reload pauses before them again
        dockerfile.write_text(dockerfile.read_text().replace(
            "RUN touch /file\n", f"RUN echo {token} > /inserted\nRUN touch /file\n"))
        run.send("rf")  # f while the reload is in flight: no shell on the released build
        run.wait_for(r"paused before \[2/5\] RUN echo", timeout=60)
        run.wait_for(r"(?m)^ f Final .*c Continue")
        assert "shell:" not in run.text()
        run.send("c")
        run.wait_for(r"paused before \[4/5\] RUN touch /file", timeout=60)
        run.wait_for(r"▶ .*4/5 RUN touch /file")
        assert "shell:" not in run.text()
        run.send("c")
        run.wait_for(r"SUCCEEDED")
        run.send("q")
        assert run.wait_exit(timeout=30) == 0
    finally:
        run.close()


def _line(text: str) -> str:
    return r"(?m)^  " + re.escape(text) + r"\s*$"


def test_retry_write_back_reload_succeeds_cached(docker_host: str, tmp_path: Path) -> None:
    ctx = tmp_path / "demo"
    shutil.copytree(EXAMPLES / "fail-run", ctx)
    dockerfile = ctx / "Dockerfile"
    before = dockerfile.read_bytes()
    fix = f"test ! -e partial.txt && echo fixed-{secrets.token_hex(4)} && echo OK$((6*7))"
    run = PtyScreen([bxtui_binary(), "build", str(ctx)], _env(docker_host), rows=40, cols=140)
    try:
        run.wait_for(r"exit code 3")
        run.send("e")
        run.wait_for(_line(FAILING))
        run.send(b"\x15")  # ctrl+u: clear the pre-filled command, type the fix
        run.wait_gone(_line(FAILING))
        run.send(fix)
        run.wait_for(_line(fix))
        run.send("\r")
        run.wait_for(r"OK42")
        run.wait_for(r"try #1 exited with status 0")
        run.send(b"\x1b")
        run.wait_gone(r"esc, then w writes it back")
        run.send("w")
        run.wait_for(r"Write the command back into")
        run.wait_for(r"-RUN " + re.escape(FAILING[:40]))
        run.wait_for(r"\+RUN " + re.escape(fix[:40]))
        assert dockerfile.read_bytes() == before  # nothing before the answer
        run.send("y")
        run.wait_for(r"Wrote the command back")
        assert dockerfile.read_bytes() == before.replace(FAILING.encode(), fix.encode())
        run.send("r")
        run.wait_for(r"Build succeeded", timeout=60)
        run.wait_for(r"SUCCEEDED")
        run.wait_for(r"Dockerfile since the last build: line 6 changed")
        rows = run.text().splitlines()
        # the steps before the fixed line came from the cache, the fixed one ran anew
        assert any("CACHED" in r and "COPY app.sh" in r for r in rows), run.text()
        assert any("CACHED" in r and "RUN echo \"preparing\"" in r for r in rows), run.text()
        assert any("NEW" in r and "RUN test ! -e partial.txt" in r for r in rows), run.text()
        patched = dockerfile.read_bytes()
        # the tries were the previous build's: w is off now; ? (after it) shows the keys were read
        run.send("w?")
        run.wait_for(r"command palette")
        assert "Write the command back" not in run.text()
        assert dockerfile.read_bytes() == patched
        run.send(b"\x1b")
        run.wait_gone(r"command palette")
        run.send("q")
        assert run.wait_exit(timeout=30) == 0
    finally:
        run.close()
