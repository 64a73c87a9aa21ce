"""Breakpoints in the real app, in a real PTY, on the real daemon.

``--break``, ``i``, ``n``, ``f`` after it, ``space`` on a later step, ``c``, the marks in the
graph; and ``q`` while paused.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from conftest import active_builds, bxtui_binary, wait_until
from ptyscreen import PtyScreen

pytestmark = pytest.mark.daemon

CHORD = b"\x1d"  # ctrl+]
PANES = r"(?m)^ f Final .*c Continue"  # the footer while the panes (not the terminal) have keys


def test_break_initial_state_next_continue(docker_host: str, tmp_path: Path) -> None:
    token = secrets.token_hex(6)  # the steps run for real
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox:local\n"
        f"RUN echo {token} > /one\n"
        "RUN touch /file\n"
        "RUN echo last > /last\n")
    env = dict(os.environ, DOCKER_HOST=docker_host, TERM="xterm-256color")
    run = PtyScreen([bxtui_binary(), "build", "--break", "3", str(tmp_path)], env,
                    rows=40, cols=140)
    try:
        # paused before step 3: the step pane shows it, the graph marks it
        run.wait_for(r"paused before \[3/4\] RUN touch /file")
        run.wait_for(r"(?m)^ +PAUSED ")  # the status line's word
        run.wait_for(r"command: /bin/sh -c touch /file")
        run.wait_for(r"▶ .*3/4 RUN touch /file")
        run.wait_for(r"✓ .*2/4 RUN echo")  # the steps before it done, the rest pending
        run.wait_for(r"4/4 RUN echo last > /last")
        # i: a shell in its initial state: step 2's file is there, step 3's is not yet
        run.send("i")
        run.wait_for(r"/ # ", timeout=30)
        run.send("cat /one; test -e /file || echo ABSENT$((2+1))\r")
        run.wait_for(r"ABSENT3")
        assert token in run.text()
        run.send(CHORD)
        run.wait_for(PANES)
        # n: run step 3 only, paused after it
        run.send("n")
        run.wait_for(r"paused after \[3/4\] RUN touch /file")
        run.wait_for(PANES)
        run.send("f")
        # the pane still shows the ended shell's prompt: wait for the new shell's title first
        run.wait_for(r"shell: the state after \[3/4\]")
        run.wait_for(r"(?s)─ shell: the state after.*/ # ", timeout=30)
        run.send("test -e /file && echo PRESENT$((3+1))\r")
        run.wait_for(r"PRESENT4")
        run.send(CHORD)
        run.wait_for(PANES)
        # space on step 4 in the graph: a breakpoint (●) that c stops at
        run.select_row(r"4/4 RUN echo last")
        run.send(" ")
        run.wait_for(r"● .*4/4 RUN echo last")
        run.send("c")
        run.wait_for(r"paused before \[4/4\] RUN echo last")
        # c: to the end; the build succeeds
        run.send("c")
        run.wait_for(r"SUCCEEDED")
        run.send("q")
        assert run.wait_exit(timeout=30) == 0
    finally:
        run.close()


def _paused_at_three(docker_host: str, tmp_path: Path, rows: int, cols: int) -> PtyScreen:
    """The app on a fresh three-step build, breakpoint before step 3 (``touch /file``)."""
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox:local\n"
        f"RUN echo {secrets.token_hex(6)} > /one\n"
        "RUN touch /file\n")
    env = dict(os.environ, DOCKER_HOST=docker_host, TERM="xterm-256color")
    return PtyScreen([bxtui_binary(), "build", "--break", "3", str(tmp_path)], env,
                     rows=rows, cols=cols)


def test_quit_while_paused_releases_everything(docker_host: str, tmp_path: Path) -> None:
    before = active_builds(docker_host)
    run = _paused_at_three(docker_host, tmp_path, 40, 140)
    try:
        run.wait_for(r"paused before \[3/3\] RUN touch /file")
        assert active_builds(docker_host) - before, "the paused build is open on the daemon"
        run.send("i")
        run.wait_for(r"/ # ", timeout=30)
        run.send(CHORD)
        run.wait_for(r"c Continue")
        run.send("q")
        assert run.wait_exit(timeout=30) == 1  # the build did not finish
        assert wait_until(lambda: not active_builds(docker_host) - before, timeout=20)
    finally:
        run.close()


def test_narrow_terminal_shows_the_paused_step(docker_host: str, tmp_path: Path) -> None:
    """80x24, one pane at a time: the pause brings its step pane forward, as a failure does."""
    run = _paused_at_three(docker_host, tmp_path, 24, 80)
    try:
        run.wait_for(r"(?m)^ +PAUSED ")
        run.wait_for(r"─ Paused step ─")
        run.wait_for(r"paused before \[3/3\] RUN touch /file")
        run.send("q")
        assert run.wait_exit(timeout=30) == 1
    finally:
        run.close()
