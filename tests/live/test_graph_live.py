"""The BuildGraph fed by a real daemon's status stream."""

from __future__ import annotations

import asyncio

import pytest
from conftest import EXAMPLES

from tui.buildkit.address import parse_address
from tui.buildkit.client import BuildkitClient
from tui.buildkit.errors import BuildError
from tui.debug.engine.build import run_dockerfile_build
from tui.debug.engine.options import BuildOptions
from tui.debug.model.graph import BuildGraph, VertexState

pytestmark = pytest.mark.daemon


async def _build(docker_host: str, opts: BuildOptions) -> tuple[BuildGraph, BuildError | None]:
    graph = BuildGraph()
    client = await BuildkitClient.open(parse_address(docker_host, "docker", "test"))
    try:
        await run_dockerfile_build(client, opts, graph.apply)
        return graph, None
    except BuildError as err:
        return graph, err
    finally:
        await client.close()


def test_failed_build_graph(docker_host: str) -> None:
    opts = BuildOptions(context=str(EXAMPLES / "fail-run"), no_cache=True)
    graph, err = asyncio.run(_build(docker_host, opts))
    assert err is not None and err.exit_code == 3
    failed = graph.failed
    assert failed is not None
    assert err.vertex == failed.digest
    assert failed.state is VertexState.ERROR
    assert "sh app.sh test" in failed.name
    assert b"expected 42, got 41" in failed.logs.data(2)  # stderr
    assert b"running tests in /work" in failed.logs.data(1)  # stdout
    names = [v.name for v in graph]
    assert any("RUN echo \"preparing\"" in n for n in names)
    prepare = next(v for v in graph if "preparing" in v.name)
    assert prepare.state is VertexState.DONE
    assert prepare.started is not None and prepare.completed is not None
    assert prepare.completed >= prepare.started
    # edges: the failing step depends on the step before it
    assert failed.inputs and all(d in graph for d in failed.inputs)
    assert not any(v.state is VertexState.RUNNING for v in graph)
    ctx = [s for v in graph for s in v.statuses.values() if "transferring" in s.id]
    assert ctx and all(s.current > 0 for s in ctx)


def test_cached_build_graph(docker_host: str) -> None:
    opts = BuildOptions(context=str(EXAMPLES / "success"))
    asyncio.run(_build(docker_host, opts))
    graph, err = asyncio.run(_build(docker_host, opts))
    assert err is None
    runs = [v for v in graph if v.name.startswith("[4/4] RUN")]
    assert runs and runs[0].state is VertexState.CACHED
    assert graph.count(VertexState.ERROR) == 0


