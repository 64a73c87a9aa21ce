"""``--copy-out`` on the real daemon, through the real binary: files of a failed step's final
and initial states (and of a step's output) land on the host equal to what the shell sees, with
modes and links kept; bad requests get one ``ERROR:`` line and leave nothing behind."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

import pytest
from conftest import EXAMPLES

DOCKERFILE = """\
FROM busybox:local
RUN mkdir -p /app/sub && echo {token} > /app/a.txt && chmod 640 /app/a.txt \\
 && ln -s a.txt /app/link && printf 'run\\n' > /app/sub/tool && chmod 751 /app/sub/tool
RUN seq 1 2000 > /app/report.txt && echo {token} >> /app/report.txt && ln -s ../.. /app/up \\
 && exit 3
"""


@pytest.fixture(scope="module")
def context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    ctx = tmp_path_factory.mktemp("copyout")
    (ctx / "Dockerfile").write_text(DOCKERFILE.format(token=secrets.token_hex(8)))
    return ctx


def _errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("ERROR: --copy-out")]


def test_copy_out_of_a_failed_step_equals_what_the_shell_sees(run_bxtui, context: Path,
                                                               tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "new" / "out"
    res = run_bxtui("build", "--progress=plain",
                    "--copy-out", f"final:/app={out}/final",
                    "--copy-out", f"initial:/app={out}/initial",
                    "--copy-out", f"2:/app/sub/tool={out}/step-tool",
                    "--invoke", "args=cat,args=/app/report.txt", str(context))
    assert res.returncode == 1, res.stderr[-2000:]  # the build's status
    assert "Traceback" not in res.stderr
    assert res.stderr.count("bxtui: copied ") == 3, res.stderr[-2000:]
    final = out / "final"
    assert (final / "report.txt").read_text() == res.stdout  # what `cat` printed in the shell
    assert res.stdout.startswith("1\n2\n")
    assert stat.S_IMODE((final / "a.txt").stat().st_mode) == 0o640
    assert stat.S_IMODE((final / "sub" / "tool").stat().st_mode) == 0o751
    assert os.readlink(final / "link") == "a.txt"
    assert os.readlink(final / "up") == "../.."  # kept as a link, never followed
    initial = out / "initial"
    assert not (initial / "report.txt").exists()  # the step had not run yet
    assert (initial / "a.txt").read_text() == (final / "a.txt").read_text()
    assert (out / "step-tool").read_text() == "run\n"
    assert stat.S_IMODE((out / "step-tool").stat().st_mode) == 0o751
    for private in (tmp_path / "new", out):  # created for the copy: private
        assert stat.S_IMODE(private.stat().st_mode) == 0o700


def test_bad_requests_get_one_line_and_leave_nothing(run_bxtui, context: Path,
                                                     tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    taken = tmp_path / "taken"
    taken.write_text("mine")
    res = run_bxtui("build", "--progress=plain", "--copy-out", f"final:/app/a.txt={taken}",
                    str(context))
    assert res.returncode == 1
    assert res.stderr.strip() == f"ERROR: --copy-out: {taken} already exists " \
        "(--overwrite replaces it)"  # refused before anything is built
    assert taken.read_text() == "mine"
    for spec, why in [("final:/app/nope", "/app/nope: no such file or directory in the state"),
                      ("final:/app/up/etc", "leads outside the state (through the link "
                                            "/app/up -> ../..)"),
                      ("nostage:9:/app", "no step [9/...] in stage 'nostage'")]:
        res = run_bxtui("build", "--progress=plain", "--copy-out", f"{spec}={tmp_path}/x",
                        str(context))
        assert res.returncode == 1
        assert "Traceback" not in res.stderr
        errors = _errors(res.stderr)
        assert len(errors) == 1 and why in errors[0], res.stderr[-1500:]
    assert sorted(os.listdir(tmp_path)) == ["taken"]
    res = run_bxtui("build", "--progress=plain", "--overwrite",
                    "--copy-out", f"final:/app/a.txt={taken}", str(context))
    assert "bxtui: copied final:/app/a.txt" in res.stderr, res.stderr[-1500:]
    assert taken.read_text() != "mine" and stat.S_IMODE(taken.stat().st_mode) == 0o640


def test_after_a_success_final_is_the_result(run_bxtui, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    res = run_bxtui("build", "--progress=plain", "--copy-out", f"final:/app={tmp_path}/app",
                    str(EXAMPLES / "success"))
    assert res.returncode == 0, res.stderr[-1500:]
    assert (tmp_path / "app" / "status").read_text() == "built ok\n"
    assert (tmp_path / "app" / "hello.txt").is_file()
    res = run_bxtui("build", "--progress=plain", "--copy-out", f"initial:/app={tmp_path}/i",
                    str(EXAMPLES / "success"))
    assert res.returncode == 1
    assert _errors(res.stderr) == [f"ERROR: --copy-out initial:/app={tmp_path}/i: the build "
                                   "succeeded: only a failed step has an initial state"]
    assert not (tmp_path / "i").exists()
