"""Breakpoints on the real daemon: ``--break`` headless (the real binary) and the session's
``next``/``continue``.

A paused build shows the step's initial state (the file the step creates is absent), then
goes on and ends with the build's status; steps solved before a pause are not run again.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from pathlib import Path

import pytest
from conftest import bxtui_binary

from tui.debug.engine.launch import BuilderAddress
from tui.debug.engine.options import BuildOptions
from tui.debug.model.invoke import parse_invoke
from tui.debug.model.outcome import Failed, Succeeded
from tui.debug.model.pause import Resume, Where

#: Says whether the paused state has /file (the file step 3 creates).
PROBE = 'args=sh,args=-c,"args=if test -e /file; then echo HAS-FILE; else echo NO-FILE; fi"'


def _context(tmp_path: Path, last: str, token: str = "") -> Path:
    token = token or secrets.token_hex(6)  # the steps run for real (not cached earlier)
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox:local\n"
        f"RUN echo {token} > /one\n"
        f"RUN touch /file && echo {token}\n"
        f"{last}\n")
    return tmp_path


async def _headless(docker_host: str, context: Path, *args: str) -> tuple[int, str]:
    env = dict(os.environ, DOCKER_HOST=docker_host)
    proc = await asyncio.create_subprocess_exec(
        bxtui_binary(), "build", "--progress=plain", *args, str(context), env=env,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT)
    async with asyncio.timeout(120):
        out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(errors="replace")


async def test_break_shows_initial_state_then_continues(docker_host: str,
                                                        tmp_path: Path) -> None:
    token = secrets.token_hex(6)
    context = _context(tmp_path, "RUN echo last > /last", token)
    code, out = await _headless(docker_host, context, "--break", "3", "--break", "4",
                                "--invoke", PROBE)
    assert code == 0, out[-3000:]
    pauses = [line for line in out.splitlines()
              if line.startswith(("bxtui: paused", "NO-FILE", "HAS-FILE"))]
    assert pauses == [
        f"bxtui: paused before [3/4] RUN touch /file && echo {token} (Dockerfile:3)",
        "NO-FILE",
        "bxtui: paused before [4/4] RUN echo last > /last (Dockerfile:4)",
        "HAS-FILE",
    ], out[-3000:]
    # step 3 ran once (its output once): the final evaluation found it solved
    ran = re.compile(rf"^#\d+ \d+\.\d+ {token}$", re.MULTILINE)
    assert len(ran.findall(out)) == 1, out[-3000:]
    assert "writing image" in out


async def test_break_then_failure_is_the_builds_status(docker_host: str,
                                                       tmp_path: Path) -> None:
    context = _context(tmp_path, "RUN false")
    code, out = await _headless(docker_host, context, "--break", "3", "--invoke", PROBE)
    assert code == 1, out[-3000:]
    lines = out.splitlines()
    assert "NO-FILE" in lines and "HAS-FILE" not in lines, out[-3000:]
    assert "bxtui: debug process exited with status 0; continuing" in out
    assert out.rstrip().splitlines()[-1].startswith("ERROR: "), out[-3000:]


async def test_break_bad_selector_is_one_line(docker_host: str, tmp_path: Path) -> None:
    context = _context(tmp_path, "RUN true")
    code, out = await _headless(docker_host, context, "--break", "9", "--invoke", "true")
    assert code == 1
    errors = [line for line in out.splitlines() if line.startswith("ERROR")]
    assert errors == ["ERROR: failed to solve: --break 9: no step [9/...] in this build "
                      "(see the [N/M] numbers)"]
    assert "Traceback" not in out


async def test_session_next_and_continue(docker_host: str, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    context = _context(tmp_path, "RUN echo last > /last")
    session = BuilderAddress().session(BuildOptions(context=str(context)),
                                       parse_invoke("args=test,args=-e,args=/file"))
    session.set_breakpoints(["3"])
    try:
        first = await session.wait_paused()
        assert first is not None and first.where is Where.BEFORE and first.breakpoint
        assert first.name.startswith("[3/4] RUN touch /file")
        assert first.args[-1].startswith("touch /file") and first.cwd == "/"
        assert any(m.startswith("/ (bind") for m in first.mounts)
        session.resume(Resume.NEXT)
        after = await session.wait_paused()
        assert after is not None and after.where is Where.AFTER
        assert after.digest == first.digest
        ran = await session.start_paused_process(24, 80, lambda _fd, _data: None, tty=False)
        await ran.close_stdin()  # without a tty the daemon reports the exit after stdin EOF
        session_probe = "ok" if await ran.wait() == 0 else "missing"
        session.resume(Resume.NEXT)
        last = await session.wait_paused()
        assert last is not None and last.name.startswith("[4/4]") and last.where is Where.AFTER
        session.resume(Resume.CONTINUE)
        assert await session.wait_paused() is None
        assert isinstance(await session.wait_finished(), Succeeded)
        assert session_probe == "ok"
        step3 = session.graph.get(first.digest)
        assert step3 is not None and step3.state.value in ("done", "cached")
    finally:
        await session.done()
    assert not isinstance(session.outcome, Failed)


async def test_break_with_no_cache_runs_each_step_once(docker_host: str,
                                                       tmp_path: Path) -> None:
    token = secrets.token_hex(6)
    context = _context(tmp_path, "RUN echo last > /last", token)
    code, out = await _headless(docker_host, context, "--no-cache", "--break", "4",
                                "--invoke", PROBE)
    assert code == 0, out[-3000:]
    assert "HAS-FILE" in out.splitlines()  # step 3 ran in the walk, before the pause
    # --no-cache holds (step 3 ran, not cached), and the final evaluation did not run it again
    ran = re.compile(rf"^#\d+ \d+\.\d+ {token}$", re.MULTILINE)
    assert len(ran.findall(out)) == 1, out[-3000:]
