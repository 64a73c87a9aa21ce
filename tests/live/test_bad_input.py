"""Bad input: one clear line, a non-zero exit, no traceback, nothing left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EXAMPLES, bxtui_binary, run_cmd

pytestmark = pytest.mark.daemon

SUCCESS = str(EXAMPLES / "success")


@pytest.mark.parametrize(
    "args,rc,needle",
    [
        (["build", "/nonexistent/ctx"], 1, 'path "/nonexistent/ctx" not found'),
        (["build", "-f", "/nonexistent/Dockerfile", SUCCESS], 1, "failed to read dockerfile"),
        (["build", "--build-arg", "=x", SUCCESS], 1, "invalid --build-arg"),
        (["build", "-o", "type=foo", SUCCESS], 1, "unsupported output type"),
        (["build", "-o", "type=local", SUCCESS], 1, "needs dest="),
        (["build", "--secret", "src=/x", SUCCESS], 1, "id is required"),
        (["build", "--secret", "id=a,bogus=1", SUCCESS], 1, "unknown key"),
        (["build", "--platform", "not a platform", SUCCESS], 1, "invalid --platform"),
        (["build", "-t", "UPPER/Case:tag", SUCCESS], 1, "invalid tag"),
        (["build", "--network", "bridge0", SUCCESS], 1, "network mode"),
        (["build", "--add-host", "nohost", SUCCESS], 1, "invalid --add-host"),
        (["build", "--build-context", "x=/nonexistent", SUCCESS], 1, "--build-context"),
        (["build", "--addr", "ssh://somewhere", SUCCESS], 1, "unsupported address"),
        (["build", "--builder", "no-such-context", SUCCESS], 1,
         'no builder "no-such-context" found'),
        (["build", "--frobnicate", SUCCESS], 2, "unrecognized arguments"),
        (["build"], 2, "required: PATH"),
        (["build", "--progress", "fancy", SUCCESS], 2, "invalid choice"),
    ],
)
def test_bad_input_is_one_line(args: list[str], rc: int, needle: str, docker_host: str,
                               tmp_path: Path) -> None:
    res = run_cmd([bxtui_binary(), *args], env={"DOCKER_HOST": docker_host, "HOME": str(tmp_path)})
    lines = res.stderr.strip().splitlines()
    assert res.returncode == rc, res.stderr
    assert len(lines) == 1, res.stderr
    assert needle in lines[0], lines[0]
    assert "Traceback" not in res.stderr and res.stdout == ""


def test_syntax_error_names_the_line(run_bxtui) -> None:  # type: ignore[no-untyped-def]
    res = run_bxtui("build", "--progress=plain", str(EXAMPLES / "syntax-error"))
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1] == (
        "ERROR: failed to solve: dockerfile parse error on line 3: unknown instruction: FROBNICATE"
    )
    assert "   3 | >>> FROBNICATE the build" in res.stderr


def test_no_command_prints_help() -> None:
    res = run_cmd([bxtui_binary()])
    assert res.returncode == 2
    assert "build" in res.stderr
