"""The BuildGraph fed by a real daemon's status stream."""

from __future__ import annotations

import asyncio

import pytest
from conftest import EXAMPLES

from tui.buildkit.address import parse_address
from tui.buildkit.client import BuildkitClient
from tui.buildkit.errors import BuildError
from tui.debug.build import run_dockerfile_build
from tui.debug.graph import BuildGraph, VertexState
from tui.debug.options import BuildOptions

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
