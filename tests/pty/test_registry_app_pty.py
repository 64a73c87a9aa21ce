"""The app debugs a build FROM the private registry (credentials from a docker config file)."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest
from conftest import Registry, bxtui_binary
from ptyscreen import PtyScreen

pytestmark = pytest.mark.daemon

CHORD = b"\x1d"  # ctrl+]


def test_final_initial_and_diff_on_a_pulled_image(docker_host: str, registry: Registry,
                                                   tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "config.json").write_text(json.dumps(
        {"auths": {registry.tls_address: {"auth": registry.auth()}}}))
    token = secrets.token_hex(4)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(
        f"FROM {registry.ref(tls=True)}\n"
        f"RUN echo {token} > /made && exit 5\n")
    env = dict(os.environ, DOCKER_HOST=docker_host, DOCKER_CONFIG=str(cfg),
               TERM="xterm-256color")
    run = PtyScreen([bxtui_binary(), "build", "--pull", str(ctx)], env, rows=40, cols=140)
    try:
        run.wait_for(r"exit code 5", timeout=90)
        run.send("f")  # the final state: the failed RUN's file is there
        run.wait_for(r"(?s)shell: the final state.*/ # ", timeout=30)
        run.send("cat /made; busybox | head -1 | cut -c1-7\r")
        run.wait_for(rf"│{token} ")
        run.wait_for(r"│BusyBox")
        run.send(CHORD)
        run.wait_for(r"i Initial")
        run.send("i")  # the initial state: not yet
        run.wait_for(r"(?s)shell: the initial state.*/ # ", timeout=30)
        run.send("test -e /made || echo NOT$((1+1))MADE\r")
        run.wait_for(r"NOT2MADE")
        run.send(CHORD)
        run.wait_for(r"d Diff")
        run.send("d")  # what the RUN changed: /made added (and the runtime's mount points)
        run.wait_for(r"Diff: what the failed step changed", timeout=30)
        run.wait_for(r"A +made +9 bytes", timeout=30)
        run.send(b"\x1b")
        run.wait_gone(r"A +made +9 bytes")
        run.send("q")
        assert run.wait_exit(timeout=30) == 1
        assert registry.password not in run.text() and registry.auth() not in run.text()
    finally:
        run.close()
