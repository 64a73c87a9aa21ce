"""Sanity checks of the recorded status streams (tests/support/data; scripts/record_status.py)."""

from __future__ import annotations

import pytest
from recorded import (
    DATA,
    NAMES,
    apply_stream,
    failure_info,
    load_error,
    load_graph,
    load_result,
    load_stream,
    load_timed,
)

from tui.debug.model.graph import BuildGraph, VertexState

FAILED = ("fail-run", "fail-run-cached", "fail-stage", "copy-missing", "syntax-error")


@pytest.mark.parametrize("name", NAMES)
def test_recording_is_small_and_well_formed(name: str) -> None:
    timed = load_timed(name)
    assert timed, "empty recording"
    times = [ms for ms, _ in timed]
    assert times == sorted(times)
    assert times[-1] < 120_000
    assert (DATA / f"{name}.status").stat().st_size < 64_000
    for _, msg in timed:
        assert msg.vertexes or msg.statuses or msg.logs or msg.warnings


@pytest.mark.parametrize("name", NAMES)
def test_every_recording_has_its_outcome(name: str) -> None:
    if name in FAILED:
        err = load_error(name)
        assert err["message"]
        assert not (DATA / f"{name}.result.json").exists()
    else:
        assert load_result(name)["exporter_response"]["containerimage.digest"].startswith(
            "sha256:"
        )
        assert not (DATA / f"{name}.error.json").exists()


@pytest.mark.parametrize("name", ["fail-run", "fail-run-cached"])
def test_fail_run_ends_with_one_error_vertex(name: str) -> None:
    graph = load_graph(name)
    errors = graph.errors
    assert len(errors) == 1
    (failed,) = errors
    assert failed.state is VertexState.ERROR
    assert failed.name.startswith("[5/6] RUN ")
    assert failed.name.endswith("sh app.sh test")
    assert failed is graph.failed
    assert failed.digest == load_error(name)["vertex"]
    assert "exit code: 3" in failed.error
    never = [v for v in graph if "never reached" in v.name]
    assert all(not v.is_started for v in never)
    assert graph.running == []


def test_fail_run_logs_what_the_step_printed() -> None:
    graph = load_graph("fail-run")
    failed = graph.failed
    assert failed is not None
    logs = b"".join(msg.msg for resp in load_stream("fail-run") for msg in resp.logs
                    if msg.vertex == failed.digest)
    assert b"test 3 failed: expected 42, got 41" in logs
    assert b"running tests in /work as 0" in logs


def test_cached_run_caches_the_steps_before_the_failure() -> None:
    cached = {v.name for v in load_graph("fail-run-cached") if v.state is VertexState.CACHED}
    assert any('RUN echo "preparing"' in n for n in cached)
    fresh = {v.name: v.state for v in load_graph("fail-run")}
    prepare = next(n for n in fresh if 'RUN echo "preparing"' in n)
    assert fresh[prepare] is VertexState.DONE


def test_fail_stage_names_the_builder_stage() -> None:
    failed = load_graph("fail-stage").failed
    assert failed is not None
    assert failed.name.startswith("[builder 4/4] RUN ")
    assert load_error("fail-stage")["exit_code"] == 2


def test_copy_missing_is_a_file_operation() -> None:
    graph = load_graph("copy-missing")
    failed = graph.failed
    assert failed is not None and failed.name == "[4/5] COPY missing.txt ."
    err = load_error("copy-missing")
    assert err["exec"] is None and err["op_kind"] == "file"
    assert err["exit_code"] is None
    assert err["sources"][0]["ranges"] == [[4, 4]]


def test_syntax_error_fails_before_any_step() -> None:
    graph = load_graph("syntax-error")
    assert graph.failed is None
    assert all("RUN" not in v.name for v in graph)
    err = load_error("syntax-error")
    assert err["vertex"] is None and not err["has_context"]
    assert "FROBNICATE" in err["message"]
    assert err["sources"][0]["ranges"] == [[3, 3]]


def test_success_has_no_errors() -> None:
    graph = load_graph("success")
    assert graph.errors == [] and graph.failed is None
    assert graph.running == []
    assert all(v.state in (VertexState.DONE, VertexState.CACHED) for v in graph)
    assert any(v.name == "exporting to image" for v in graph)


def test_apply_stream_in_two_halves_equals_whole() -> None:
    stream = load_stream("fail-run")
    half = len(stream) // 2
    graph = apply_stream(stream[:half])
    assert graph.failed is None
    apply_stream(stream[half:], graph)
    whole = load_graph("fail-run")
    assert isinstance(graph, BuildGraph)
    assert {d: v.state for d, v in graph.vertices.items()} == {
        d: v.state for d, v in whole.vertices.items()
    }


def test_failure_info_from_recording() -> None:
    info = failure_info("fail-run")
    assert info.can_open and info.exit_code == 3
    assert info.command[:2] == ("/bin/sh", "-c")
    assert info.cwd == "/work"
    assert "MODE=debug" in info.env
    assert info.sources[0].ranges == ((6, 6),)
    assert info.sources[0].text.splitlines()[5].startswith("RUN echo \"partial output\"")
