"""-D/--debug: what a bug report needs, secrets redacted (unit tests and the real binary)."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from conftest import EXAMPLES, bxtui_binary
from ptyscreen import PtyScreen

from tui.buildkit import debuglog


def test_redact_fields_headers_urls_and_registered_values() -> None:
    text = ("build-arg:API_TOKEN=tok-123 GITHUB_TOKEN=ghp_x PLAIN=visible "
            "{'build-arg:DB_PASSWORD': 'hunter2', 'filename': 'Dockerfile'} "
            '{"password": "pw1", "user": "bob"} Authorization: Bearer abc.def '
            "https://bob:pa55@registry.example/v2/")
    out = debuglog.redact(text)
    for secret in ("tok-123", "ghp_x", "hunter2", "pw1", "abc.def", "pa55"):
        assert secret not in out, (secret, out)
    for kept in ("PLAIN=visible", "'filename': 'Dockerfile'", '"user": "bob"',
                 "https://bob:***@registry.example/v2/", "build-arg:API_TOKEN=***"):
        assert kept in out, (kept, out)
    debuglog.register_secret(b"s3cr3t-value\n")
    debuglog.register_secret("abc")  # too short to be masked everywhere
    assert debuglog.redact("got s3cr3t-value and abc") == "got *** and abc"


def test_interceptors_only_when_enabled() -> None:
    logger = logging.getLogger("bxtui")
    level = logger.level
    try:
        logger.setLevel(logging.WARNING)
        assert debuglog.interceptors() == []
        logger.setLevel(logging.DEBUG)
        assert len(debuglog.interceptors()) == 3
    finally:
        logger.setLevel(level)


@pytest.mark.daemon
def test_headless_debug_log_on_stderr_and_in_a_file(run_bxtui, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    env = {"MYSEC": "s3cr3t-value"}
    args = ["build", "--progress=quiet", "--no-cache", "--build-arg", "API_TOKEN=tok-12345",
            "--secret", "id=token,env=MYSEC", str(EXAMPLES / "secret")]
    res = run_bxtui(*args[:1], "-D", *args[1:], env=env)
    assert res.returncode == 0, res.stderr
    log = res.stderr
    for needed in ("connecting to Docker Engine at unix://", "rpc Control/Solve ok in",
                   "rpc LLBBridge/Solve", "stream Control/Status closed after",
                   "session: secret 'token' asked for: found", "solved in"):
        assert needed in log, needed
    assert "tok-12345" not in log and "s3cr3t-value" not in log
    assert "build-arg:API_TOKEN': '***'" in log
    # --debug-file: the same into a 0600 file, nothing on stderr
    path = tmp_path / "debug.log"
    res = run_bxtui(*args[:1], "--debug-file", str(path), *args[1:], env=env)
    assert res.returncode == 0 and "DEBUG" not in res.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert "rpc Control/Solve ok in" in text and "s3cr3t-value" not in text
    assert "tok-12345" not in text


@pytest.mark.daemon
def test_app_debug_log_goes_to_a_private_file(docker_host: str, tmp_path: Path) -> None:
    env = dict(os.environ, DOCKER_HOST=docker_host, TERM="xterm-256color",
               XDG_STATE_HOME=str(tmp_path))
    run = PtyScreen([bxtui_binary(), "build", "-D", str(EXAMPLES / "fail-run")], env,
                    rows=40, cols=140)
    try:
        run.wait_for(r"exit code 3")
        assert "DEBUG" not in run.text()  # the screen stays the app's
        run.send("q")
        assert run.wait_exit(timeout=30) == 1
        folder = tmp_path / "bxtui"
        logs = list(folder.glob("debug-*.log"))
        assert len(logs) == 1
        assert f"bxtui: debug log in {logs[0]}" in run.tail()
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE(logs[0].stat().st_mode) == 0o600
        text = logs[0].read_text()
        assert "rpc Control/Solve" in text and "build" in text
    finally:
        run.close()
