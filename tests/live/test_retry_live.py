"""``--retry CMD`` and ``--write-back`` on the real daemon: the failed RUN's initial state."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import EXAMPLES

pytestmark = pytest.mark.daemon


def _project(tmp_path: Path, name: str = "fail-run") -> Path:
    ctx = tmp_path / name
    shutil.copytree(EXAMPLES / name, ctx)
    return ctx


def test_retry_that_passes_is_written_back_and_rebuilds(run_bxtui, tmp_path: Path) -> None:
    ctx = _project(tmp_path)
    before = (ctx / "Dockerfile").read_bytes()
    # the initial state: app.sh prepared its file, the failed command's own file is absent
    fix = "test ! -e partial.txt && sh app.sh prepare && echo FIXED-$MODE-$(pwd)"
    res = run_bxtui("build", "--progress=plain", "--retry", fix, "--write-back", str(ctx))
    assert res.returncode == 0, res.stderr
    assert "FIXED-debug-/work\n" in res.stdout
    assert "bxtui: retry exited with status 0" in res.stderr
    diff = ('-RUN echo "partial output" > /work/partial.txt && sh app.sh test\n'
            f"+RUN {fix}\n")
    assert diff in res.stdout and res.stdout.index(diff) > res.stdout.index("FIXED")
    after = (ctx / "Dockerfile").read_bytes()
    assert after == before.replace(b'echo "partial output" > /work/partial.txt && sh app.sh test',
                                   fix.encode())
    rebuild = run_bxtui("build", "--progress=plain", str(ctx))
    assert rebuild.returncode == 0, rebuild.stderr
    assert "never reached" in rebuild.stderr


def test_failing_retry_exits_with_its_status_and_writes_nothing(run_bxtui,
                                                                tmp_path: Path) -> None:
    ctx = _project(tmp_path)
    before = (ctx / "Dockerfile").read_bytes()
    res = run_bxtui("build", "--progress=plain", "--retry", "echo out; echo err >&2; exit 7",
                    "--write-back", str(ctx))
    assert res.returncode == 7, res.stderr
    assert res.stdout == "out\n" and "err\n" in res.stderr
    assert "not written back: the command failed" in res.stderr
    assert (ctx / "Dockerfile").read_bytes() == before


MOUNTS = (b"FROM busybox:local\r\n"
          b"ENV WHO=retry\r\n"
          b"# the step reads a secret and fills a cache, then fails\r\n"
          b"RUN --mount=type=secret,id=token --mount=type=cache,target=/cache \\\r\n"
          b"    --mount=type=bind,source=token.txt,target=/in/token.txt \\\r\n"
          b"    echo $WHO > /cache/seen-$(cat /run/secrets/token) && \\\r\n"
          b"    exit 4\r\n")


def test_retry_gets_the_steps_mounts_and_keeps_crlf(run_bxtui, tmp_path: Path) -> None:
    ctx = tmp_path / "mounts"
    ctx.mkdir()
    (ctx / "Dockerfile").write_bytes(MOUNTS)
    token = f"tok{tmp_path.name[-8:]}"  # a cache file of this test's own
    (ctx / "token.txt").write_text(token)
    check = "cat /in/token.txt /run/secrets/token && cat /cache/seen-$(cat /run/secrets/token)"
    res = run_bxtui("build", "--progress=plain", "--secret", f"id=token,src={ctx / 'token.txt'}",
                    "--retry", f"echo $WHO > /cache/seen-$(cat /run/secrets/token) && {check}",
                    "--write-back", str(ctx))
    assert res.returncode == 0, res.stderr
    # the bind mount, the secret, and the cache mount the failed step had written to
    assert res.stdout.startswith(f"{token}{token}retry\n")
    patched = (ctx / "Dockerfile").read_bytes()
    assert patched.count(b"\r\n") == MOUNTS.count(b"\r\n") and b"\n" not in patched.replace(
        b"\r\n", b"")
    assert b"    exit 4" not in patched and f"    {check}\r\n".encode() in patched
    assert patched.startswith(MOUNTS[:MOUNTS.index(b"    exit 4")])


def test_retry_refuses_what_it_cannot(run_bxtui, tmp_path: Path) -> None:
    ctx = _project(tmp_path, "copy-missing")
    res = run_bxtui("build", "--progress=plain", "--retry", "true", str(ctx))
    assert res.returncode == 1
    assert res.stderr.strip().splitlines()[-1].startswith("ERROR: cannot retry: ")
    assert "Traceback" not in res.stderr
    res = run_bxtui("build", "--progress=plain", "--write-back", str(ctx))
    assert res.returncode == 2 and "--write-back needs --retry" in res.stderr
