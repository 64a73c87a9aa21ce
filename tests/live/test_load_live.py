"""Several failing builds at once on one daemon, each with a shell in its failed step."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import active_builds, wait_until

pytestmark = pytest.mark.daemon

DOCKERFILE = (
    "FROM busybox:local\n"
    "WORKDIR /work\n"
    "COPY marker-{n}.txt .\n"
    "RUN echo made-{n} > /work/made-{n}.txt && exit 3\n"
)
BUILDS = 4


def test_concurrent_failing_builds_each_see_their_own_state(
        tmp_path: Path, run_bxtui, docker_host: str) -> None:  # type: ignore[no-untyped-def]
    projects = []
    for n in range(BUILDS):
        ctx = tmp_path / f"p{n}"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(DOCKERFILE.format(n=n))
        (ctx / f"marker-{n}.txt").write_text(f"marker {n}\n")
        projects.append(ctx)

    def build(ctx: Path):  # type: ignore[no-untyped-def]
        return run_bxtui("build", "--progress=quiet", "--no-cache", "--invoke", "/bin/sh",
                         str(ctx), input="ls /work; cat /work/marker-*.txt; exit 0\n")

    with ThreadPoolExecutor(BUILDS) as pool:
        results = list(pool.map(build, projects))
    for n, res in enumerate(results):
        assert res.returncode == 1, res.stderr[-1500:]
        words = res.stdout.split()
        assert {f"marker-{n}.txt", f"made-{n}.txt"} <= set(words), res.stdout
        others = [w for w in words if w.startswith(("marker-", "made-"))
                  and w not in (f"marker-{n}.txt", f"made-{n}.txt")]
        assert not others and f"marker {n}" in res.stdout, res.stdout
        assert "debug process exited with status 0" in res.stderr
    assert wait_until(lambda: not active_builds(docker_host), 20)
