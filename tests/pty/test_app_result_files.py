"""The app writes ``--iidfile`` and ``--metadata-file`` as soon as the build has succeeded."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from conftest import EXAMPLES, bxtui_binary, wait_until
from ptyscreen import PtyScreen

pytestmark = pytest.mark.daemon


def test_app_writes_result_files_while_open(docker_host: str, run_buildx,  # type: ignore[no-untyped-def]
                                            tmp_path: Path) -> None:
    bx = run_buildx("build", "-q", str(EXAMPLES / "success"))
    assert bx.returncode == 0, bx.stderr
    iid, meta = tmp_path / "iid", tmp_path / "meta.json"
    iid.write_text("stale")
    env = dict(os.environ, DOCKER_HOST=docker_host, TERM="xterm-256color")
    run = PtyScreen([bxtui_binary(), "build", "--progress=tui", "--iidfile", str(iid),
                     "--metadata-file", str(meta), str(EXAMPLES / "success")], env)
    try:
        run.wait_for(r"SUCCEEDED")
        # written while the app is still open, not when it closes
        assert wait_until(lambda: iid.exists() and meta.exists(), 10)
        assert run.proc.isalive()
        run.send("q")
        assert run.wait_exit(timeout=30) == 0
    finally:
        run.close()
    assert iid.read_text() == bx.stdout.strip()
    doc = json.loads(meta.read_text())
    assert doc["containerimage.config.digest"] == bx.stdout.strip()
    assert doc["buildx.build.ref"].startswith("default/default/")
