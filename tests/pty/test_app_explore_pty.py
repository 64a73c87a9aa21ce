"""The real `bxtui` app in a real PTY: any step, the diff, files, toolbox, a failed COPY."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLES, active_builds, bxtui_binary, wait_until
from ptyscreen import PtyScreen

pytestmark = pytest.mark.daemon

CHORD = b"\x1d"  # ctrl+]


def _spawn(docker_host: str, *args: str) -> PtyScreen:
    env = dict(os.environ, DOCKER_HOST=docker_host, TERM="xterm-256color", COLORTERM="truecolor")
    return PtyScreen([bxtui_binary(), "build", *args], env, rows=40, cols=140)


def _quit(run: PtyScreen, docker_host: str, before: set[str]) -> None:
    run.send("q")
    assert run.wait_exit(timeout=30) == 1
    assert "Traceback" not in run.tail()
    assert wait_until(lambda: not (active_builds(docker_host) - before), 10)


def test_step_shell_sees_only_that_step(docker_host: str) -> None:
    before = active_builds(docker_host)
    run = _spawn(docker_host, "--step", "2", str(EXAMPLES / "multi-step"))
    try:
        run.wait_for(r"FAILED")
        run.wait_for(r"shell: the state after \[2/6\] RUN echo one")
        run.wait_for(r"/ # ", timeout=30)
        run.send("ls /; test -e /two.txt || echo NO_TWO$((1+1))\r")
        run.wait_for(r"NO_TWO2")
        assert "one.txt" in run.text()
        # s on another step of the graph: [5/6], with its WORKDIR and ENV
        run.send(CHORD)
        run.wait_for(r"s Step")
        run.select_row(r"\b5/6 RUN")
        run.send("s")
        run.wait_for(r"shell: the state after \[5/6\]")
        run.wait_for(r"/work # ", timeout=30)
        run.send("echo STEP=$STEP; ls\r")
        run.wait_for(r"STEP=four")
        run.wait_for(r"four\.txt")
        run.send(CHORD)
        run.wait_for(r"q Quit")
        _quit(run, docker_host, before)
    finally:
        run.close()


def test_diff_pane_of_the_failed_run(docker_host: str) -> None:
    before = active_builds(docker_host)
    run = _spawn(docker_host, str(EXAMPLES / "fail-changes"))
    try:
        run.wait_for(r"exit code 7")
        run.send("d")
        run.wait_for(r"4 added, 3 removed, 3 changed")
        run.wait_for(r"run\.sh +mode -rw-r--r-- -> -rwxr-xr-x")
        run.wait_for(r"link -> edit\.txt +link keep\.txt -> edit\.txt")
        run.select_row(r" edit\.txt +content")
        run.send("\r")
        run.wait_for(r"\+\+\+ b/data/edit\.txt")
        run.wait_for(r"\+new", timeout=10)
        run.send("\x1b")  # back to the tree, then escape closes the pane
        run.wait_for(r"4 added, 3 removed, 3 changed")
        run.send("\x1b")
        run.wait_for(r"Failing step")
        _quit(run, docker_host, before)
    finally:
        run.close()


def test_scratch_image_toolbox_shell_and_files(docker_host: str) -> None:
    before = active_builds(docker_host)
    run = _spawn(docker_host, str(EXAMPLES / "scratch-tool"))
    try:
        run.wait_for(r"SUCCEEDED|Build succeeded")
        run.send("f")  # no /bin/sh in the image: the toolbox's shell, the image as root
        run.wait_for(r"/srv # ", timeout=30)
        run.wait_for(r"has no shell of its own")  # the notice says so
        run.send("cat message.txt; case $PATH in *:/.bxtui/toolbox/bin:*) echo TB_$((1+1));; "
                 "esac\r")
        run.wait_for(r"hello from a scratch image")
        run.wait_for(r"TB_2")
        run.send(CHORD)
        run.wait_for(r"b Files")
        run.send("b")
        run.wait_for(r"1/1 build result")
        run.wait_for(r"-rwxr-xr-x +0:0 +[0-9.]+ ?[KM]i?B +hello")
        run.wait_for(r"drwxr-xr-x +0:0 +srv/")
        # no shell, no coreutils: the image as it is
        assert not re.search(r"d[rwx-]{9} +\d+:\d+ +bin/", run.text())
        run.send("\x1b")
        run.wait_gone(r"1/1 build result")
        run.wait_for(r"Build succeeded")
        run.send("q")
        assert run.wait_exit(timeout=30) == 0
        assert wait_until(lambda: not (active_builds(docker_host) - before), 10)
    finally:
        run.close()


def test_failed_copy_browses_the_received_context(docker_host: str, tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    shutil.copytree(EXAMPLES / "copy-ignored", ctx)
    before = active_builds(docker_host)
    run = _spawn(docker_host, str(ctx))
    try:
        run.wait_for(r"config\.json.*not found|not found")
        run.wait_for(r"toolbox shell with /dest")  # the failing-step pane says what f opens
        run.send("b")
        run.wait_for(r"1/2 dest: ")
        run.send("]")  # the second state: the context as the daemon received it
        run.wait_for(r"src: the context as the daemon received it")
        run.wait_for(r"app\.conf")
        run.wait_for(r"config\.json.*not sent: \.dockerignore")
        run.send("f")
        run.wait_for(r"/src # ", timeout=30)
        run.send("ls /src /dest/app; echo DONE$((2*2))\r")
        run.wait_for(r"DONE4")
        assert "config.json" not in run.text().split("DONE")[0].split("/src # ")[-1]
        run.send(CHORD + b"q")  # in one write: q reaches the app, not the shell
        assert run.wait_exit(timeout=30) == 1
        assert "Traceback" not in run.tail()
        assert wait_until(lambda: not (active_builds(docker_host) - before), 10)
    finally:
        run.close()

