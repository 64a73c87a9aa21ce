"""The build-graph pane: the row model (tui.ui.widgets.graph.rows) and the GraphView widget."""

from __future__ import annotations

from typing import Any

import pytest
from statusmsgs import BASE, MS, SEC, resp, ts, vtx
from textual import events
from textual.app import App, ComposeResult

from tui.buildkit.proto import control_pb2 as pb
from tui.debug.model.graph import BuildGraph, Changes, VertexState
from tui.ui.widgets.graph import rows as graphrows
from tui.ui.widgets.graph.pane import GraphView
from tui.ui.widgets.graph.rows import (
    DEFAULT_STAGE,
    INTERNAL_STAGE,
    OTHER_STAGE,
    GraphRows,
    StageRow,
    VertexRow,
    dependents_of,
    failed_chain,
    format_duration,
    inputs_of,
    parse_name,
)


def feed(graph: BuildGraph, *msgs: pb.StatusResponse) -> Changes:
    ch = Changes()
    for m in msgs:
        ch.merge(graph.apply(m))
    return ch


# A two-stage build: builder compiles, the final stage copies from it; it fails in stage-1 3/3.
DEF, META, B1, B2, B3, S1, S2, S3, EXP, CTX = (f"sha256:{i:02d}" for i in range(1, 11))
NAMES = {
    DEF: "[internal] load build definition from Dockerfile",
    META: "[internal] load metadata for docker.io/library/busybox:local",
    CTX: "[internal] load build context",
    B1: "[builder 1/3] FROM docker.io/library/busybox:local",
    B2: "[builder 2/3] WORKDIR /src",
    B3: "[builder 3/3] RUN make",
    S1: "[stage-1 1/3] FROM docker.io/library/busybox:local",
    S2: "[stage-1 2/3] COPY --from=builder /src/out /out",
    S3: "[stage-1 3/3] RUN /out/check",
    EXP: "exporting to image",
}
INPUTS = {B2: (B1,), B3: (B2, CTX), S2: (S1, B3), S3: (S2,), EXP: (S3,)}
FAIL = 'process "/bin/sh -c /out/check" did not complete successfully: exit code: 1'


def v(d: str, **kw: Any) -> pb.Vertex:
    return vtx(d, NAMES[d], inputs=INPUTS.get(d, ()), **kw)


def declare_all() -> list[pb.StatusResponse]:
    # declared out of order: the final stage first, builder steps reversed
    return [
        resp(v(DEF), v(META)),
        resp(v(EXP), v(S3), v(S2), v(S1), v(B3), v(B2), v(B1), v(CTX)),
    ]


def run_all(fail: bool = True) -> list[pb.StatusResponse]:
    msgs = []
    t = 0
    for d in (DEF, META, CTX, B1, B2, B3, S1, S2):
        msgs.append(resp(v(d, started=t)))
        msgs.append(resp(v(d, started=t, completed=t + 100 * MS, cached=d == B1)))
        t += 200 * MS
    msgs.append(resp(v(S3, started=t)))
    msgs.append(resp(v(S3, started=t, completed=t + 1500 * MS, error=FAIL if fail else "")))
    return msgs


def built(fail: bool = True) -> BuildGraph:
    g = BuildGraph()
    feed(g, *declare_all(), *run_all(fail))
    return g


def labels(rows: GraphRows) -> list[str]:
    return [f"# {r.name}" if isinstance(r, StageRow) else r.label for r in rows.rows]


# ---------------------------------------------------------------------------- graphrows
@pytest.mark.parametrize(
    ("name", "stage", "position", "label"),
    [
        ("[builder 2/4] RUN echo hi", "builder", (2, 4), "RUN echo hi"),
        ("[2/5] WORKDIR /work", DEFAULT_STAGE, (2, 5), "WORKDIR /work"),
        ("[stage-1 1/3] FROM x", "stage-1", (1, 3), "FROM x"),
        ("[linux/amd64 builder 3/4] RUN x", "linux/amd64 builder", (3, 4), "RUN x"),
        (
            "[internal] load build definition from Dockerfile",
            INTERNAL_STAGE,
            None,
            "load build definition from Dockerfile",
        ),
        (
            "[auth] library/busybox:pull token",
            INTERNAL_STAGE,
            None,
            "[auth] library/busybox:pull token",
        ),
        ("exporting to image", OTHER_STAGE, None, "exporting to image"),
        ("", OTHER_STAGE, None, ""),
    ],
)
def test_parse_name(name: str, stage: str, position: tuple[int, int] | None, label: str) -> None:
    p = parse_name(name)
    assert (p.stage, p.position, p.label) == (stage, position, label)


