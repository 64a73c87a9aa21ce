"""The real app with ``--push`` to the private registry: the push step, "pushed to", CACHED."""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path

import pytest
from conftest import Registry, bxtui_binary
from dockerapi import DockerAPI
from ptyscreen import PtyScreen

pytestmark = pytest.mark.daemon


def test_app_pushes_and_says_where(docker_host: str, registry: Registry, tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "config.json").write_text(
        json.dumps({"auths": {registry.address: {"auth": registry.auth()}}}))
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    token = secrets.token_hex(4)
    (ctx / "Dockerfile").write_text(f"FROM {registry.ref()}\nRUN echo app-push-{token}\n")
    ref = f"{registry.address}/bxtui-push-app-{token}/img:t1"
    env = dict(os.environ, DOCKER_HOST=docker_host, TERM="xterm-256color",
               DOCKER_CONFIG=str(cfg))
    api = DockerAPI(docker_host)
    try:
        for attempt in ("first", "again"):
            # the second build imports the inline cache it pushed: its RUN shows CACHED
            extra = (["--cache-to", "type=inline"] if attempt == "first"
                     else ["--cache-from", f"type=registry,ref={ref}"])
            run = PtyScreen([bxtui_binary(), "build", "-t", ref, "--push", *extra, str(ctx)],
                            env, rows=40, cols=160)
            try:
                run.wait_for(r"SUCCEEDED")
                # the graph's push step (its name cut to the pane's width)
                run.wait_for(r"#\d+ pushing " + re.escape(ref[:30]))
                run.wait_for(r"pushed to")
                if attempt == "again":
                    run.wait_for(r"importing cache manifest from")
                    run.wait_for(r"RUN echo app-push-" + token + r" +CACHED")
                run.send("q")
                assert run.wait_exit(timeout=30) == 0
                tail = run.tail()
                assert f"pushed to {ref}@sha256:" in tail, tail
                assert registry.password not in run.text() + tail
            finally:
                run.close()
    finally:
        api.request("DELETE", f"/images/{ref}?noprune=1")
