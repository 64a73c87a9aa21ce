"""ResultContext on the real daemon: containers in the failed step's states, processes, Done()."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest
from conftest import EXAMPLES
from dockerapi import DockerAPI

from tui.buildkit.client import BuildkitClient
from tui.debug.engine.container import ContainerProcess
from tui.debug.engine.options import BuildOptions
from tui.debug.engine.result import ResultContext, new_result_context
from tui.debug.model.invoke import InvokeConfig, InvokeError
from tui.debug.model.state import StateKind

pytestmark = pytest.mark.daemon




async def open_ctx(client: BuildkitClient, example: str):  # type: ignore[no-untyped-def]
    return await new_result_context(client, BuildOptions(context=str(EXAMPLES / example)))


async def run(ctx: ResultContext, cfg: InvokeConfig, stdin: bytes = b"") -> tuple[int, str]:
    """Run a non-tty process to completion; (exit code, output)."""
    out = bytearray()
    cfg.tty = False
    _, proc = await ctx.exec(cfg, lambda _fd, data: out.extend(data))
    if stdin:
        await proc.write(stdin)
    await proc.close_stdin()
    code = await asyncio.wait_for(proc.wait(), 60)
    return code, out.decode()


def sh(script: str, **kw: object) -> InvokeConfig:
    return InvokeConfig(cmd=["sh", "-c", script], **kw)  # type: ignore[arg-type]


FAILING_AS_NOBODY = (
    "FROM busybox:local\n"
    "RUN mkdir /w && chown nobody /w\n"
    "WORKDIR /w\n"
    "USER nobody\n"
    "ENV STEP_ENV=from-step\n"
    "RUN echo before > /w/before.txt\n"
    "RUN echo partial > /w/partial.txt && echo failing-{token} && exit 3\n"
)


async def test_failed_run_final_and_initial_states(
    tmp_path: Path, client: BuildkitClient
) -> None:
    (tmp_path / "Dockerfile").write_text(FAILING_AS_NOBODY.format(token=secrets.token_hex(4)))
    ctx, resp, err = await new_result_context(client, BuildOptions(context=str(tmp_path)))
    assert ctx is not None and resp is None and err is not None
    try:
        assert err.exit_code == 3 and ctx.failed
        code, out = await run(ctx, sh("id -u; pwd; echo $STEP_ENV; cat partial.txt before.txt"))
        assert code == 0, out
        assert out.split() == ["65534", "/w", "from-step", "partial", "before"]
        code, out = await run(ctx, sh("ls /w", state=StateKind.INITIAL))
        assert code == 0 and out.split() == ["before.txt"], out
        # overrides: user, cwd, env
        code, out = await run(ctx, sh("id -u; pwd; echo $X $STEP_ENV", user="0", cwd="/tmp",
                                      env=["X=over"]))
        assert out.split() == ["0", "/tmp", "over", "from-step"], out
        # no command: the step's own command runs again
        code, out = await run(ctx, InvokeConfig())
        assert code == 3 and "failing-" in out
    finally:
        await ctx.done()
    assert ctx.gateway.build_ref not in await client.active_builds()


async def test_success_uses_image_config(client: BuildkitClient) -> None:
    opts = BuildOptions(context=str(EXAMPLES / "success"))
    ctx, resp, err = await new_result_context(client, opts)
    assert ctx is not None and err is None and resp is not None
    try:
        assert not ctx.failed
        code, out = await run(ctx, sh("pwd; echo $GREETING; cat status"))
        assert (code, out.split()) == (0, ["/app", "hello", "built", "ok"])
        # the image's CMD when no command is given
        code, out = await run(ctx, InvokeConfig())
        assert (code, out) == (0, "built ok\n")
        with pytest.raises(InvokeError, match="initial state exists only for a failed step"):
            await ctx.exec(InvokeConfig(cmd=["true"], state=StateKind.INITIAL), lambda _f, _d: None)
    finally:
        await ctx.done()
    assert ctx.gateway.build_ref not in await client.active_builds()


async def test_non_final_stage_failure(client: BuildkitClient) -> None:
    ctx, _, err = await open_ctx(client, "fail-stage")
    assert ctx is not None and err is not None and err.exit_code == 2
    try:
        code, out = await run(ctx, sh("pwd; cat log.txt"))
        assert (code, out.split()) == (0, ["/src", "compiling"])
    finally:
        await ctx.done()


async def test_cache_mount_is_mounted(tmp_path: Path, client: BuildkitClient) -> None:
    token = secrets.token_hex(4)
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox:local\n"
        f"RUN --mount=type=cache,id=bxtui-{token},target=/cache "
        f"echo {token} > /cache/marker && exit 4\n"
    )
    ctx, _, err = await new_result_context(client, BuildOptions(context=str(tmp_path)))
    assert ctx is not None and err is not None and err.exit_code == 4
    try:
        code, out = await run(ctx, sh("cat /cache/marker; mount | grep -c ' /cache '"))
        assert code == 0 and out.split() == [token, "1"], out
    finally:
        await ctx.done()


async def test_processes_one_after_another_and_signals(client: BuildkitClient) -> None:
    ctx, _, _ = await open_ctx(client, "fail-run")
    assert ctx is not None
    try:
        assert (await run(ctx, sh("echo one")))[1] == "one\n"
        assert (await run(ctx, sh("echo two")))[1] == "two\n"
        # a process killed by a signal
        started = asyncio.Event()
        out = bytearray()

        def on_out(_fd: int, data: bytes) -> None:
            out.extend(data)
            if b"ready" in out:
                started.set()

        cfg = sh("trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 1; done",
                 tty=False)
        _, proc = await ctx.exec(cfg, on_out)
        await proc.close_stdin()  # without a tty the daemon reports the exit after stdin EOF
        await asyncio.wait_for(started.wait(), 30)
        await proc.signal("SIGTERM")
        assert await asyncio.wait_for(proc.wait(), 30) == 42
        assert b"got-term" in out
        out.clear()
        started.clear()
        _, proc2 = await ctx.exec(sh("echo ready; sleep 600", tty=False), on_out)
        await proc2.close_stdin()
        await asyncio.wait_for(started.wait(), 30)
        await proc2.signal("KILL")
        assert await asyncio.wait_for(proc2.wait(), 30) == 137
        # a command that does not exist: clear error, context still usable
        code, text = await run(ctx, InvokeConfig(cmd=["no-such-command"]))
        assert code != 0 and "no-such-command" in text and "not found" in text
        assert (await run(ctx, sh("echo still-usable")))[1] == "still-usable\n"
    finally:
        await ctx.done()
    assert ctx.gateway.build_ref not in await client.active_builds()


async def test_tty_process_has_real_size_and_resizes(client: BuildkitClient) -> None:
    ctx, _, _ = await open_ctx(client, "fail-run")
    assert ctx is not None
    try:
        out = bytearray()
        got = asyncio.Event()

        def on_out(_fd: int, data: bytes) -> None:
            out.extend(data)
            got.set()

        _, proc = await ctx.exec(InvokeConfig(cmd=["sh"]), on_out, rows=33, cols=101)
        await proc.write(b"stty size\n")
        await _wait_for(out, got, b"33 101")
        await proc.resize(40, 120)
        await proc.write(b"stty size; exit 6\n")
        await _wait_for(out, got, b"40 120")
        assert await asyncio.wait_for(proc.wait(), 30) == 6
    finally:
        await ctx.done()


async def _wait_for(buf: bytearray, ev: asyncio.Event, needle: bytes) -> None:
    async with asyncio.timeout(30):
        while needle not in buf:
            ev.clear()
            await ev.wait()


async def test_non_exec_failure_and_early_failure(client: BuildkitClient) -> None:
    opts = BuildOptions(context=str(EXAMPLES / "copy-missing"))
    ctx, _, err = await new_result_context(client, opts)
    assert ctx is not None and err is not None
    try:
        with pytest.raises(InvokeError, match=r'file operation \(copy "/missing.txt"'):
            await ctx.exec(InvokeConfig(cmd=["sh"]), lambda _f, _d: None)
    finally:
        await ctx.done()
    ctx2, resp, err2 = await new_result_context(
        client, BuildOptions(context=str(EXAMPLES / "syntax-error")))
    assert ctx2 is None and resp is None and err2 is not None
    assert "unknown instruction" in err2.message


async def test_done_is_idempotent_and_leaves_nothing(
    docker_host: str, client: BuildkitClient
) -> None:
    api = DockerAPI(docker_host)
    before = {c["Id"] for c in api.containers()}
    ctx, _, _ = await open_ctx(client, "fail-run")
    assert ctx is not None
    _, proc = await ctx.exec(InvokeConfig(cmd=["sleep", "600"], tty=False), lambda _f, _d: None)
    assert ctx.gateway.build_ref in await client.active_builds()
    await asyncio.gather(ctx.done(), ctx.done())
    await ctx.done()
    assert isinstance(proc, ContainerProcess) and proc.exit_code is not None
    assert all(c.released for c in ctx.containers)
    assert ctx.gateway.build_ref not in await client.active_builds()
    assert {c["Id"] for c in api.containers()} == before


async def test_cancel_before_context_aborts_build(tmp_path: Path, client: BuildkitClient) -> None:
    token = secrets.token_hex(4)
    (tmp_path / "Dockerfile").write_text(
        f"FROM busybox:local\nRUN echo {token} && sleep 120\n")
    seen = asyncio.Event()

    def on_status(resp) -> None:  # type: ignore[no-untyped-def]
        if any(token.encode() in log.msg for log in resp.logs):
            seen.set()

    before = set(await client.active_builds())
    task = asyncio.create_task(
        new_result_context(client, BuildOptions(context=str(tmp_path)), on_status))
    await asyncio.wait_for(seen.wait(), 60)
    mine = set(await client.active_builds()) - before
    assert mine, "the build should be running in the daemon"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(15):
        while mine & set(await client.active_builds()):  # noqa: ASYNC110 - polls the daemon
            await asyncio.sleep(0.2)


async def test_status_after_context_is_dropped(client: BuildkitClient) -> None:
    seen: list[str] = []

    def on_status(resp) -> None:  # type: ignore[no-untyped-def]
        seen.extend(v.name for v in resp.vertexes)

    ctx, _, err = await new_result_context(
        client, BuildOptions(context=str(EXAMPLES / "fail-run")), on_status)
    assert ctx is not None and err is not None
    try:
        n = len(seen)
        assert any("app.sh test" in name for name in seen)
        await run(ctx, sh("echo hi"))
        assert len(seen) == n
    finally:
        await ctx.done()


async def test_no_cache_success_is_built_once(tmp_path: Path, client: BuildkitClient) -> None:
    # each run of the step writes a new random id: the result must hold the one the build
    # printed, i.e. re-opening the result for debugging did not run the step again
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox:local\n"
        "RUN cat /proc/sys/kernel/random/uuid | tee /run-id\n"
    )
    logs = bytearray()

    def on_status(resp) -> None:  # type: ignore[no-untyped-def]
        for entry in resp.logs:
            logs.extend(entry.msg)

    ctx, _, err = await new_result_context(
        client, BuildOptions(context=str(tmp_path), no_cache=True), on_status)
    assert ctx is not None and err is None
    try:
        code, out = await run(ctx, sh("cat /run-id"))
        assert code == 0
        assert out.strip() and logs.decode().count(out.strip()) == 1, (out, logs)
        runs = [line for line in logs.decode().split("\n") if len(line.strip()) == 36]
        assert runs == [out.strip()], runs
    finally:
        await ctx.done()
