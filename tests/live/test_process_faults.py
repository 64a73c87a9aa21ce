"""The debug process ends badly; the build's context stays usable and f/i work again."""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLES, active_builds, bxtui_binary, wait_until
from ptyscreen import PtyScreen
from ptyterm import PtyRun

pytestmark = pytest.mark.daemon

PROMPT = r"/work # "
CHORD = b"\x1d"


def _app(docker_host: str, ctx: Path, *args: str) -> PtyScreen:
    argv = [bxtui_binary(), "build", "--progress=tui", *args, str(ctx)]
    script = " ".join(shlex.quote(a) for a in argv) + "; echo BXTUI_RC=$?; stty -a"
    env = dict(os.environ, DOCKER_HOST=docker_host, TERM="xterm-256color")
    return PtyScreen(["/bin/sh", "-c", script], env, rows=40, cols=140)


def _quit(run: PtyScreen) -> str:
    """Exit the shell shown, then q: exit status 1, the terminal restored."""
    run.send("exit\r")
    run.wait_for(r"exited with status 0")
    run.wait_for(r"q Quit")
    run.send("q")
    run.wait_for(r"BXTUI_RC=1", timeout=30)
    run.wait_for(r"\bisig\b")
    tail = run.tail()
    assert "Traceback" not in tail
    assert " icanon" in tail and "-icanon" not in tail
    return tail


def _open_initial(run: PtyScreen) -> None:
    """ctrl+] back to the panes, then i: the failed step's initial state, keys to it."""
    run.send(CHORD)
    run.wait_for(r"i Initial")
    run.send("i")
    run.wait_for(r"initial state")
    run.wait_for(r"ctrl\+\] Back to panes")


def test_shell_exits_and_is_killed_then_f_and_i_again(docker_host: str, tmp_path: Path) -> None:
    ctx = tmp_path / "fail-run"
    shutil.copytree(EXAMPLES / "fail-run", ctx)
    before = active_builds(docker_host)
    run = _app(docker_host, ctx)
    try:
        run.wait_for(r"exit code 3")
        mine = active_builds(docker_host) - before
        run.send("f")
        run.wait_for(PROMPT, timeout=30)
        run.send("exit 7\r")
        run.wait_for(r"exited with status 7")
        # f again: a new shell in the same final state
        run.wait_for(r"q Quit")
        run.send("f")
        run.wait_for(r"ctrl\+\] Back to panes")  # the terminal has the keys (type-ahead)
        run.send("cat /work/partial.txt; echo READY$((2+2))\r")
        run.wait_for(r"READY4")
        assert "partial output" in run.text()
        # kill -9 $$: the shell is the container's PID 1, which the kernel does not let be
        # killed from inside; the shell goes on. A child killed that way just ends.
        run.send("kill -9 $$; sh -c 'kill -9 $$'; echo ALIVE$((1+1))\r")
        run.wait_for(r"ALIVE2")
        _open_initial(run)
        run.send("test -e /work/partial.txt || echo ABSENT$((2+1))\r")
        run.wait_for(r"ABSENT3")
        _quit(run)
    finally:
        run.close()
    assert wait_until(lambda: not (mine & active_builds(docker_host)), 5)


def test_missing_command_then_the_default_shell(docker_host: str, tmp_path: Path) -> None:
    ctx = tmp_path / "fail-run"
    shutil.copytree(EXAMPLES / "fail-run", ctx)
    before = active_builds(docker_host)
    run = _app(docker_host, ctx, "--invoke", "/no/such/binary")
    try:
        # --invoke opens by itself when the build has failed: runc cannot find it
        run.wait_for(r"exit code 3")
        mine = active_builds(docker_host) - before
        run.wait_for(r"no such file or directory", timeout=30)
        run.wait_for(r"exited with status 1")
        run.wait_for(r"is not in this state")
        run.wait_for(r"q Quit")
        run.send("f")
        run.wait_for(r"ctrl\+\] Back to panes")
        run.send("echo BACK$((3+4))\r")
        run.wait_for(r"BACK7")
        _open_initial(run)
        _quit(run)
    finally:
        run.close()
    assert wait_until(lambda: not (mine & active_builds(docker_host)), 5)


def test_headless_missing_absolute_command(docker_host: str) -> None:
    before = active_builds(docker_host)
    env = dict(os.environ, DOCKER_HOST=docker_host, TERM="xterm")
    run = PtyRun([bxtui_binary(), "build", "--progress=plain", "--invoke", "/no/such/binary",
                  str(EXAMPLES / "fail-run")], env)
    try:
        assert run.wait_exit() == 1
        assert "no such file or directory" in run.text
        assert "debug process exited with status 1" in run.text
        assert "Traceback" not in run.text
    finally:
        run.close()
    assert wait_until(lambda: not (active_builds(docker_host) - before), 10)
