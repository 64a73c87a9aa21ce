"""Several shells in the real `bxtui` app (real PTY, real daemon): tabs, ``x`` exec, ``p`` list."""

from __future__ import annotations

import os
import secrets

import pytest
from conftest import EXAMPLES, bxtui_binary
from ptyscreen import PtyScreen

pytestmark = [pytest.mark.daemon, pytest.mark.timeout(120)]

CHORD = b"\x1d"  # ctrl+]
PROMPT = r"/work # "


def _spawn(docker_host: str, cols: int) -> PtyScreen:
    """The app on the failing example, 40 rows high."""
    env = dict(os.environ, DOCKER_HOST=docker_host, TERM="xterm-256color")
    return PtyScreen([bxtui_binary(), "build", str(EXAMPLES / "fail-run")], env, rows=40,
                     cols=cols)


def test_two_shells_in_tabs_exec_sees_the_first_shells_file_and_ps_ends_one(
    docker_host: str,
) -> None:
    token = secrets.token_hex(4)
    run = _spawn(docker_host, 140)
    try:
        run.wait_for(r"exit code 3")
        run.send("f")
        run.wait_for(PROMPT, timeout=30)
        run.send(f"echo {token}-tmp > /tmp/shared; echo WROTE$((1+1))\r")
        run.wait_for(r"WROTE2")
        run.send(CHORD)
        run.wait_for(r"i Initial")
        # x: a second process in the same container, in a second tab
        run.send("x")
        run.wait_for(r"1 final ●.*2 exec 1 ●")
        run.wait_for(r"─ exec: the final state")
        run.send("cat /tmp/shared; echo SAW$((2+2))\r")
        run.wait_for(r"SAW4")
        assert f"{token}-tmp" in run.text()
        assert "WROTE2" not in run.text()  # the first tab's screen is not the one shown
        # [ from the panes: back to the first tab, its screen and process as they were
        run.send(CHORD)
        run.wait_for(r"i Initial")
        run.send("[")
        run.wait_for(r"WROTE2")
        run.send("]")
        run.wait_for(r"SAW4")
        # i: the initial state in a third tab; alt+1 shows the first one again
        run.send("i")
        run.wait_for(r"3 initial ●")
        run.wait_for(r"─ shell: the initial state")  # its pane has the focus
        run.send("echo INIT$((3+3))\r")
        run.wait_for(r"INIT6", timeout=30)
        run.send(CHORD)
        run.wait_for(r"i Initial")
        run.send("\x1b1")  # alt+1
        run.wait_for(r"WROTE2")
        # p: the list; the exec'd shell shares the first one's container
        run.send("p")
        run.wait_for(r"Shells and containers")
        run.wait_for(r"#1 .*ending it ends #2 too")
        run.wait_for(r"#3 .*initial state")
        run.send("\x1b[B\x1b[B")  # down twice: #3
        run.send("k")
        run.wait_for(r"○ #3 .*exited with status 137 .*initial state")
        assert "● #1" in run.text() and "● #2" in run.text()
        run.send("\x1b")
        run.wait_gone(r"Shells and containers")
        run.wait_for(r"3 initial ○")
        run.send("q")
        assert run.wait_exit(timeout=30) == 1
    finally:
        run.close()


def test_side_by_side_initial_and_final(docker_host: str) -> None:
    run = _spawn(docker_host, 160)
    try:
        run.wait_for(r"exit code 3")
        run.send("v")
        run.wait_for(r"─ shell: the initial state.*─ shell: the final state", timeout=30)
        run.wait_for(r"1 initial ●.*2 final ●")
        run.wait_for(r"/work # .*│/work # ", timeout=30)  # both prompts, on one row
        # the initial one (left) has the focus: the failing step's file is not there yet
        run.send("test -e /work/partial.txt || echo ABSENT$((2+1))\r")
        run.wait_for(r"ABSENT3")
        # ] from the panes: the final one (right) gets the keys, both stay on screen
        run.send(CHORD)
        run.wait_for(r"i Initial")
        run.send("]")
        run.send("t")
        run.wait_for(r"ctrl\+\] Back to panes")
        run.send("cat /work/partial.txt; echo SEEN$((2+2))\r")
        run.wait_for(r"SEEN4")
        assert "partial output" in run.text() and "ABSENT3" in run.text()
        run.send(CHORD)
        run.wait_for(r"i Initial")
        run.send("q")
        assert run.wait_exit(timeout=30) == 1
    finally:
        run.close()
