"""Exploring any state on the real daemon: any step, files, the failed step's diff, toolbox."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLES, active_builds, wait_until

from tui.buildkit.client import BuildkitClient
from tui.debug.engine.explore import Explorer
from tui.debug.engine.options import DOCKERFILE_FRONTEND, BuildOptions
from tui.debug.engine.result import ResultContext, new_result_context
from tui.debug.engine.stepshell import Shells
from tui.debug.model.fsmodel import format_stat
from tui.debug.model.graph import BuildGraph
from tui.debug.model.invoke import InvokeConfig
from tui.debug.model.stepsel import StepRef, resolve_step

pytestmark = pytest.mark.daemon




class Built:
    """A finished build with its graph, context and explorer."""

    def __init__(self, ctx: ResultContext, graph: BuildGraph, explorer: Explorer) -> None:
        self.ctx = ctx
        self.graph = graph
        self.explorer = explorer
        self.shells = Shells(explorer)

    def step(self, selector: str) -> StepRef:
        return resolve_step(selector, [StepRef(v.digest, v.name, v.step)
                                       for v in self.graph if v.declared])


async def build(client: BuildkitClient, context: Path, **kw: object) -> Built:
    opts = BuildOptions(context=str(context), **kw)  # type: ignore[arg-type]
    graph = BuildGraph(1 << 20)
    ctx, _, _ = await new_result_context(client, opts, graph.apply)
    assert ctx is not None
    return Built(ctx, graph, Explorer(ctx, DOCKERFILE_FRONTEND, opts.frontend_opts(engine=True),
                                      opts.local_dirs()))


async def output_of(start, script: str) -> tuple[int, str, bool]:  # type: ignore[no-untyped-def]
    """Run ``sh -c script`` through a Shells starter (non-tty); exit code, output, toolbox."""
    out = bytearray()
    cfg = InvokeConfig(cmd=["/bin/sh", "-c", script], tty=False)
    _, proc, toolbox = await start(cfg, lambda _fd, data: out.extend(data))
    await proc.close_stdin()
    code = await asyncio.wait_for(proc.wait(), 60)
    return code, out.decode(), toolbox or proc.fell_back


async def test_any_step_of_a_failed_build_is_its_own_state(client: BuildkitClient) -> None:
    b = await build(client, EXAMPLES / "multi-step")
    try:
        assert b.ctx.failed
        two = b.step("2")
        assert two.name.startswith("[2/6] RUN echo one")
        code, out, toolbox = await output_of(
            lambda cfg, o: b.shells.step(two.digest, cfg, o),
            "ls /; test -e /two.txt && echo HAS_TWO; cat /one.txt; pwd")
        assert code == 0 and not toolbox, out
        words = out.split()
        assert "one.txt" in words and "HAS_TWO" not in words and "work" not in words, out
        assert words[-2:] == ["one", "/"], out
        # step 5: after WORKDIR and ENV; the step's own env and cwd
        five = b.step("5")
        code, out, _ = await output_of(lambda cfg, o: b.shells.step(five.digest, cfg, o),
                                       "pwd; echo $STEP; ls")
        assert out.split() == ["/work", "four", "four.txt"], out
        # its files without a shell
        snap = await (await b.explorer.step_state(two.digest, two.name)).snapshot()
        assert snap.get("one.txt") is not None and snap.get("two.txt") is None
        assert snap.get("one.txt").size == 4  # type: ignore[union-attr]
    finally:
        await b.ctx.done()


async def test_any_step_of_a_successful_build(client: BuildkitClient) -> None:
    b = await build(client, EXAMPLES / "success")
    try:
        assert not b.ctx.failed
        steps = [v for v in b.graph if v.declared and v.name.startswith("[")]
        first_run = next(v for v in steps if " RUN " in v.name)
        code, out, _ = await output_of(lambda cfg, o: b.shells.step(first_run.digest, cfg, o),
                                       "echo ok")
        assert code == 0 and out.strip() == "ok"
    finally:
        await b.ctx.done()


async def test_diff_of_the_failed_run_lists_exactly_its_changes(
        client: BuildkitClient) -> None:
    b = await build(client, EXAMPLES / "fail-changes")
    try:
        diffs = await b.explorer.diffs()
        assert [d.label for d in diffs] == ["/"]
        got = {(c.status, c.path, c.what) for c in diffs[0].changes}
        assert got == {
            ("added", "data/added.txt", ()),
            ("changed", "data/edit.txt", ("content",)),
            ("removed", "data/gone.txt", ()),
            ("changed", "data/link", ("link",)),
            ("added", "data/made", ()),
            ("added", "data/made/deep", ()),
            ("added", "data/made/deep/d.txt", ()),
            ("changed", "data/run.sh", ("mode",)),
            ("removed", "data/sub", ()),
            ("removed", "data/sub/s.txt", ()),
        }
        lines = await b.explorer.unified("/", "data/edit.txt")
        assert lines is not None and "+new" in lines and " old" in lines
        text = format_stat(diffs)
        assert "4 added, 3 removed, 3 changed" in text
        assert " M /data/run.sh  (mode -rw-r--r-- -> -rwxr-xr-x)" in text
    finally:
        await b.ctx.done()


async def test_scratch_image_browser_and_toolbox_shell(client: BuildkitClient) -> None:
    b = await build(client, EXAMPLES / "scratch-tool")
    try:
        assert not b.ctx.failed
        state = b.explorer.result_state()
        assert state is not None
        snap = await state.snapshot()
        assert {e.path for e in snap} >= {"hello", "srv", "srv/message.txt"}
        assert snap.get("bin") is None  # no shell, no coreutils
        data = await state.read("srv/message.txt")
        assert data == b"hello from a scratch image\n"
        # the default shell does not exist: the toolbox takes over, the state stays the root
        code, out, toolbox = await output_of(lambda cfg, o: b.shells.failed(cfg, o),
                                             "cat message.txt; ls /; pwd")
        assert toolbox and code == 0, out
        words = out.split()
        assert words[:5] == ["hello", "from", "a", "scratch", "image"], out
        assert "hello" in words[5:] and words[-1] == "/srv", out
    finally:
        await b.ctx.done()


async def test_failed_copy_inputs_show_what_dockerignore_removed(
        client: BuildkitClient, tmp_path: Path) -> None:
    ctx_dir = tmp_path / "ctx"
    shutil.copytree(EXAMPLES / "copy-ignored", ctx_dir)
    b = await build(client, ctx_dir)
    try:
        assert b.ctx.failed
        inputs = dict(await b.explorer.file_op_inputs())
        assert set(inputs) == {"dest", "src"}
        src = inputs["src"]
        assert sorted(src.excluded) == ["config.json", "logs"]
        assert "not sent (.dockerignore)" in src.note
        assert {e.path for e in await src.snapshot()} == {"", "app.conf"}
        dest = await inputs["dest"].snapshot()
        assert dest.get("app/app.conf") is not None and dest.get("app/config.json") is None
        code, out, toolbox = await output_of(lambda cfg, o: b.shells.failed(cfg, o),
                                             "pwd; ls /src; ls /dest/app")
        assert toolbox and code == 0 and out.split() == ["/src", "app.conf", "app.conf"], out
    finally:
        await b.ctx.done()


def test_cli_diff_and_step(run_bxtui, docker_host: str) -> None:  # type: ignore[no-untyped-def]
    res = run_bxtui("build", "--progress=quiet", "--diff", str(EXAMPLES / "fail-changes"))
    assert res.returncode == 1, res.stderr
    assert res.stdout.splitlines()[0] == "--- /: 4 added, 3 removed, 3 changed", res.stdout
    assert " D /data/gone.txt" in res.stdout.splitlines()
    res = run_bxtui("build", "--progress=quiet", "--step", "2", str(EXAMPLES / "multi-step"),
                    input="ls /; exit 5\n")
    assert res.returncode == 1, res.stderr
    assert "one.txt" in res.stdout.split() and "two.txt" not in res.stdout
    assert "debug process exited with status 5" in res.stderr
    # the failed step itself: its final state (not a re-run of the failing step)
    res = run_bxtui("build", "--progress=quiet", "--step", "6", str(EXAMPLES / "multi-step"),
                    input="ls /work; exit 0\n")
    assert res.returncode == 1, res.stderr
    assert "in the final state of [6/6]" in res.stderr and "four.txt" in res.stdout
    res = run_bxtui("build", "--progress=quiet", "--step", "builder:2",
                    str(EXAMPLES / "multi-step"))
    assert res.returncode == 1
    assert res.stderr.strip().splitlines()[-1] == \
        "ERROR: no step [2/...] in stage 'builder' in this build (see the [N/M] numbers)"
    assert "Traceback" not in res.stderr
    assert wait_until(lambda: not active_builds(docker_host), 20)


def test_cli_toolbox_flag(run_bxtui, docker_host: str) -> None:  # type: ignore[no-untyped-def]
    # given explicitly, the toolbox is on PATH even where the state has a shell
    res = run_bxtui("build", "--progress=quiet", "--toolbox", "busybox:local", "--step", "2",
                    str(EXAMPLES / "multi-step"),
                    input="case $PATH in *:/.bxtui/toolbox/bin:*) echo ON_PATH;; esac\n")
    assert res.returncode == 1, res.stderr
    assert "ON_PATH" in res.stdout, res.stdout + res.stderr
    # an image the daemon cannot get: one clear line (a registry on a closed loopback port)
    res = run_bxtui("build", "--progress=quiet", "--toolbox", "127.0.0.1:9/no/toolbox:x",
                    "--step", "2", str(EXAMPLES / "multi-step"), input="true\n")
    assert res.returncode == 1
    last = res.stderr.strip().splitlines()[-1]
    assert last.startswith("ERROR: the toolbox image 127.0.0.1:9/no/toolbox:x is not available")
    assert "Traceback" not in res.stderr
    assert wait_until(lambda: not active_builds(docker_host), 20)
