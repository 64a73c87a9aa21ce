"""What a retry runs, what it cannot reproduce, and the tries walked with up/down."""

from __future__ import annotations

from tui.buildkit.proto import ops_pb2
from tui.debug.model.failure import SourceSnippet
from tui.debug.model.retry import (
    TryHistory,
    dockerfile_ranges,
    not_reproduced,
    prefill,
    retry_args,
)

SHELL_STEP = ["/bin/bash", "-o", "pipefail", "-c", "make test"]


def test_shell_form_runs_under_the_steps_shell() -> None:
    assert retry_args(SHELL_STEP, "make test", "make check") == [
        "/bin/bash", "-o", "pipefail", "-c", "make check"]
    assert retry_args(SHELL_STEP, None, "make check")[-2:] == ["-c", "make check"]


def test_exec_form() -> None:
    assert retry_args(SHELL_STEP, "make test", '["make", "x"]') == ["make", "x"]
    # an exec-form step edited into shell form: the default shell
    assert retry_args(["false"], '["false"]', "true") == ["/bin/sh", "-c", "true"]


def test_prefill() -> None:
    assert prefill(SHELL_STEP, None) == "make test"
    assert prefill(["false", "x"], None) == '["false", "x"]'
    assert prefill(SHELL_STEP, "make  test") == "make  test"


def test_not_reproduced() -> None:
    ex = ops_pb2.ExecOp(security=ops_pb2.INSECURE)
    ex.mounts.add(dest="/t", mountType=ops_pb2.TMPFS).TmpfsOpt.size = 1024
    ex.mounts.add(dest="/c", mountType=ops_pb2.CACHE)
    ex.meta.ulimit.add(Name="nofile", Soft=1, Hard=2)
    notes = not_reproduced(ex)
    assert any("/t" in n for n in notes) and any("insecure" in n for n in notes)
    assert any("ulimit" in n for n in notes) and not any("/c" in n for n in notes)
    assert not_reproduced(ops_pb2.ExecOp()) == []


def test_history_walks_up_and_down() -> None:
    h = TryHistory("make test")
    assert h.older("draft") == "draft"  # nothing tried yet
    h.add("make a")
    h.finish(2)
    h.add("make b")
    assert h.finish(0).passed
    assert h.older("typing") == "make b"
    assert h.older("make b") == "make a"
    assert h.older("make a") == "make a"
    assert h.newer() == "make b"
    assert h.newer() == "typing"
    assert h.last_passed is not None and h.last_passed.command == "make b"


def test_dockerfile_ranges() -> None:
    a = SourceSnippet("Dockerfile", b"x", ((4, 4), (5, 5)))
    b = SourceSnippet("Dockerfile", b"x", ((9, 9),))
    other = SourceSnippet("other.Dockerfile", b"y", ((1, 1),))
    assert dockerfile_ranges([a, b, other], "Dockerfile") == (b"x", [(4, 5), (9, 9)])
    assert dockerfile_ranges([other], "Dockerfile") is None
