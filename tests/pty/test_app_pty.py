"""The real `bxtui` app in a real PTY on the real daemon, its screen read through pyte."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import time

import pytest
from conftest import EXAMPLES, active_builds, bxtui_binary, wait_until
from ptyscreen import PtyScreen

pytestmark = pytest.mark.daemon

CHORD = b"\x1d"  # ctrl+]
PROMPT = r"/work # "


def _spawn(docker_host: str, *args: str, rows: int = 40, cols: int = 140,
           shell_after: bool = False) -> PtyScreen:
    argv = [bxtui_binary(), "build", *args]
    if shell_after:
        # print the exit status and the terminal settings once bxtui has exited
        script = " ".join(shlex.quote(a) for a in argv) + "; echo BXTUI_RC=$?; stty -a"
        argv = ["/bin/sh", "-c", script]
    env = dict(os.environ, DOCKER_HOST=docker_host, TERM="xterm-256color", COLORTERM="truecolor")
    return PtyScreen(argv, env, rows=rows, cols=cols)


def _exit_shell_and_quit(run: PtyScreen) -> None:
    """``exit`` the pane's shell, then ``q``: the app ends with the failed build's status."""
    run.send("exit\r")
    run.wait_for(r"exited with status 0")
    run.send("q")
    assert run.wait_exit(timeout=30) == 1


def _count(run: PtyScreen, pattern: str) -> int:
    return len(re.findall(pattern, run.text()))


def test_failure_final_initial_and_close(docker_host: str) -> None:
    before = active_builds(docker_host)
    run = _spawn(docker_host, str(EXAMPLES / "fail-run"), shell_after=True)
    try:
        # the failure view comes up by itself: failed step, exit code, the Dockerfile line
        run.wait_for(r"FAILED")
        run.wait_for(r"exit code 3")
        run.wait_for(r"sh app\.sh test")
        # the logs pane names the step's lines in the Dockerfile (from this build's definition)
        run.wait_for(r"─ Dockerfile:6 · follow ─")
        mine = active_builds(docker_host) - before
        assert mine, "the build stays open on the daemon while the view is open"
        # f: a shell in the final state sees what the failing step wrote
        run.send("f")
        run.wait_for(PROMPT, timeout=30)
        run.send("cat /work/partial.txt; echo MARK$((6*7))\r")
        run.wait_for(r"MARK42")
        assert "partial output" in run.text()
        # ctrl-c reaches the process in the container, not bxtui
        run.send("sleep 60\r")
        run.wait_for(r"sleep 60")
        run.send(b"\x03")
        run.send("echo ALIVE$((1+1))\r")
        run.wait_for(r"ALIVE2")
        # ctrl+] back to the panes; i: the step's initial state: no partial.txt, prepared.txt
        run.send(CHORD)
        run.wait_for(r"i Initial")  # the footer shows the panes' keys again
        run.send("i")
        run.wait_for(r"initial state")
        run.wait_for(PROMPT, timeout=30)
        run.send("ls /work; test -e /work/partial.txt || echo ABSENT$((2+1))\r")
        run.wait_for(r"ABSENT3")
        assert "prepared.txt" in run.text()
        run.send(CHORD)
        run.wait_for(r"q Quit")
        run.send("q")
        run.wait_for(r"BXTUI_RC=1", timeout=30)
        tail = run.tail()
        assert "build failed at" in tail and "exit code 3" in tail
        run.wait_for(r"\bisig\b")  # stty -a printed after bxtui exited
        assert "-icanon" not in run.tail() and " icanon" in run.tail()
        assert "Traceback" not in run.tail()
        assert run.wait_exit(timeout=30) == 0
        assert wait_until(lambda: not (mine & active_builds(docker_host)), 5)
    finally:
        run.close()


def test_resize_reaches_the_container(docker_host: str) -> None:
    run = _spawn(docker_host, str(EXAMPLES / "fail-run"))
    try:
        run.wait_for(r"exit code 3")
        run.send("z")  # zoom: the terminal gets the whole screen
        run.send("f")
        run.wait_for(PROMPT, timeout=30)
        run.send("stty size; echo S1$((0+1))\r")
        first = run.wait_for(r"(\d+) (\d+)[\s│]+S11")
        run.resize(30, 100)
        # the size is forwarded on the next layout change: ask until it shows
        deadline = time.monotonic() + 20
        seen = None
        n = 2
        while time.monotonic() < deadline and seen is None:
            run.send(f"clear; stty size; echo S{n}$((0+1))\r")
            m = run.wait_for(rf"(\d+) (\d+)[\s│]+S{n}1")
            if (m.group(1), m.group(2)) != (first.group(1), first.group(2)):
                seen = m
            n += 1
        assert seen is not None, run.text()
        rows, cols = int(seen.group(1)), int(seen.group(2))
        assert rows < 30 and cols < 100 and cols > 80
        # a flood of output (held by flow control while the pane parses) ends on the screen
        run.send("head -c 20000000 /dev/zero | tr '\\0' x | fold -w 90; echo FLOOD$((2*3))\r")
        run.wait_for(r"FLOOD6", timeout=120)
        _exit_shell_and_quit(run)
    finally:
        run.close()


def test_keys_are_handled_during_a_flood(docker_host: str) -> None:
    """The app's keys work while an endless flood fills the shell, and ctrl+c stops it.

    Ordering only (the timings are in bench/bench_flood.py): the flood never ends by
    itself, so a key handled only once the output stops would never be.
    """
    run = _spawn(docker_host, str(EXAMPLES / "fail-run"))
    try:
        run.wait_for(r"exit code 3")
        run.send("z")
        run.send("f")
        run.wait_for(PROMPT, timeout=30)
        run.send("yes $((6*7))flood\r")
        run.wait_for(r"42flood", timeout=30)  # the flood's output is on the screen
        run.send(CHORD)
        run.wait_for(r"q Quit")  # handled: the footer shows the panes' keys
        run.send("t")  # back to the terminal
        run.wait_for(r"Back to panes")
        run.send(b"\x03")
        run.send("clear; echo ALIVE$((1+1))\r")
        run.wait_for(r"ALIVE2", timeout=60)
        _exit_shell_and_quit(run)
    finally:
        run.close()


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM])
def test_signal_with_a_shell_open_releases_the_build(docker_host: str, sig: int,
                                                     tmp_path) -> None:  # type: ignore[no-untyped-def]
    log = tmp_path / "debug.log"
    run = _spawn(docker_host, "--debug-file", str(log), str(EXAMPLES / "fail-run"))
    try:
        run.wait_for(r"exit code 3")
        run.send("f")
        run.wait_for(PROMPT, timeout=30)
        # this build's ref, from its debug log (other builds may run on the daemon meanwhile)
        mine = set(re.findall(r"build (\w+): session", log.read_text()))
        assert mine and mine <= active_builds(docker_host)
        os.kill(run.proc.pid, sig)
        with contextlib.suppress(ProcessLookupError):
            os.kill(run.proc.pid, sig)  # a second one while closing changes nothing
        assert run.wait_exit(timeout=10) == 128 + sig
        assert wait_until(lambda: not (mine & active_builds(docker_host)), 5)
    finally:
        run.close()


def test_syntax_error_explains_nothing_to_open(docker_host: str) -> None:
    run = _spawn(docker_host, str(EXAMPLES / "syntax-error"))
    try:
        run.wait_for(r"FAILED")
        run.wait_for(r"FROBNICATE")
        run.send("f")
        run.wait_for(r"before any step ran")
        run.send("q")
        assert run.wait_exit(timeout=30) == 1
        assert "unknown instruction" in run.tail().lower() or "frobnicate" in run.tail().lower()
    finally:
        run.close()


def test_success_summary_and_result_shell(docker_host: str) -> None:
    run = _spawn(docker_host, str(EXAMPLES / "success"), "-t", "bxtui-app-success:latest")
    try:
        run.wait_for(r"SUCCEEDED")
        run.wait_for(r"Build succeeded")
        # i (and d) never apply to a success: not in the footer, and i does nothing
        run.wait_for(r"f Final  s Step  b Files  z Zoom")
        assert "i Initial" not in run.text() and "d Diff" not in run.text()
        run.send("i")
        run.send("f")
        run.wait_for(r"/app # ", timeout=30)
        run.send("cat /app/status; echo $GREETING$((1+1))\r")
        run.wait_for(r"hello2")
        assert "built ok" in run.text()
        run.send(CHORD)
        run.wait_for(r"q Quit")
        run.send("q")
        assert run.wait_exit(timeout=30) == 0
        assert "build succeeded" in run.tail()
    finally:
        run.close()


def test_closing_while_building_cancels_the_build(docker_host: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox:local\n"
        f"RUN echo slow-{os.getpid()}-{time.time_ns()} && sleep 120\n"
    )
    before = active_builds(docker_host)
    run = _spawn(docker_host, "--no-cache", str(tmp_path))
    try:
        run.wait_for(r"BUILDING")
        run.wait_for(r"RUN echo slow-")
        assert wait_until(lambda: bool(active_builds(docker_host) - before), 20)
        mine = active_builds(docker_host) - before
        run.send("q")
        assert run.wait_exit(timeout=30) == 1
        assert "stopped before it finished" in run.tail()
        assert wait_until(lambda: not (mine & active_builds(docker_host)), 10)
    finally:
        run.close()


#: The footer's keys that open a state, and a key that always works (its colour: enabled).
OPENING_KEYS = ("f Final", "i Initial", "s Step", "b Files", "d Diff")


def _footer_colours(run: PtyScreen) -> dict[str, str] | None:
    """Foreground colour of each footer key (f/i/s/b/d and q), or None while one is absent."""
    row = run.rows - 1
    line = run.screen.display[row]
    colours = {}
    for label in (*OPENING_KEYS, "q Quit"):
        col = line.find(f" {label}")
        if col < 0:
            return None
        colours[label[0]] = run.screen.buffer[row][col + 1].fg
    return colours


def _wait_footer(run: PtyScreen, enabled: bool, timeout: float = 60) -> dict[str, str]:
    """Wait until f/i/s/b/d are all drawn like q (enabled) or all unlike it (disabled)."""
    deadline = time.monotonic() + timeout
    while True:
        colours = _footer_colours(run)
        if colours is not None and all((colours[k] == colours["q"]) is enabled for k in "fisbd"):
            return colours
        left = deadline - time.monotonic()
        if left <= 0 or not run.pump(min(left, 0.2)):
            raise AssertionError(f"footer keys not {'enabled' if enabled else 'disabled'}: "
                                 f"{colours}\n{run.text()}")


def test_footer_disables_the_opening_keys_while_building(docker_host: str,
                                                         tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox:local\n"
        f"RUN echo gate-{os.getpid()}-{time.time_ns()} && sleep 4\n"
        "RUN echo partial > /partial.txt && exit 3\n"
    )
    run = _spawn(docker_host, "--no-cache", str(tmp_path))
    try:
        run.wait_for(r"BUILDING")
        run.wait_for(r"RUN echo gate-")
        building = _wait_footer(run, enabled=False)
        assert "BUILDING" in run.text()
        run.send("f")  # a disabled key does nothing: no shell, no "still running" notice
        run.wait_for(r"FAILED")
        run.wait_for(r"exit code 3")
        after = _wait_footer(run, enabled=True)
        assert building["q"] == after["q"] and building["f"] != after["f"]
        assert "still running" not in run.text() and "shell: " not in run.text()
        run.send("f")  # enabled now: the failed step's final state
        run.wait_for(r"(?m)^.*│/ # ", timeout=30)
        _exit_shell_and_quit(run)
    finally:
        run.close()
