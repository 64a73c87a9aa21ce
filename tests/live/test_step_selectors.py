"""One table of ``--step`` selectors through both front-ends, on the real daemon: same answers.

Each selector goes through the headless front-end (the real ``bxtui`` binary, ``--step SEL
--invoke true``: its banner names the state it opens, or it prints one ``ERROR:`` line) and
through the session the app drives (in-process, the app's own sequence: resolve, check, open
a shell).  Both ask the same session methods, so a queued step that a later step used
(``BuildGraph.used_later``) is accepted by both alike.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from pathlib import Path

import pytest
from conftest import bxtui_binary

from tui.debug.engine.facade import OpenError
from tui.debug.engine.launch import BuilderAddress
from tui.debug.engine.options import BuildOptions
from tui.debug.engine.session import DebugSession
from tui.debug.model.outcome import StateKind, Succeeded

BANNER = re.compile(r"bxtui: running 'true' in (?P<target>.*); exit it to finish")


@pytest.fixture(autouse=True)
def _daemon_env(docker_host: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", docker_host)  # where BuilderAddress() builds


def _address(docker_host: str) -> BuilderAddress:
    del docker_host  # the environment says it (see _daemon_env)
    return BuilderAddress()


async def headless_answer(docker_host: str, context: Path, selector: str) -> str:
    """What the real binary says for ``--step selector``: the state it opens, or its error."""
    env = dict(os.environ, DOCKER_HOST=docker_host)
    proc = await asyncio.create_subprocess_exec(
        bxtui_binary(), "build", "--progress=plain", "--step", selector, "--invoke", "true",
        str(context), env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(180):
        _, err = await proc.communicate()
    text = err.decode()
    m = BANNER.search(text)
    if m is not None:
        assert proc.returncode == 0, text[-2000:]
        assert "bxtui: debug process exited with status 0" in text, text[-2000:]
        return f"opens {m['target']}"
    assert proc.returncode == 1, text[-2000:]
    return [line for line in text.splitlines() if line.startswith("ERROR: ")][-1]


async def session_answer(session: DebugSession, selector: str) -> str:
    """What the app's session says for ``--step selector`` (the app's own sequence)."""
    try:
        digest = session.resolve_step(selector)
    except OpenError as exc:
        return f"ERROR: {exc}"
    reason = session.step_unavailable(digest)
    if reason:
        return f"ERROR: {reason}"
    try:
        shell = await session.open_shell(StateKind.FINAL, 24, 80, lambda _fd, _d: None,
                                         step=digest)
    except OpenError as exc:
        return f"ERROR: {exc}"
    await shell.kill()
    return f"opens {shell.label}"


async def _session(docker_host: str, context: Path) -> DebugSession:
    session = _address(docker_host).session(BuildOptions(context=str(context)))
    session.start()
    assert isinstance(await session.wait_finished(), Succeeded)
    return session


async def test_selector_table_same_answers_headless_and_app(docker_host: str,
                                                            tmp_path: Path) -> None:
    nonce = secrets.token_hex(4)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(f"FROM busybox:local\nRUN echo one-{nonce} > /one.txt\n"
                                    f"RUN echo two-{nonce} > /two.txt\n")
    warm = _address(docker_host).session(BuildOptions(context=str(ctx)), keep=False)
    try:
        warm.start()
        assert isinstance(await warm.wait_finished(), Succeeded)
    finally:
        await warm.done()
    session = await _session(docker_host, ctx)
    try:
        second = next(v for v in session.graph if v.name.startswith("[2/3]"))
        third = next(v for v in session.graph if v.name.startswith("[3/3]"))
        assert third.step is not None
        table: list[tuple[str, str]] = [
            ("2", f"opens the state after {second.name}"),
            (f"#{third.step}", f"opens the state after {third.name}"),
            (second.digest.removeprefix("sha256:")[:12], f"opens the state after {second.name}"),
            ("2!", "ERROR: invalid --step '2!': expected N, STAGE:N, #N or a digest prefix"),
            ("9", "ERROR: no step [9/...] in this build (see the [N/M] numbers)"),
        ]
        app = {sel: await session_answer(session, sel) for sel, _ in table}
    finally:
        await session.done()
    headless = {sel: await headless_answer(docker_host, ctx, sel) for sel, _ in table}
    for sel, want in table:
        assert app[sel] == want, (sel, app[sel])
        assert headless[sel] == want, (sel, headless[sel])
