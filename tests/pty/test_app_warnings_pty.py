"""The app's success pane lists the build's (lint) warnings, as buildx's summary does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import bxtui_binary
from ptyscreen import PtyScreen

pytestmark = pytest.mark.daemon

DOCKERFILE = "FROM busybox:local as base\nMAINTAINER someone\nCMD echo hi\n"


def test_app_shows_lint_warnings(docker_host: str, run_buildx,  # type: ignore[no-untyped-def]
                                 tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    bx = run_buildx("build", "--progress=plain", "-o", f"type=local,dest={tmp_path / 'bx'}",
                    str(ctx))
    assert bx.returncode == 0, bx.stderr
    # BuildKit 0.13 (engine 26) does not lint ordinary builds; 0.25 reports three warnings
    linted = "warnings found" in bx.stderr
    env = dict(os.environ, DOCKER_HOST=docker_host, TERM="xterm-256color")
    run = PtyScreen([bxtui_binary(), "build", "--progress=tui", "-o",
                     f"type=local,dest={tmp_path / 'ours'}", str(ctx)], env, cols=160)
    try:
        run.wait_for(r"SUCCEEDED")
        if linted:
            run.wait_for(r"warnings\s+FromAsCasing: 'as' and 'FROM' keywords' casing")
            assert "MaintainerDeprecated" in run.text()
        else:
            run.wait_for(r"cache\s+cached")
            assert "FromAsCasing" not in run.text()
        run.send("q")
        assert run.wait_exit(timeout=30) == 0
    finally:
        run.close()
