"""``--watch`` in the real app in a real PTY: fixing the Dockerfile on disk rebuilds it."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLES, bxtui_binary
from ptyscreen import PtyScreen

pytestmark = [pytest.mark.daemon, pytest.mark.timeout(150)]

CHORD = b"\x1d"  # ctrl+]
PROMPT = r"/work # "


def test_watch_rebuilds_after_the_dockerfile_is_fixed(docker_host: str, tmp_path: Path) -> None:
    context = tmp_path / "fail-run"
    shutil.copytree(EXAMPLES / "fail-run", context)
    dockerfile = context / "Dockerfile"
    env = dict(os.environ, DOCKER_HOST=docker_host, TERM="xterm-256color")
    run = PtyScreen([bxtui_binary(), "build", "--watch", str(context)], env, rows=40, cols=140)
    try:
        run.wait_for(r"exit code 3")
        run.send("f")  # a shell is open: the rebuild is asked for, not done silently
        run.wait_for(PROMPT, timeout=30)
        run.send(CHORD)
        run.wait_for(r"q Quit")
        text = dockerfile.read_text()
        fix = f"echo fixed-{secrets.token_hex(6)}"
        dockerfile.write_text(text.replace("sh app.sh test", fix))
        run.wait_for(r"Rebuild now\? The open shells end", timeout=20)
        run.send("y")
        run.wait_for(r"Build succeeded", timeout=60)
        run.wait_for(r"Dockerfile since the last build: line 6 changed")
        # no shell open now: a change rebuilds at once, without asking
        dockerfile.write_text(text.replace("sh app.sh test", f"{fix} && exit 4"))
        run.wait_for(r"rebuilding", timeout=20)
        run.wait_for(r"exit code 4", timeout=60)
        assert "Rebuild now?" not in run.text()
        run.send("q")
        assert run.wait_exit(timeout=30) == 1
    finally:
        run.close()


def test_watch_needs_a_dockerfile_on_disk(tmp_path: Path) -> None:
    import subprocess

    proc = subprocess.run([bxtui_binary(), "build", "--watch", "-f", "-", str(tmp_path)],
                          input="FROM busybox:local\n", capture_output=True, text=True,
                          timeout=30)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "--watch needs a Dockerfile on disk" in proc.stderr