def test_format_duration() -> None:
    assert format_duration(0.0) == "0.0s"
    assert format_duration(2.37) == "2.3s"
    assert format_duration(59.99) == "59.9s"
    assert format_duration(125.4) == "2m05s"
    assert format_duration(3725) == "1h02m"


def test_stages_first_seen_and_rows_by_position() -> None:
    g = BuildGraph()
    feed(g, *declare_all())
    rows = GraphRows(g)
    assert list(rows.stages) == [INTERNAL_STAGE, OTHER_STAGE, "stage-1", "builder"]
    assert labels(rows) == [
        "# internal",
        "load build definition from Dockerfile",
        "load metadata for docker.io/library/busybox:local",
        "load build context",
        "# other",
        "exporting to image",
        "# stage-1",
        "FROM docker.io/library/busybox:local",
        "COPY --from=builder /src/out /out",
        "RUN /out/check",
        "# builder",
        "FROM docker.io/library/busybox:local",
        "WORKDIR /src",
        "RUN make",
    ]
    assert all(rows.index_of(r.key) == i for i, r in enumerate(rows.rows))


def test_same_position_ordered_by_seq() -> None:
    g = BuildGraph()
    feed(
        g,
        resp(
            vtx("sha256:b", "[2/2] RUN b"),
            vtx("sha256:a", "[2/2] RUN a"),
            vtx("sha256:c", "[1/2] FROM c"),
        ),
    )
    assert labels(GraphRows(g))[1:] == ["FROM c", "RUN b", "RUN a"]


def test_failed_chain_follows_inputs_to_the_base() -> None:
    g = built()
    assert g.failed is not None and g.failed.digest == S3
    assert failed_chain(g, S3) == {S3, S2, S1, B3, B2, B1, CTX}
    assert failed_chain(g, B2) == {B2, B1}
    assert failed_chain(g, None) == set()
    rows = GraphRows(g)
    assert rows.failed == S3
    assert rows.failed_key == S3
    assert rows.chain == {S3, S2, S1, B3, B2, B1, CTX}
    assert DEF not in rows.chain and EXP not in rows.chain


def test_inputs_and_dependents() -> None:
    g = built()
    assert inputs_of(g, S2) == [S1, B3]
    assert dependents_of(g, B3) == [S2]
    rows = GraphRows(g)
    changed = rows.set_focus(B3)
    assert rows.inputs == {B2, CTX}
    assert rows.dependents == {S2}
    assert changed == {B2, CTX, S2}
    changed = rows.set_focus(S3)
    assert rows.inputs == {S2} and rows.dependents == {EXP}
    assert changed == {B2, CTX, S2, EXP}  # S2 moved from dependent to input
    assert rows.set_focus(None) == {S2, EXP}
    assert rows.inputs == frozenset() and rows.dependents == frozenset()


def test_incremental_update_marks_only_changed_rows() -> None:
    g = BuildGraph()
    rows = GraphRows(g)
    upd = rows.update(feed(g, *declare_all()))
    assert upd.structure
    assert len(rows) == 14
    flat = list(rows.rows)

    upd = rows.update(feed(g, resp(v(B1, started=0))))
    assert not upd.structure
    assert upd.dirty == {B1, graphrows.STAGE_PREFIX + "builder"}
    assert list(rows.rows) == flat
    assert list(rows.running) == [B1]
    builder = rows.stages["builder"]
    assert builder.running == 1 and builder.done == 0

    upd = rows.update(feed(g, resp(v(B1, started=0, completed=5 * MS))))
    assert upd.dirty == {B1, builder.key}
    assert builder.done == 1 and builder.running == 0
    assert list(rows.running) == []

    # a log message touches no row
    log = pb.VertexLog(vertex=B1, stream=1, msg=b"hi\n")
    log.timestamp.CopyFrom(ts(1))
    upd = rows.update(feed(g, pb.StatusResponse(logs=[log])))
    assert upd.dirty == set() and not upd.structure

    # a new vertex inserts a row in its stage's place
    upd = rows.update(feed(g, resp(vtx("sha256:new", "[builder 2/3] RUN extra"))))
    assert upd.structure
    assert labels(rows)[-4:] == [
        "FROM docker.io/library/busybox:local",
        "WORKDIR /src",
        "RUN extra",
        "RUN make",
    ]


