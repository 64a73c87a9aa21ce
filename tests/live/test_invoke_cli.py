"""`bxtui build --invoke` driven in a real PTY: run commands in the debug shell, read, exit."""

from __future__ import annotations

import os
import shlex
import signal

import pytest
from conftest import EXAMPLES, active_builds, bxtui_binary, wait_until
from ptyterm import PtyRun

pytestmark = pytest.mark.daemon


def _spawn(docker_host: str, *args: str, shell_after: bool = False) -> PtyRun:
    argv = [bxtui_binary(), "build", "--progress=plain", *args]
    if shell_after:
        # print the terminal settings once bxtui has exited, to see they were restored
        script = " ".join(shlex.quote(a) for a in argv) + "; echo BXTUI_RC=$?; stty -a"
        argv = ["/bin/sh", "-c", script]
    env = dict(os.environ, DOCKER_HOST=docker_host, TERM="xterm")
    return PtyRun(argv, env)


def test_invoke_failed_step_final_state(docker_host: str) -> None:
    run = _spawn(docker_host, "--invoke", "/bin/sh", str(EXAMPLES / "fail-run"), shell_after=True)
    try:
        run.expect(r"running '/bin/sh' in the final state of \[5/6\] RUN")
        run.send("pwd; cat partial.txt; stty size; echo MARK$((6*7))\r")
        run.expect(r"MARK42")
        assert "/work\n" in run.text and "partial output" in run.text
        assert "\n30 100\n" in run.text
        run.proc.setwinsize(40, 120)
        run.send("stty size; echo SIZED\r")
        run.expect(r"40 120\s*\n.*SIZED", timeout=30)
        run.send("exit 5\r")
        run.expect(r"debug process exited with status 5")
        settings = run.expect(r"(?s)BXTUI_RC=1.*?\bisig\b.*?\n")
        assert " icanon" in settings.group(0) and " echo" in settings.group(0)
        assert "-icanon" not in settings.group(0)
        assert run.wait_exit() == 0
        assert "Traceback" not in run.text
    finally:
        run.close()


def test_invoke_initial_state(docker_host: str) -> None:
    run = _spawn(docker_host, "--invoke", "/bin/sh", "--initial", str(EXAMPLES / "fail-run"))
    try:
        run.expect(r"in the initial state of \[5/6\]")
        run.send("ls /work; echo DONE$((1+1))\r")
        run.expect(r"DONE2")
        listing = run.text.rsplit("ls /work; echo DONE", 1)[1].split("DONE2")[0]
        assert "prepared.txt" in listing and "partial.txt" not in listing
        run.send("exit\r")
        assert run.wait_exit() == 1
    finally:
        run.close()


def test_invoke_on_success_with_always(docker_host: str) -> None:
    run = _spawn(docker_host, "--on", "always", "--invoke", "/bin/sh", str(EXAMPLES / "success"))
    try:
        run.expect(r"running '/bin/sh' in the build result")
        run.send("pwd; echo G=$GREETING\r")
        run.expect(r"G=hello")
        assert "/app\n" in run.text
        run.send("exit 0\r")
        assert run.wait_exit() == 0
    finally:
        run.close()


def test_invoke_failed_copy_opens_its_inputs(docker_host: str) -> None:
    """A failed COPY: a toolbox shell with the destination at /dest and the context at /src."""
    run = _spawn(docker_host, "--invoke", "/bin/sh", str(EXAMPLES / "copy-missing"))
    try:
        run.expect(r"running '/bin/sh' in a toolbox with the inputs of .*COPY missing\.txt")
        run.send("pwd; ls /src; ls /dest/app; echo MARK$((6*7))\r")
        run.expect(r"MARK42")
        assert "/src\n" in run.text and "present.txt" in run.text
        assert "missing.txt\n" not in run.text.split("MARK")[0].split("pwd;")[-1]
        run.send("exit 4\r")
        run.expect(r"debug process exited with status 4")
        assert run.wait_exit() == 1
        assert "Traceback" not in run.text
    finally:
        run.close()


@pytest.mark.parametrize(
    "example,needle",
    [
        ("syntax-error", "ERROR: cannot debug: the build failed before any step ran"),
    ],
)
def test_invoke_cannot_enter(example: str, needle: str, docker_host: str) -> None:
    run = _spawn(docker_host, "--invoke", "/bin/sh", str(EXAMPLES / example))
    try:
        assert run.wait_exit() == 1
        assert needle in run.text
        assert "Traceback" not in run.text
    finally:
        run.close()


def test_invoke_missing_command(docker_host: str) -> None:
    run = _spawn(docker_host, "--invoke", "no-such-command", str(EXAMPLES / "fail-run"))
    try:
        assert run.wait_exit() == 1
        assert 'exec: "no-such-command": executable file not found' in run.text
        assert "debug process exited with status" in run.text
    finally:
        run.close()


def test_hangup_while_shell_open(docker_host: str) -> None:
    before = active_builds(docker_host)
    run = _spawn(docker_host, "--invoke", "/bin/sh", str(EXAMPLES / "fail-run"))
    try:
        run.expect(r"running '/bin/sh'")
        run.send("echo READY$((2+2))\r")
        run.expect(r"READY4")
        mine = active_builds(docker_host) - before
        assert mine, "the failed build stays open while the shell runs"
        run.proc.kill(signal.SIGHUP)
        assert run.wait_exit(timeout=30) == 128 + signal.SIGHUP
        assert "Traceback" not in run.text
        # buildx 0.13.1 leaves the Running state within 5 s of a SIGHUP; so must we
        assert wait_until(lambda: not (mine & active_builds(docker_host)), 5)
    finally:
        run.close()


def test_invoke_without_a_terminal(run_bxtui, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # stdin from a file (as `scripts/demo.sh < /dev/null`): no tty, commands read from it
    script = tmp_path / "cmds"
    script.write_text("cat /work/partial.txt; exit 4\n")
    with script.open("rb") as stdin:
        res = run_bxtui("build", "--progress=plain", "--invoke", "/bin/sh",
                        str(EXAMPLES / "fail-run"), stdin=stdin)
    assert res.returncode == 1, res.stderr
    assert res.stdout == "partial output\n"
    assert "debug process exited with status 4" in res.stderr
    assert "Traceback" not in res.stderr
