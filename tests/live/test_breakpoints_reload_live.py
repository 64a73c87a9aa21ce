"""Breakpoints survive reload on their Dockerfile line (the real daemon).

A line inserted above the breakpoint's step changes that step's digest and position: the
reloaded build still pauses before the same instruction.  Deleting the instruction drops it.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from stepfiles import four_steps

from tui.debug.engine.launch import BuilderAddress
from tui.debug.engine.options import BuildOptions
from tui.debug.model.outcome import Failed, Succeeded
from tui.debug.model.pause import Resume, Where

pytestmark = pytest.mark.daemon


async def test_breakpoint_follows_its_line_across_reload(docker_host: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    token = secrets.token_hex(6)
    dockerfile = four_steps(tmp_path, token)
    session = BuilderAddress().session(BuildOptions(context=str(tmp_path)))
    session.set_breakpoints(["3"], toggles=True)
    try:
        first = await session.wait_paused()
        assert first is not None and first.where is Where.BEFORE
        assert first.name.startswith("[3/4] RUN touch /file")
        session.resume(Resume.CONTINUE)
        assert isinstance(await session.wait_finished(), Succeeded)
        # a line inserted above: step 3 is now step 4, with another digest
        dockerfile.write_text(dockerfile.read_text().replace(
            "RUN touch /file\n", f"RUN echo {token} > /inserted\nRUN touch /file\n"))
        await session.reload()
        again = await session.wait_paused()
        assert again is not None and again.where is Where.BEFORE and again.breakpoint
        assert again.name.startswith("[4/5] RUN touch /file"), again.name
        assert again.source is not None and again.source.describe() == "Dockerfile:4"
        assert again.digest != first.digest
        assert session.breakpoints == {again.digest}  # nothing lingers on line 3
        session.resume(Resume.CONTINUE)
        assert isinstance(await session.wait_finished(), Succeeded)
        # the instruction deleted: its breakpoint goes with it, the build runs through
        dockerfile.write_text(dockerfile.read_text().replace("RUN touch /file\n", ""))
        await session.reload()
        assert await session.wait_paused() is None
        assert isinstance(await session.wait_finished(), Succeeded)
        assert session.breakpoints == frozenset()
    finally:
        await session.done()


async def test_breakpoint_set_after_the_build_pauses_the_reload(
        docker_host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox:local\n"
        f"RUN echo {secrets.token_hex(6)} > /one\n"
        "RUN touch /file\n")
    session = BuilderAddress().session(BuildOptions(context=str(tmp_path)))
    session.set_breakpoints([], toggles=True)  # the app: no --break, space later
    try:
        assert await session.wait_paused() is None
        assert isinstance(await session.wait_finished(), Succeeded)
        step = next(v.digest for v in session.graph if v.name.startswith("[3/3]"))
        assert session.toggle_breakpoint(step)
        assert not session.breakpoint_applies(step)  # this build is past it
        await session.reload()
        pause = await session.wait_paused()
        assert pause is not None and pause.digest == step and pause.where is Where.BEFORE
        assert session.breakpoint_applies(step) is False  # paused at it: not again
        session.resume(Resume.CONTINUE)
        assert isinstance(await session.wait_finished(), Succeeded)
    finally:
        await session.done()


async def test_breakpoint_on_a_step_reported_under_another_digest(
        docker_host: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A step whose cache key equals a vertex still open in another build (a failed build
    kept open for debugging) is reported under that vertex's digest, not under the one this
    build's definition has (its context source carries its own session): the report stands
    in on this build's own row (no second row), and a breakpoint set on it still holds."""
    monkeypatch.setenv("DOCKER_HOST", docker_host)
    (tmp_path / "app.sh").write_text(f"echo {secrets.token_hex(6)}\n")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text(
        "FROM busybox:local\n"
        "COPY app.sh /app.sh\n"
        "RUN sh /app.sh > /out\n"
        "RUN false\n")
    holder = BuilderAddress().session(BuildOptions(context=str(tmp_path)))
    session = BuilderAddress().session(BuildOptions(context=str(tmp_path)))
    session.set_breakpoints(["3"], toggles=True)
    try:
        assert isinstance(await holder.wait_finished(), Failed)
        before = await session.wait_paused()
        assert before is not None and before.name.startswith("[3/4]")
        session.resume(Resume.NEXT)  # step 3 runs: a cache hit on the holder's vertex
        after = await session.wait_paused()
        assert after is not None and after.where is Where.AFTER
        shown = session.step_row(after.digest)
        assert shown == after.digest  # our row, not a row of the holder's digest
        rows = [v for v in session.graph if v.name.startswith("[3/4] RUN sh /app.sh")]
        assert [v.digest for v in rows] == [shown], [(v.digest, v.name) for v in rows]
        assert rows[0].is_completed
        assert any(v.name.startswith("[3/4] RUN") and v.digest not in session.graph
                   for v in holder.graph)  # the holder's run has a digest of its own
        session.resume(Resume.CONTINUE)
        assert isinstance(await session.wait_finished(), Failed)
        assert shown in session.breakpoints  # the row shows the mark of --break 3
        assert not session.toggle_breakpoint(shown)  # the row is step 3: cleared, set again
        assert session.toggle_breakpoint(shown)
        dockerfile.write_text(dockerfile.read_text().replace(
            "COPY", "ENV X=1\nCOPY"))  # a line above: the step moves to line 4
        await session.reload()
        pause = await session.wait_paused()
        assert pause is not None and pause.where is Where.BEFORE
        assert pause.name.startswith("[3/4] RUN sh /app.sh"), pause.name
        assert pause.source is not None and pause.source.describe() == "Dockerfile:4"
        session.resume(Resume.CONTINUE)
        assert isinstance(await session.wait_finished(), Failed)
    finally:
        await session.done()
        await holder.done()