def test_state_change_does_not_rebuild_the_flat_list(monkeypatch: pytest.MonkeyPatch) -> None:
    g = BuildGraph()
    n = 3000
    feed(
        g,
        resp(*(vtx(f"sha256:{i:04d}", f"[s{i % 30} {i // 30 + 1}/100] RUN {i}") for i in range(n))),
    )
    rows = GraphRows(g)
    assert len(rows) == n + 30
    calls = []
    monkeypatch.setattr(rows, "_flatten", lambda: calls.append(1))
    upd = rows.update(feed(g, resp(vtx("sha256:0042", "[s12 2/100] RUN 42", started=0))))
    assert calls == []
    assert upd.dirty == {"sha256:0042", graphrows.STAGE_PREFIX + "s12"}


def test_failure_sets_failed_and_chain_incrementally() -> None:
    g = BuildGraph()
    rows = GraphRows(g)
    rows.update(feed(g, *declare_all()))
    assert rows.failed is None and rows.chain == frozenset()
    msgs = run_all()
    rows.update(feed(g, *msgs[:-1]))
    upd = rows.update(feed(g, msgs[-1]))
    assert rows.failed == S3
    assert rows.chain == {S3, S2, S1, B3, B2, B1, CTX}
    assert upd.dirty >= {S3, S2, S1, B3, B2, B1, CTX}
    assert rows.stages["stage-1"].failed == 1
    # the app's authoritative failed vertex overrides graph.failed
    dirty = rows.set_failed(B2)
    assert rows.failed == B2 and rows.chain == {B2, B1}
    assert dirty == {S3, S2, S1, B3, CTX, B2}  # B2 is now the failed row
    rows.set_failed(None)
    assert rows.failed == S3


def test_progress_group_shares_one_row() -> None:
    g = BuildGraph()
    grp = ("g1", "[stage-1 2/3] COPY --link", False)
    rows = GraphRows(g)
    rows.update(
        feed(
            g,
            resp(
                vtx("sha256:m1", "[stage-1 2/3] COPY a", group=grp, started=0),
                vtx("sha256:m2", "[stage-1 2/3] COPY b", group=grp),
                vtx("sha256:x", "[stage-1 1/3] FROM x"),
            ),
        )
    )
    assert len(rows) == 3
    row = rows.rows[2]
    assert isinstance(row, VertexRow)
    assert row.digests == ["sha256:m1", "sha256:m2"]
    assert row.label == "COPY --link"
    assert rows.key_of("sha256:m2") == row.key
    assert rows.state_of(row) is VertexState.RUNNING
    rows.update(
        feed(
            g,
            resp(
                vtx("sha256:m1", "[stage-1 2/3] COPY a", group=grp, started=0, completed=SEC),
                vtx(
                    "sha256:m2",
                    "[stage-1 2/3] COPY b",
                    group=grp,
                    started=SEC // 2,
                    completed=2 * SEC,
                ),
            ),
        )
    )
    assert rows.state_of(row) is VertexState.DONE
    assert rows.duration_of(row) == pytest.approx(2.0)
    assert rows.step_of(row) == 1


def test_rows_built_from_an_existing_graph() -> None:
    rows = GraphRows(built())
    assert rows.stages["builder"].done == 3
    assert rows.stages["stage-1"].counts[VertexState.ERROR] == 1
    assert rows.stages[OTHER_STAGE].counts[VertexState.QUEUED] == 1


# ---------------------------------------------------------------------------- widget
class GraphApp(App[None]):
    def __init__(self, graph: BuildGraph) -> None:
        super().__init__()
        self.graph = graph
        self.selected: list[str] = []
        self.highlighted: list[str] = []

    def compose(self) -> ComposeResult:
        yield GraphView(self.graph, id="graph")

    def on_graph_view_selected(self, msg: GraphView.Selected) -> None:
        self.selected.append(msg.digest)

    def on_graph_view_highlighted(self, msg: GraphView.Highlighted) -> None:
        self.highlighted.append(msg.digest)


def lines(view: GraphView) -> list[str]:
    return [view.render_line(y).text.rstrip() for y in range(view.scrollable_content_region.height)]


