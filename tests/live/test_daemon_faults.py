"""The daemon fails under bxtui: unreachable, killed, restarted, the session dropped.

Each case, headless and in the app, on a throw-away dockerd of the same engine
(tests/support/faultdaemon.py): one clear ``ERROR:`` line, exit status 1, the terminal restored, no
process and no private directory left locally, and once the daemon is back nothing of ours
running on it.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import EXAMPLES, active_builds, bxtui_binary, wait_until
from dockerapi import DockerAPI
from faultdaemon import FaultDaemon, SessionCutter
from ptyscreen import PtyScreen

pytestmark = pytest.mark.daemon

LOST = "ERROR: lost the connection to the builder (did the daemon stop or restart?)"
PROMPT = r"/work # "


@pytest.fixture(scope="module")
def fault(docker_host: str) -> Iterator[FaultDaemon]:
    """The throw-away daemon, started; stopped after the module."""
    d = FaultDaemon(docker_host)
    d.start()
    try:
        yield d
    finally:
        d.stop()


@pytest.fixture
def daemon(fault: FaultDaemon) -> FaultDaemon:
    """The throw-away daemon, running (an earlier test may have killed it)."""
    fault.start()
    return fault


class Run:
    """bxtui (headless or the app) in a PTY, followed by its exit status and ``stty -a``."""

    def __init__(self, host: str, args: list[str], tmp: Path, app: bool) -> None:
        self.private = tmp / "private"
        self.private.mkdir(mode=0o700)
        mode = ["--progress=tui"] if app else ["--progress=plain"]
        argv = [bxtui_binary(), "build", *mode, *args]
        script = " ".join(shlex.quote(a) for a in argv) + "; echo BXTUI_RC=$?; stty -a"
        env = dict(os.environ, DOCKER_HOST=host, TMPDIR=str(self.private),
                   TERM="xterm-256color")
        self.screen = PtyScreen(["/bin/sh", "-c", script], env, rows=40, cols=140)
        self.app = app

    def processes(self) -> set[int]:
        """bxtui and everything it started (not the shell around it)."""
        found: set[int] = set()
        todo = [self.screen.proc.pid]
        while todo:
            pid = todo.pop()
            for task in Path(f"/proc/{pid}/task").glob("*"):
                try:
                    kids = [int(x) for x in (task / "children").read_text().split()]
                except OSError:
                    continue
                found.update(kids)
                todo += kids
        return found

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        """Wait for bxtui's exit: (status, everything printed after the view closed)."""
        m = self.screen.wait_for(r"BXTUI_RC=(\d+)", timeout=timeout)
        self.screen.wait_for(r"\bisig\b")
        return int(m.group(1)), self.screen.tail()

    def close(self) -> None:
        self.screen.close()


def _assert_clean_exit(run: Run, procs: set[int], rc: int, tail: str) -> None:
    assert rc == 1, tail
    assert "Traceback" not in tail
    assert tail.count(LOST) == 1, tail
    lost_line = next(line for line in tail.splitlines() if line.startswith(LOST))
    assert len(lost_line) < 200
    assert " icanon" in tail and "-icanon" not in tail and " echo " in tail  # restored
    left = {p for p in procs if Path(f"/proc/{p}").exists()}
    assert not left, f"processes left: {left}"
    assert not list(run.private.iterdir()), "private directory left behind"


def _expect_lost(run: Run, procs: set[int], shell_open: bool = False) -> None:
    """The fault is in: (app) q once it shows; then every clean-exit check."""
    if run.app:
        _quit_app(run, shell_open)
    rc, tail = run.finish()
    _assert_clean_exit(run, procs, rc, tail)


def _assert_daemon_clean(daemon: FaultDaemon) -> None:
    daemon.start()
    daemon.reap()
    assert wait_until(lambda: not active_builds(daemon.host), 10), "a build is still running"
    assert DockerAPI(daemon.host).containers() == []


def _context(tmp: Path, name: str) -> Path:
    """A copy of an example (a private cache key per test keeps runs independent)."""
    dst = tmp / name
    shutil.copytree(EXAMPLES / name, dst)
    return dst


def _sleeper(tmp: Path) -> tuple[Path, str]:
    token = os.urandom(4).hex()
    ctx = tmp / "sleeper"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM busybox:local\nRUN echo go-{token} && sleep 120\n")
    return ctx, f"go-{token}"


def _wait_running(run: Run, token: str) -> None:
    if run.app:
        run.screen.wait_for(r"RUN echo go-", timeout=60)
        run.screen.wait_for(token, timeout=60)  # its log line, in the logs pane
    else:
        run.screen.wait_for(rf"\d {token}", timeout=60)


def _open_shell(run: Run) -> None:
    if run.app:
        run.screen.wait_for(r"exit code 3")
        run.screen.send("f")
    run.screen.wait_for(PROMPT, timeout=30)
    run.screen.send("echo READY$((2+2))\r")
    run.screen.wait_for(r"READY4")


def _quit_app(run: Run, shell_open: bool = False) -> None:
    """In the app: the status line says the builder is gone (and the shell has ended); q."""
    if run.app:
        run.screen.wait_for(r"BUILDER GONE", timeout=30)
        if shell_open:  # the footer shows the panes' keys again once the process has ended
            run.screen.wait_for(r"q Quit", timeout=30)
        run.screen.send("q")


