"""``e`` retries the failed RUN, up/down walk the tries, ``w`` writes a passing one back."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLES, bxtui_binary
from ptyscreen import PtyScreen

pytestmark = pytest.mark.daemon

FAILING = 'echo "partial output" > /work/partial.txt && sh app.sh test'
FIX = "test ! -e partial.txt && echo FIXED$((6*7))"


def _line(text: str) -> str:
    """The retry line's input row showing ``text``."""
    return r"(?m)^  " + re.escape(text) + r"\s*$"


def _type(run: PtyScreen, command: str) -> None:
    """Clear the retry line (ctrl+u), type ``command``, Enter: each step seen on the screen."""
    run.send(b"\x15")
    run.wait_for(r"(?m)esc closes.*\n\s*$|exited with status \d+ .*\n\s*$")
    run.send(command)
    run.wait_for(_line(command))
    run.send("\r")


def test_retry_edit_walk_and_write_back(docker_host: str, tmp_path: Path) -> None:
    ctx = tmp_path / "fail-run"
    shutil.copytree(EXAMPLES / "fail-run", ctx)
    before = (ctx / "Dockerfile").read_bytes()
    env = dict(os.environ, DOCKER_HOST=docker_host, TERM="xterm-256color")
    run = PtyScreen([bxtui_binary(), "build", str(ctx)], env, rows=40, cols=140)
    try:
        run.wait_for(r"exit code 3")
        run.send("e")  # the line comes pre-filled with the failing command
        run.wait_for(r"retry in the failed step's initial state")
        run.wait_for(_line(FAILING))
        _type(run, "exit 9")
        run.wait_for(r"try #1 exited with status 9")
        _type(run, FIX)  # the line keeps the last try: cleared first
        run.wait_for(r"FIXED42")
        run.wait_for(r"try #2 exited with status 0")
        run.send(b"\x1b[A")  # up: the last try, then the one before
        run.send(b"\x1b[A")
        run.wait_for(_line("exit 9"))
        run.send(b"\x1b[B")
        run.wait_for(_line(FIX))
        run.send(b"\x1b")  # escape: the line closes; w writes the passing try back
        run.wait_gone(r"esc, then w writes it back")
        run.send("w")
        run.wait_for(r"Write the command back into")
        run.wait_for(r"\+RUN " + re.escape(FIX))
        assert (ctx / "Dockerfile").read_bytes() == before  # nothing before the answer
        run.send("y")
        run.wait_for(r"Wrote the command back")
        assert (ctx / "Dockerfile").read_bytes() == before.replace(FAILING.encode(), FIX.encode())
        run.send("e")  # opened again at once after closing: the last try, the walk kept
        run.wait_for(_line(FIX))
        run.send(b"\x1b[A")
        run.wait_for(_line("exit 9"))
        run.send(b"\x1b")
        run.wait_gone(_line("exit 9"))
        run.send("q")
        assert run.wait_exit(timeout=30) == 1
    finally:
        run.close()