def line_of(view: GraphView, digest: str) -> str:
    index = view.rows.index_of(view.rows.key_of(digest) or "")
    assert index is not None
    return view.render_line(index - view.scroll_offset.y).text


async def test_rows_show_states_and_failed_chain() -> None:
    g = BuildGraph()
    app = GraphApp(g)
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(GraphView)
        view.apply_changes(feed(g, *declare_all()))
        await pilot.pause()
        shown = lines(view)
        assert shown[0].startswith("▾ internal  (0/3 done)")
        assert "· " in line_of(view, B3) and "RUN make" in line_of(view, B3)
        view.apply_changes(feed(g, *run_all()))
        await pilot.pause()
        assert lines(view)[0].startswith("▾ internal  (3/3 done)")
        b1 = line_of(view, B1)
        assert "✓" in b1 and b1.rstrip().endswith("CACHED") and "#4" in b1
        assert line_of(view, B2).rstrip().endswith("0.1s")
        s3 = line_of(view, S3)
        assert s3.startswith("▌") and "✗" in s3 and s3.rstrip().endswith("ERROR 1.5s")
        assert line_of(view, B2).startswith("▌")  # in the failed chain
        assert not line_of(view, DEF).startswith("▌")
        assert "▾ stage-1  (2/3 done)  ✗1" in "\n".join(lines(view))
        # the failed row uses the error colour, a chain row does not
        error = view.get_component_rich_style("graph-view--failed").color
        row = view.render_line(view.rows.index_of(S3) or 0)
        assert any(seg.style and seg.style.color == error for seg in row)
        assert row.text.rstrip().endswith("ERROR 1.5s")
        # the app names another failed vertex
        view.set_failed(B2)
        await pilot.pause()
        assert not line_of(view, S3).startswith("▌")
        assert line_of(view, B1).startswith("▌")


async def test_cursor_keys_highlight_and_enter_selects() -> None:
    g = built()
    app = GraphApp(g)
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(GraphView)
        view.focus()
        await pilot.pause()
        assert view.cursor_row == 0 and view.selected_digest is None
        await pilot.press("down")
        await pilot.pause()
        assert view.selected_digest == DEF
        assert app.highlighted == [DEF]
        await pilot.press("j", "j", "k")
        await pilot.pause()
        assert view.selected_digest == META
        assert app.highlighted == [DEF, META, CTX, META]
        await pilot.press("enter")
        await pilot.pause()
        assert app.selected == [META]
        await pilot.press("G")
        await pilot.pause()
        assert view.selected_digest == B3
        # edges of the cursor's vertex
        assert line_of(view, B2)[1:5] == "↑in "
        assert line_of(view, CTX)[1:5] == "↑in "
        assert line_of(view, S2)[1:5] == "↓out"
        assert line_of(view, S1)[1:5] == "    "
        await pilot.press("g")
        await pilot.pause()
        assert view.cursor_row == 0
        assert line_of(view, B2)[1:5] == "    "
        # Enter on a header collapses the stage
        await pilot.press("enter")
        await pilot.pause()
        assert lines(view)[:2] == ["▸ internal  (3/3 done)", "▾ other  (0/1 done)"]
        assert app.selected == [META]
        await pilot.press("enter")
        await pilot.pause()
        first = lines(view)[1]
        assert first.startswith("      ✓   #1 load build definition from Dockerfile ")
        assert first.endswith(" 0.1s") and len(first) == view.scrollable_content_region.width


async def test_click_selects_and_wheel_scrolls() -> None:
    g = BuildGraph()
    feed(g, resp(*(vtx(f"sha256:{i:03d}", f"[2/2] RUN step {i}") for i in range(200))))
    app = GraphApp(g)
    async with app.run_test(size=(80, 20)) as pilot:
        view = app.query_one(GraphView)
        await pilot.pause()
        assert await pilot.click(GraphView, offset=(10, 3))
        await pilot.pause()
        assert app.selected == ["sha256:002"]
        assert view.selected_digest == "sha256:002"
        assert view.scroll_offset.y == 0
        for _ in range(3):  # the wheel (Pilot has no public helper for it)
            await pilot._post_mouse_events([events.MouseScrollDown], GraphView, (10, 5))
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        assert view.scroll_offset.y > 0
        assert app.selected == ["sha256:002"]