# -- unreachable ------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("app", [False, True], ids=["headless", "app"])
@pytest.mark.parametrize("where", ["unix", "tcp"])
def test_daemon_unreachable(where: str, app: bool, tmp_path: Path) -> None:
    host = (f"unix://{tmp_path}/no-daemon.sock" if where == "unix"
            else f"tcp://127.0.0.1:{_free_port()}")
    run = Run(host, [str(EXAMPLES / "fail-run")], tmp_path, app)
    try:
        rc, tail = run.finish()
    finally:
        run.close()
    assert rc == 1
    errors = [line for line in tail.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1 and "cannot reach" in errors[0], tail
    assert "Traceback" not in tail
    assert " icanon" in tail and "-icanon" not in tail
    assert not list(run.private.iterdir())


# -- dockerd killed ---------------------------------------------------------------------------
@pytest.mark.parametrize("app", [False, True], ids=["headless", "app"])
def test_daemon_killed_mid_build(app: bool, daemon: FaultDaemon, tmp_path: Path) -> None:
    ctx, token = _sleeper(tmp_path)
    run = Run(daemon.host, ["--no-cache", str(ctx)], tmp_path, app)
    try:
        _wait_running(run, token)
        procs = run.processes()
        daemon.kill()
        _expect_lost(run, procs)
    finally:
        run.close()
    _assert_daemon_clean(daemon)


@pytest.mark.parametrize("app", [False, True], ids=["headless", "app"])
def test_daemon_killed_with_a_shell_open(app: bool, daemon: FaultDaemon,
                                         tmp_path: Path) -> None:
    args = [] if app else ["--invoke", "/bin/sh"]
    run = Run(daemon.host, [*args, str(_context(tmp_path, "fail-run"))], tmp_path, app)
    try:
        _open_shell(run)
        procs = run.processes()
        daemon.kill()
        _expect_lost(run, procs, shell_open=True)
    finally:
        run.close()
    _assert_daemon_clean(daemon)


def test_daemon_restarted_while_the_app_waits(daemon: FaultDaemon, tmp_path: Path) -> None:
    # the failure is shown, no shell yet; the daemon restarts; f then says nothing can open
    run = Run(daemon.host, [str(_context(tmp_path, "fail-run"))], tmp_path, app=True)
    try:
        run.screen.wait_for(r"exit code 3")
        procs = run.processes()
        daemon.restart()
        run.screen.wait_for(r"BUILDER GONE", timeout=30)
        run.screen.send("f")
        run.screen.wait_for(r"Nothing to open: lost the connection", timeout=30)
        assert not re.search(PROMPT, run.screen.text())
        run.screen.send("q")
        rc, tail = run.finish()
        _assert_clean_exit(run, procs, rc, tail)
    finally:
        run.close()
    _assert_daemon_clean(daemon)


def test_daemon_restarted_during_a_headless_build(daemon: FaultDaemon, tmp_path: Path) -> None:
    ctx, token = _sleeper(tmp_path)
    run = Run(daemon.host, ["--no-cache", str(ctx)], tmp_path, app=False)
    try:
        _wait_running(run, token)
        procs = run.processes()
        daemon.restart()
        _expect_lost(run, procs)
    finally:
        run.close()
    _assert_daemon_clean(daemon)


# -- the session connection dropped by the daemon's side ---------------------------------------
@pytest.fixture
def cutter(daemon: FaultDaemon, tmp_path: Path) -> Iterator[SessionCutter]:
    """A relay to the fault daemon that can drop the session connection."""
    d = tmp_path / "relay"
    d.mkdir(mode=0o700)
    c = SessionCutter(str(daemon.sock), str(d / "docker.sock"))
    try:
        yield c
    finally:
        c.close()


@pytest.mark.parametrize("app", [False, True], ids=["headless", "app"])
def test_session_dropped_mid_build(app: bool, daemon: FaultDaemon, cutter: SessionCutter,
                                   tmp_path: Path) -> None:
    ctx, token = _sleeper(tmp_path)
    run = Run(f"unix://{cutter.path}", ["--no-cache", str(ctx)], tmp_path, app)
    try:
        _wait_running(run, token)
        procs = run.processes()
        mine = active_builds(daemon.host)
        assert mine
        assert cutter.cut() == 1
        _expect_lost(run, procs)
    finally:
        run.close()
    # the daemon stays up: the cancelled build leaves its running list like any other
    assert wait_until(lambda: not (mine & active_builds(daemon.host)), 10)


@pytest.mark.parametrize("app", [False, True], ids=["headless", "app"])
def test_session_dropped_with_a_shell_open(app: bool, daemon: FaultDaemon,
                                           cutter: SessionCutter, tmp_path: Path) -> None:
    args = [] if app else ["--invoke", "/bin/sh"]
    run = Run(f"unix://{cutter.path}", [*args, str(_context(tmp_path, "fail-run"))], tmp_path,
              app)
    try:
        _open_shell(run)
        procs = run.processes()
        mine = active_builds(daemon.host)
        assert cutter.cut() == 1
        _expect_lost(run, procs, shell_open=True)
    finally:
        run.close()
    assert wait_until(lambda: not (mine & active_builds(daemon.host)), 10)