async def test_vertex_shared_with_another_build_keeps_our_name(docker_host: str, buildx: str,
                                                               tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two Dockerfiles sharing a step, built at once: the second labels it from its own LLB.

    buildx, building the second Dockerfile at the same time, prints the daemon's name for the
    shared step (the first build's); bxtui's plain output and its graph keep their own.
    """
    import os
    import secrets

    from conftest import bxtui_binary

    from tui.debug.engine.result import new_result_context

    nonce = secrets.token_hex(4)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    shared = f"RUN sleep 3 && echo shared-{nonce}"
    (a / "Dockerfile").write_text(f"FROM busybox:local AS base\n{shared}\n"
                                  "FROM base AS final\nRUN echo a-only\n")
    (b / "Dockerfile").write_text(f"FROM busybox:local\n{shared}\nRUN echo b-only\n")
    address = parse_address(docker_host, "docker", "test")
    running = asyncio.Event()
    graph_a = BuildGraph()

    def on_a(resp) -> None:  # type: ignore[no-untyped-def]
        graph_a.apply(resp)
        if any(v.name == f"[base 2/2] {shared}" and v.HasField("started")
               and not v.HasField("completed") for v in resp.vertexes):
            running.set()

    async def plain(*argv: str) -> str:
        env = dict(os.environ, DOCKER_HOST=docker_host, BUILDX_NO_DEFAULT_ATTESTATIONS="1")
        proc = await asyncio.create_subprocess_exec(
            *argv, "build", "--progress=plain", str(b), env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
        _, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()[-2000:]
        return err.decode()

    client_a = await BuildkitClient.open(address)
    client_b = await BuildkitClient.open(address)
    build_a = asyncio.create_task(run_dockerfile_build(client_a, BuildOptions(str(a)), on_a))
    try:
        await asyncio.wait_for(running.wait(), 60)
        graph = BuildGraph()

        def on_definition(definition) -> None:  # type: ignore[no-untyped-def]
            graph.adopt(definition.op_infos())

        theirs, ours, (ctx, _, err) = await asyncio.gather(
            plain(buildx), plain(bxtui_binary()),
            new_result_context(client_b, BuildOptions(str(b)), graph.apply, on_definition))
        assert err is None and ctx is not None
        await ctx.done()
        await build_a
    finally:
        build_a.cancel()
        await client_a.close()
        await client_b.close()
    # the daemon names the shared step after the build that asked first: buildx shows it so
    assert f"[base 2/2] {shared}" in theirs
    assert f"[2/3] {shared}" in ours and "[base 2/2]" not in ours
    step = next(v for v in graph if v.name.endswith(shared))
    assert graph_a.get(step.digest) is not None  # the very vertex the other build ran
    assert step.name == f"[2/3] {shared}"
    assert step.state in (VertexState.DONE, VertexState.CACHED)
    assert step.source is not None and step.source.describe() == "Dockerfile:2"
    mine = [v for v in graph if v.declared and v.name.startswith("[")
            and not v.name.startswith("[internal]")]
    assert sorted(v.name.split("]")[0] + "]" for v in mine) == ["[1/3]", "[2/3]", "[3/3]"]
    assert all(v.state in (VertexState.DONE, VertexState.CACHED) for v in graph if v.declared)


async def test_two_builds_of_one_dockerfile_show_one_row_per_step(
        docker_host: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The same Dockerfile twice at once: the daemon runs the shared steps once, for either.

    The steps after a COPY from the context have different digests in the two definitions
    (the context names its session) and the same cache keys: each build may hear of their
    run, and of the failure, only under the other's digest. Each graph still has one row per
    step of its own definition, none left running, the failed one failed.
    """
    import secrets

    from tui.debug.engine.launch import BuilderAddress
    from tui.debug.model.outcome import Failed

    monkeypatch.setenv("DOCKER_HOST", docker_host)
    (tmp_path / "f.txt").write_text("hi\n")
    (tmp_path / "Dockerfile").write_text(
        "FROM busybox:local\nCOPY f.txt /f.txt\n"
        f"RUN sleep 3 && echo {secrets.token_hex(6)}\nRUN false\n")
    first_running = asyncio.Event()

    def on_first(resp) -> None:  # type: ignore[no-untyped-def]
        if any(v.name.startswith("[3/4] RUN sleep") and v.HasField("started")
               for v in resp.vertexes):
            first_running.set()

    first = BuilderAddress().session(BuildOptions(context=str(tmp_path)), on_status=on_first)
    second = BuilderAddress().session(BuildOptions(context=str(tmp_path)))
    try:
        first.start()
        await asyncio.wait_for(first_running.wait(), 60)
        second.start()
        outcomes = await asyncio.wait_for(
            asyncio.gather(first.wait_finished(), second.wait_finished()), 90)
        for session, outcome in zip((first, second), outcomes, strict=True):
            assert isinstance(outcome, Failed)
            steps = [v for v in session.graph if v.name.startswith("[")
                     and not v.name.startswith("[internal]")]
            assert sorted(v.name.split(" ")[0] for v in steps) == \
                ["[1/4]", "[2/4]", "[3/4]", "[4/4]"], [(v.digest, v.name) for v in steps]
            states = {v.name.split(" ")[0]: v.state for v in steps}
            assert states["[4/4]"] is VertexState.ERROR, states
            assert all(s in (VertexState.DONE, VertexState.CACHED)
                       for k, s in states.items() if k != "[4/4]"), states
            assert session.graph.count(VertexState.RUNNING) == 0
            assert outcome.failure.step_name.startswith("[4/4] RUN false")
    finally:
        await asyncio.gather(first.done(), second.done())