async def test_select_scrolls_into_view_and_posts_selected() -> None:
    g = BuildGraph()
    n = 500
    feed(
        g, resp(*(vtx(f"sha256:{i:03d}", f"[s{i % 5} {i // 5 + 1}/100] RUN {i}") for i in range(n)))
    )
    app = GraphApp(g)
    async with app.run_test(size=(80, 20)) as pilot:
        view = app.query_one(GraphView)
        await pilot.pause()
        assert view.scroll_offset.y == 0
        target = "sha256:453"  # stage s3, far down
        view.select(target)
        await pilot.pause()
        assert app.selected == [target]
        assert view.selected_digest == target
        top = view.scroll_offset.y
        index = view.cursor_row
        assert index is not None and top > 0
        assert top <= index < top + view.scrollable_content_region.height
        assert "RUN 453" in view.render_line(index - top).text
        # a digest not declared yet is selected once it appears
        view.select("sha256:late")
        await pilot.pause()
        assert app.selected == [target]
        view.apply_changes(feed(g, resp(vtx("sha256:late", "[s0 101/101] RUN late"))))
        await pilot.pause()
        assert app.selected == [target, "sha256:late"]
        assert view.selected_digest == "sha256:late"


async def test_select_expands_a_collapsed_stage() -> None:
    g = built()
    app = GraphApp(g)
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(GraphView)
        view.focus()
        await pilot.press("enter")  # collapse "internal"
        await pilot.pause()
        assert view.rows.index_of(META) is None
        view.select(META)
        await pilot.pause()
        assert view.rows.index_of(META) == 2 and view.cursor_row == 2
        assert app.selected == [META]


async def test_running_elapsed_updates_live() -> None:
    g = BuildGraph()
    app = GraphApp(g)
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(GraphView)
        now = [BASE + 2 * SEC]
        view.clock = lambda: now[0]
        view.apply_changes(feed(g, *declare_all()))
        await pilot.pause()
        assert not view.ticking
        view.apply_changes(feed(g, resp(v(B3, started=0))))
        await pilot.pause()
        assert view.ticking
        assert line_of(view, B3).rstrip().endswith("2.0s")
        now[0] = BASE + 7 * SEC + 300 * MS
        for _ in range(100):  # the ticker refreshes the row within 1/TICK_HZ s
            if line_of(view, B3).rstrip().endswith("7.3s"):
                break
            await pilot.pause(0.05)
        assert line_of(view, B3).rstrip().endswith("7.3s")
        view.apply_changes(feed(g, resp(v(B3, started=0, completed=8 * SEC))))
        await pilot.pause()
        assert line_of(view, B3).rstrip().endswith("8.0s")
        assert not view.ticking


async def test_cursor_row_is_highlighted() -> None:
    g = built()
    app = GraphApp(g)
    async with app.run_test(size=(100, 30)) as pilot:
        view = app.query_one(GraphView)
        view.focus()
        await pilot.press("down", "down")
        await pilot.pause()
        cursor_bg = view.get_component_rich_style("graph-view--cursor").bgcolor
        assert cursor_bg is not None

        def backgrounds(y: int) -> set[object]:
            return {seg.style.bgcolor for seg in view.render_line(y) if seg.style}

        assert backgrounds(2) == {cursor_bg}
        assert cursor_bg not in backgrounds(1) and cursor_bg not in backgrounds(3)
        await pilot.press("up")
        await pilot.pause()
        assert backgrounds(1) == {cursor_bg} and cursor_bg not in backgrounds(2)


async def test_rows_inserted_above_keep_the_cursor_row_in_place() -> None:
    g = BuildGraph()
    feed(g, resp(*(vtx(f"sha256:b{i:03d}", f"[b {i + 1}/300] RUN {i}") for i in range(300))))
    app = GraphApp(g)
    async with app.run_test(size=(80, 20)) as pilot:
        view = app.query_one(GraphView)
        view.select("sha256:b150")
        await pilot.pause()
        y = (view.cursor_row or 0) - view.scroll_offset.y
        view.apply_changes(
            feed(g, resp(*(vtx(f"sha256:a{i}", f"[b {i + 1}/300] RUN a{i}") for i in range(5))))
        )
        await pilot.pause()
        assert view.selected_digest == "sha256:b150"
        assert (view.cursor_row or 0) - view.scroll_offset.y == y
        assert "RUN 150" in view.render_line(y).text
