"""BuildGraph: merging StatusResponse messages into vertices, steps, logs and warnings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from statusmsgs import BASE, MS, log, resp, status, ts, vtx

from tui.buildkit.proto import control_pb2 as pb
from tui.debug.model.graph import BuildGraph, VertexState
from tui.debug.model.logbuffer import STDERR, STDOUT, LogBuffer, LogChunk
from tui.debug.model.timing import go_seconds, merge_intervals, ns_to_datetime, timestamp_ns

# A failing build as recorded from buildx 0.13.1 --progress=rawjson on the test daemon
# (digests shortened, times in ns from BASE). Dockerfile:
#   FROM busybox:local / WORKDIR /w / RUN echo hi > a / RUN echo partial > /marker && false
FAIL_MSG = 'process "/bin/sh -c echo partial > /marker && false" did not complete successfully: exit code: 1'  # noqa: E501
DEF, META, IGN, RUN2, RUN1, WD, FROM = (f"sha256:0{i}" for i in range(1, 8))
FAILING = [
    resp(vtx(DEF, "[internal] load build definition from Dockerfile")),
    resp(
        vtx(DEF, "[internal] load build definition from Dockerfile", started=709076764,
            completed=709199250)
    ),
    resp(vtx(DEF, "[internal] load build definition from Dockerfile", started=709374839)),
    resp(status(DEF, "transferring dockerfile:", at=711898127, started=711897661)),
    resp(status(DEF, "transferring dockerfile:", current=123, at=714132560, started=711897661,
                completed=714132144)),
    resp(vtx(DEF, "[internal] load build definition from Dockerfile", started=709374839,
             completed=715165670)),
    resp(vtx(META, "[internal] load metadata for docker.io/library/busybox:local",
             started=716606834)),
    resp(vtx(META, "[internal] load metadata for docker.io/library/busybox:local",
             started=716606834, completed=716923460)),
    resp(vtx(IGN, "[internal] load .dockerignore")),
    resp(vtx(IGN, "[internal] load .dockerignore", started=717590578, completed=717620790)),
    resp(vtx(IGN, "[internal] load .dockerignore", started=717824023)),
    resp(status(IGN, "transferring context:", current=2, at=720926895, started=719780096,
                completed=720926656)),
    resp(vtx(IGN, "[internal] load .dockerignore", started=717824023, completed=721924209)),
    resp(
        vtx(RUN2, "[4/4] RUN echo partial > /marker && false", inputs=(RUN1,)),
        vtx(RUN1, "[3/4] RUN echo hi > a", inputs=(WD,)),
        vtx(WD, "[2/4] WORKDIR /w", inputs=(FROM,)),
        vtx(FROM, "[1/4] FROM docker.io/library/busybox:local"),
    ),
    resp(vtx(FROM, "[1/4] FROM docker.io/library/busybox:local", started=724059771,
             completed=724258675)),
    resp(vtx(FROM, "[1/4] FROM docker.io/library/busybox:local", started=724405826,
             completed=724423559, cached=True)),
    resp(vtx(WD, "[2/4] WORKDIR /w", inputs=(FROM,), started=724653403)),
    resp(vtx(WD, "[2/4] WORKDIR /w", inputs=(FROM,), started=724653403, completed=729582690)),
    resp(vtx(RUN1, "[3/4] RUN echo hi > a", inputs=(WD,), started=730264417)),
    resp(vtx(RUN1, "[3/4] RUN echo hi > a", inputs=(WD,), started=730264417,
             completed=888976605)),
    resp(vtx(RUN2, "[4/4] RUN echo partial > /marker && false", inputs=(RUN1,),
             started=900741512)),
    resp(vtx(RUN2, "[4/4] RUN echo partial > /marker && false", inputs=(RUN1,),
             started=900741512, completed=1123543769, error=FAIL_MSG)),
]  # fmt: skip


def state(g: BuildGraph, digest: str) -> VertexState:
    return g[digest].state


def feed(g: BuildGraph, msgs: list[pb.StatusResponse]) -> None:
    for m in msgs:
        g.apply(m)


# --------------------------------------------------------------------------- helpers


def test_timestamp_helpers() -> None:
    assert timestamp_ns(ts(5)) == BASE + 5
    assert ns_to_datetime(BASE + 1_500) == datetime.fromtimestamp(1_790_000_000, UTC).replace(
        microsecond=1
    )
    assert go_seconds(1_500_000_000) == 1.5
    assert go_seconds(-1_500_000_000) == -1.5
    assert go_seconds(0) == 0.0


def test_merge_intervals_matches_progressui() -> None:
    assert merge_intervals([]) == []
    assert merge_intervals([(5, 8), (1, 3)]) == [(1, 3), (5, 8)]
    assert merge_intervals([(1, 5), (5, 8)]) == [(1, 8)]  # touching intervals merge
    assert merge_intervals([(1, 9), (2, 4)]) == [(1, 9)]  # subsumed
    assert merge_intervals([(1, 4), (3, None), (10, 12)]) == [(1, None)]  # open swallows rest
    assert merge_intervals([(1, None), (10, 12)]) == [(1, None)]


# --------------------------------------------------------------------------- recorded build


def test_recorded_failing_build() -> None:
    g = BuildGraph()
    feed(g, FAILING)
    assert [g[d].step for d in (DEF, META, IGN, FROM, WD, RUN1, RUN2)] == [1, 2, 3, 4, 5, 6, 7]
    assert list(g.steps) == [DEF, META, IGN, FROM, WD, RUN1, RUN2]
    assert g.step_of(RUN2) == 7
    assert g.vertex_for_step(5) is g[WD]
    assert g.vertex_for_step(8) is None
    assert g[FROM].state is VertexState.CACHED
    assert g[WD].state is VertexState.DONE
    assert g[RUN2].state is VertexState.ERROR
    assert g.failed is g[RUN2]
    assert g[RUN2].error == FAIL_MSG
    assert g.count(VertexState.ERROR) == 1
    assert g.count(VertexState.CACHED) == 1
    assert g.count(VertexState.DONE) == 5
    assert g.completed_count == 7
    assert g.running == []
    # two intervals of the definition vertex are summed, like "#1 DONE"
    d = g[DEF].duration()
    assert d == pytest.approx((709199250 - 709076764 + 715165670 - 709374839) / 1e9)
    assert g[DEF].merged_intervals == [
        (BASE + 709076764, BASE + 709199250),
        (BASE + 709374839, BASE + 715165670),
    ]
    # edges both ways
    assert g[RUN2].inputs == (RUN1,)
    assert g.dependents(FROM) == [WD]
    assert g.dependents(RUN2) == []
    # whole build: first start to last completion
    assert g.duration() == pytest.approx((1123543769 - 709076764) / 1e9)
    st = g[IGN].statuses["transferring context:"]
    assert (st.current, st.done) == (2, True)
    assert st.completed == ns_to_datetime(BASE + 720926656)
    assert g[RUN2].started == ns_to_datetime(BASE + 900741512)


def test_states_progress_and_changes() -> None:
    g = BuildGraph()
    ch = g.apply(resp(vtx("a"), vtx("b", inputs=("a",))))
    assert ch.vertices == {"a", "b"} and not ch.new_steps
    assert g["a"].step is None
    assert g.count(VertexState.QUEUED) == 2
    assert [v.state for v in g] == [VertexState.QUEUED, VertexState.QUEUED]
    ch = g.apply(resp(vtx("a", started=0)))
    assert ch.new_steps == ["a"]
    assert state(g, "a") is VertexState.RUNNING
    assert [v.digest for v in g.running] == ["a"]
    assert g.duration(now_ns=BASE + 2 * 10**9) == pytest.approx(2.0)
    assert g["a"].duration(now_ns=BASE + 10**9) == pytest.approx(1.0)
    ch = g.apply(resp(log("a", 5, b"hi\n")))
    assert ch.logs == {"a"} and ch.digests == {"a"} and bool(ch)
    assert not g.apply(resp())
    g.apply(resp(vtx("a", started=0, completed=10 * MS)))
    assert state(g, "a") is VertexState.DONE and g["a"].is_completed
    assert g.running == []
    # a vertex can run again (new interval): running, then done with both intervals
    g.apply(resp(vtx("a", started=20 * MS)))
    assert state(g, "a") is VertexState.RUNNING
    g.apply(resp(vtx("a", started=20 * MS, completed=25 * MS)))
    assert g["a"].duration() == pytest.approx(0.015)
    assert g.count(VertexState.DONE) == 1 and g.count(VertexState.QUEUED) == 1


def test_duplicate_initial_vertex_does_not_reset() -> None:
    g = BuildGraph()
    g.apply(resp(vtx("a", "A", started=0, completed=MS, cached=True)))
    g.apply(resp(vtx("a", "A")))  # progressui keeps the started vertex as it was
    assert g["a"].state is VertexState.CACHED
    assert g["a"].step == 1


def test_step_numbers_follow_first_start_including_cached() -> None:
    g = BuildGraph()
    g.apply(resp(vtx("x"), vtx("y"), vtx("z")))  # declared, not numbered
    g.apply(resp(vtx("z", started=0, completed=0, cached=True), vtx("x", started=0)))
    g.apply(resp(vtx("y", started=1)))
    g.apply(resp(vtx("x", started=0, completed=2)))
    assert [g.step_of(d) for d in "xyz"] == [2, 3, 1]
    assert g.step_of("nope") is None
    assert [v.digest for v in g] == ["x", "y", "z"]  # insertion order kept


def test_error_cancel_and_failed_vertex() -> None:
    g = BuildGraph()
    g.apply(resp(vtx("a", started=0), vtx("b", started=1)))
    g.apply(resp(vtx("b", started=1, completed=2, error="rpc error: context canceled")))
    assert g["b"].state is VertexState.CANCELED
    assert g.failed is None
    g.apply(resp(vtx("a", started=0, completed=3, error="exit code: 2")))
    assert g.failed is g["a"]
    assert [v.digest for v in g.errors] == ["b", "a"]
    assert g.count(VertexState.CANCELED) == 1 and g.count(VertexState.ERROR) == 1


def test_statuses_merge_by_id() -> None:
    g = BuildGraph()
    g.apply(resp(vtx("a", started=0)))
    ch = g.apply(resp(status("a", "transferring context:", current=10, at=1, started=0)))
    assert ch.statuses == {"a"}
    g.apply(resp(status("a", "extracting", at=2, started=2)))
    g.apply(resp(status("a", "transferring context:", current=99, at=3, started=0, completed=3)))
    items = list(g["a"].statuses.values())
    assert [s.id for s in items] == ["transferring context:", "extracting"]
    assert (items[0].current, items[0].done, items[0].started) == (99, True, ns_to_datetime(BASE))
    assert items[1].completed is None and not items[1].done


def test_logs_keep_tail_under_cap_and_count_drops() -> None:
    g = BuildGraph(log_cap=10)
    g.apply(resp(vtx("a", started=0)))
    g.apply(resp(log("a", 1, b"0123"), log("a", 2, b"err\n", STDERR)))
    buf = g["a"].logs
    assert buf.data() == b"0123err\n" and not buf.truncated
    assert buf.data(STDERR) == b"err\n" and buf.data(STDOUT) == b"0123"
    g.apply(resp(log("a", 3, b"456789")))
    assert buf.data() == b"err\n456789"  # "0123" dropped whole
    assert buf.size == 10 and buf.dropped_bytes == 4 and buf.dropped_chunks == 1
    assert (buf.start_offset, buf.end_offset) == (4, 14)
    g.apply(resp(log("a", 4, b"abcdefghijklmnop")))  # bigger than the cap by itself
    assert buf.data() == b"ghijklmnop"
    assert buf.dropped_bytes == 20 and buf.dropped_chunks == 3
    assert len(buf) == 1 and next(iter(buf)).timestamp_ns == BASE + 4
    assert buf.read(25) == b"lmnop" and buf.read(0) == b"ghijklmnop" and buf.read(99) == b""
    assert buf.text() == "ghijklmnop"


def test_log_buffer_read_across_chunks() -> None:
    buf = LogBuffer(cap=100)
    for i, piece in enumerate((b"ab", b"cde", b"f")):
        buf.append(LogChunk(STDOUT, i, piece))
    assert buf.read(1) == b"bcdef" and buf.read(4) == b"ef" and buf.read(6) == b""
    with pytest.raises(ValueError):
        LogBuffer(cap=-1)


def test_logs_before_vertex_use_a_placeholder() -> None:
    g = BuildGraph()
    g.apply(resp(log("ghost", 0, b"early\n")))
    assert not g["ghost"].declared and g["ghost"].logs.data() == b"early\n"
    assert g.count(VertexState.QUEUED) == 0  # placeholders are not counted
    g.apply(resp(vtx("ghost", "late", started=1)))
    assert g["ghost"].declared and g["ghost"].state is VertexState.RUNNING
    assert g.count(VertexState.RUNNING) == 1


def test_warnings() -> None:
    g = BuildGraph()
    g.apply(resp(vtx(DEF, "[internal] load build definition from Dockerfile", started=0)))
    w = pb.VertexWarning(vertex=DEF, level=1, short=b"Empty continuation line", url="https://x")
    w.detail.append(b"will become errors")
    w.info.filename = "Dockerfile"
    w.info.data = b"FROM a\nRUN b \\\n\n c\n"
    rng = w.ranges.add()
    rng.start.line, rng.end.line = 4, 4
    ch = g.apply(resp(w))
    assert ch.warnings == {DEF}
    (got,) = g.warnings
    assert g[DEF].warnings == [got]
    assert (got.short, got.detail, got.url, got.level) == (
        "Empty continuation line",
        ("will become errors",),
        "https://x",
        1,
    )
    assert got.has_source and got.filename == "Dockerfile" and got.line_ranges == [(4, 4)]


def test_inputs_change_updates_reverse_index() -> None:
    g = BuildGraph()
    g.apply(resp(vtx("c", inputs=("a", "b"))))
    assert g.dependents("a") == ["c"] and g.dependents("b") == ["c"]
    g.apply(resp(vtx("c", inputs=("b",))))
    assert g.dependents("a") == [] and g.dependents("b") == ["c"]


def test_progress_group_is_one_step() -> None:
    g = BuildGraph()
    grp = ("g1", "[stage 3/4] COPY --link", False)
    weak = ("g1", "[stage 3/4] COPY --link", True)
    g.apply(resp(vtx("w", group=weak, started=0, completed=1)))
    assert g.groups["g1"].hidden and g.step_of("g1") is None  # weak member alone: hidden
    g.apply(resp(vtx("s", started=0)))
    g.apply(resp(vtx("m1", group=grp, started=2), vtx("m2", group=grp, started=3)))
    assert list(g.steps) == ["s", "g1"]
    assert g.step_of("g1") == 2 and g["m1"].step == 2 and g["w"].step == 2
    assert g.vertex_for_step(2) is g["w"]
    assert set(g.groups["g1"].members) == {"w", "m1", "m2"}


@pytest.mark.parametrize("cap", [0, 1, 7, 100, 5000])
def test_log_buffer_matches_naive_model(cap: int) -> None:
    import random

    rnd = random.Random(cap)
    buf = LogBuffer(cap=cap)
    chunks: list[LogChunk] = []
    for i in range(3000):
        n = rnd.choice((0, 1, 3, 50, 700))
        c = LogChunk(rnd.choice((STDOUT, STDERR)), i, bytes(rnd.randrange(256) for _ in range(n)))
        buf.append(c)
        if c.data:  # empty chunks are not stored
            chunks.append(c)
        if i % 97 and i != 2999:
            continue
        everything = b"".join(c.data for c in chunks)
        kept = everything[len(everything) - cap :] if cap else b""
        assert buf.data() == kept
        assert buf.size == len(kept) and buf.end_offset == len(everything)
        assert buf.dropped_bytes == len(everything) - len(kept)
        # chunks still (partly) kept, with the first one cut to the kept bytes
        start, pos, model = len(everything) - len(kept), 0, []
        for c in chunks:
            lo, hi = pos, pos + len(c.data)
            pos = hi
            if hi > start:
                model.append(LogChunk(c.stream, c.timestamp_ns, c.data[max(lo, start) - lo :]))
        assert list(buf) == model
        assert len(buf) == len(model)
        assert buf.dropped_chunks == len(chunks) - len(model)
        assert buf.data(STDERR) == b"".join(c.data for c in model if c.stream == STDERR)
        off = rnd.randrange(len(everything) + 2)
        assert buf.read(off) == everything[max(off, start) :]


def test_a_vertex_used_later_has_run_even_without_its_status() -> None:
    # a vertex shared with another build may never start in this build's status stream
    g = BuildGraph(1 << 16)
    g.apply(resp(vtx("sha256:a", "[1/3] FROM x", started=0, completed=1),
                 vtx("sha256:b", "[2/3] COPY", inputs=("sha256:a",)),
                 vtx("sha256:c", "[3/3] RUN", inputs=("sha256:b",)),
                 vtx("sha256:d", "[4/4] RUN never", inputs=("sha256:c",))))
    assert g.get("sha256:b").state is VertexState.QUEUED
    assert not g.used_later("sha256:b") and not g.used_later("sha256:d")
    g.apply(resp(vtx("sha256:c", "[3/3] RUN", inputs=("sha256:b",), started=2, completed=3,
                     error="exit code: 1")))
    assert g.used_later("sha256:b") and g.used_later("sha256:a")
    assert not g.used_later("sha256:c") and not g.used_later("sha256:d")


def test_own_definition_names_a_shared_vertex() -> None:
    # the daemon names a vertex shared with another build after that build ("[base 2/2]")
    from tui.debug.model.graph import OpInfo, SourceRange, VertexSource

    g = BuildGraph(1 << 16)
    g.apply(resp(vtx("sha256:a", "[other 1/4] FROM x", started=0, completed=1, cached=True),
                 vtx("sha256:b", "[base 2/2] RUN make", inputs=("sha256:a",), started=2)))
    where = VertexSource("Dockerfile", (SourceRange(2, 0, 3, 0),))
    ch = g.adopt({"sha256:a": OpInfo("[1/3] FROM x", (), None),
                  "sha256:b": OpInfo("[2/3] RUN make", ("sha256:a",), where)})
    assert ch.vertices == {"sha256:a", "sha256:b"}
    assert [v.name for v in g] == ["[1/3] FROM x", "[2/3] RUN make"]
    assert g.get("sha256:b").source == where and where.describe() == "Dockerfile:2-3"
    # later records keep our names
    g.apply(resp(vtx("sha256:b", "[base 2/2] RUN make", inputs=("sha256:a",), started=2,
                     completed=5)))
    assert g.get("sha256:b").name == "[2/3] RUN make"
    assert g.get("sha256:b").state is VertexState.DONE


def test_shared_vertex_that_never_started_here_is_shown_cached() -> None:
    from tui.debug.model.graph import OpInfo

    g = BuildGraph(1 << 16)
    ours = {"sha256:a": OpInfo("[1/3] FROM x", (), None),
            "sha256:b": OpInfo("[2/3] RUN shared", ("sha256:a",), None),
            "sha256:c": OpInfo("[3/3] RUN mine", ("sha256:b",), None)}
    g.adopt(ours)
    # the stream never mentions b (another build ran it), then c starts
    g.apply(resp(vtx("sha256:a", "[1/3] FROM x", started=0, completed=1, cached=True)))
    assert "sha256:b" not in g
    ch = g.apply(resp(vtx("sha256:c", "[3/3] RUN mine", inputs=("sha256:b",), started=2)))
    b = g.get("sha256:b")
    assert b is not None and b.declared and b.inferred
    assert b.state is VertexState.CACHED and b.name == "[2/3] RUN shared"
    assert "sha256:b" in ch.vertices
    assert g.count(VertexState.QUEUED) == 0 and g.count(VertexState.CACHED) == 2
    # declared but never started: the same once a dependent starts, even before the definition
    g2 = BuildGraph(1 << 16)
    g2.apply(resp(vtx("sha256:b", "[base 2/2] RUN shared", inputs=("sha256:a",)),
                  vtx("sha256:c", "[3/3] RUN mine", inputs=("sha256:b",))))
    assert g2.get("sha256:b").state is VertexState.QUEUED
    g2.apply(resp(vtx("sha256:c", "[3/3] RUN mine", inputs=("sha256:b",), started=2)))
    assert g2.get("sha256:b").state is VertexState.CACHED
    assert g2.get("sha256:a") is None or not g2.get("sha256:a").declared  # unknown: not made up
    # what the stream says later still wins
    g2.apply(resp(vtx("sha256:b", "[base 2/2] RUN shared", inputs=("sha256:a",), started=1,
                      completed=2, error="exit code: 1")))
    assert g2.get("sha256:b").state is VertexState.ERROR
    assert g2.count(VertexState.CACHED) == 0 and g2.count(VertexState.ERROR) == 1


def _copy_then_run() -> BuildGraph:
    """A graph that adopted ``FROM, COPY (from the context), RUN`` as its own definition."""
    from tui.debug.model.graph import OpInfo, SourceRange, VertexSource

    ours = {"sha256:a": OpInfo("[1/3] FROM x", (), None),
            "sha256:b": OpInfo("[2/3] COPY f .", ("sha256:a",),
                               VertexSource("Dockerfile", (SourceRange(2, 0, 2, 0),))),
            "sha256:c": OpInfo("[3/3] RUN make", ("sha256:b",),
                               VertexSource("Dockerfile", (SourceRange(3, 0, 3, 0),)))}
    g = BuildGraph(1 << 16)
    g.adopt(ours)
    g.apply(resp(*(vtx(d, i.name, inputs=i.inputs) for d, i in ours.items())))  # queued
    return g


def test_a_step_reported_under_another_digest_first_is_one_row() -> None:
    # the daemon reports a COPY from the context under another digest, then under ours
    g = _copy_then_run()
    g.apply(resp(vtx("sha256:a", "[1/3] FROM x", started=0, completed=1, cached=True),
                 vtx("sha256:other", "[2/3] COPY f .", inputs=("sha256:ctx",), started=2,
                     completed=3)))
    assert "sha256:other" not in g and "sha256:ctx" not in g
    assert g.get("sha256:b").state is VertexState.DONE  # the stand-in's run, on our row
    g.apply(resp(vtx("sha256:b", "[2/3] COPY f .", inputs=("sha256:a",), started=4,
                     completed=4, cached=True),
                 vtx("sha256:other", "[2/3] COPY f .", started=5)))  # ignored from now on
    b = g.get("sha256:b")
    assert b.state is VertexState.CACHED and b.merged_intervals == [(BASE + 4, BASE + 4)]
    assert [v.digest for v in g] == ["sha256:a", "sha256:b", "sha256:c"]


def test_a_step_run_for_another_build_shows_on_our_row_with_its_logs() -> None:
    # a second build of the same Dockerfile: the daemon runs RUN once, for the first build,
    # and tells this one only under the first build's digest; then it fails there
    g = _copy_then_run()
    g.apply(resp(vtx("sha256:theirs", "[3/3] RUN make", inputs=("sha256:b2",), started=5),
                 log("sha256:theirs", 6, b"compiling\n"), status("sha256:theirs", "step 1", at=6)))
    c = g.get("sha256:c")
    assert c.state is VertexState.RUNNING and c.inputs == ("sha256:b",)
    assert c.logs.text().endswith("compiling\n") and "step 1" in c.statuses
    assert "sha256:theirs" not in g and "sha256:b2" not in g
    # the failure's digest is theirs; the error's Dockerfile line finds our step
    assert g.own_step("sha256:theirs") == "sha256:c"
    assert g.own_step("sha256:unseen", [("Dockerfile", 3, 3)]) == "sha256:c"
    assert g.own_step("sha256:unseen", [("Dockerfile", 9, 9)]) is None


def test_settle_marks_what_the_stream_never_ended() -> None:
    g = _copy_then_run()
    g.apply(resp(vtx("sha256:a", "[1/3] FROM x", started=0, completed=1, cached=True),
                 vtx("sha256:b", "[2/3] COPY f .", inputs=("sha256:a",), started=2)))
    assert g.get("sha256:b").state is VertexState.RUNNING
    # the build failed in RUN, whose run this build never heard of
    ch = g.settle("sha256:c", "process did not complete successfully: exit code: 2")
    assert g.get("sha256:c").state is VertexState.ERROR and g.failed.digest == "sha256:c"
    assert g.get("sha256:b").state is VertexState.DONE  # its dependent failed: it ended
    assert {"sha256:b", "sha256:c"} <= ch.vertices and g.count(VertexState.RUNNING) == 0
    # a late report of the start does not undo the failure
    g.apply(resp(vtx("sha256:c", "[3/3] RUN make", inputs=("sha256:b",), started=7)))
    assert g.get("sha256:c").state is VertexState.ERROR
    # nothing depends on a running step that nothing followed: it is left as it is
    g2 = _copy_then_run()
    g2.apply(resp(vtx("sha256:b", "[2/3] COPY f .", inputs=("sha256:a",), started=2)))
    g2.settle()
    assert g2.get("sha256:b").state is VertexState.RUNNING
