"""Interrupting a running build: clean exit, the daemon-side build ends, nothing left behind."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import threading
from pathlib import Path

import pytest
from conftest import active_builds, bxtui_binary, wait_until

pytestmark = pytest.mark.daemon


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signal_during_build(sig: int, tmp_path: Path, docker_host: str) -> None:
    token = os.urandom(4).hex()
    ctx, private = tmp_path / "ctx", tmp_path / "tmp"  # TMPDIR of its own: others share /tmp
    ctx.mkdir()
    private.mkdir()
    (ctx / "Dockerfile").write_text(
        f"FROM busybox:local\nRUN echo started-{token} && sleep 120\n"
    )
    before = active_builds(docker_host)
    proc = subprocess.Popen(
        [bxtui_binary(), "build", "--progress=plain", str(ctx)],
        env=dict(os.environ, DOCKER_HOST=docker_host, TMPDIR=str(private)),
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert proc.stderr is not None
    stream = proc.stderr
    reader = threading.Thread(target=lambda: [lines.put(x) for x in stream], daemon=True)
    reader.start()
    seen = []
    try:
        while True:
            line = lines.get(timeout=60)
            seen.append(line)
            if f"started-{token}" in line and "echo" not in line:
                break
        mine = active_builds(docker_host) - before
        assert mine, "the build should be running in the daemon"
        proc.send_signal(sig)
        rc = proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        reader.join(10)  # everything it printed is in ``lines``
        stream.close()
    assert rc == 128 + sig
    rest = []
    while not lines.empty():
        rest.append(lines.get())
    assert "Traceback" not in "".join(seen + rest)
    assert wait_until(lambda: not (mine & active_builds(docker_host)), 10), "build left running"
    assert not list(private.iterdir()), "private directory left behind"
