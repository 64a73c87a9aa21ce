"""The logs pane: LogIndex (line splitting, streams, CR, trimming, search) and LogView."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pilotwait import wait_for
from statusmsgs import resp, ts
from textual import events
from textual.app import App, ComposeResult

from tui.buildkit.proto import control_pb2 as pb
from tui.debug.model.graph import BuildGraph
from tui.debug.model.logbuffer import STDERR, STDOUT, LogBuffer
from tui.ui.widgets.logs import index as logindex
from tui.ui.widgets.logs.index import DEFAULT_BUDGET, LogIndex, sgr_strip
from tui.ui.widgets.logs.pane import LogView, format_status
from tui.ui.widgets.logs.raw import RawLog


# ---------------------------------------------------------------------- helpers
def make_index(chunks: Iterable[tuple[int, bytes]], cap: int = 1 << 30) -> LogIndex:
    buf = LogBuffer(cap)
    idx = LogIndex(buf)
    for stream, data in chunks:
        buf.add(stream, 0, data)
    idx.update(None)
    return idx


def lines(idx: LogIndex) -> list[str]:
    return [idx.line_text(i) for i in range(len(idx))]


def streams(idx: LogIndex) -> list[int]:
    return [idx.stream(i) for i in range(len(idx))]


def ref_lines(chunks: Iterable[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """Reference model of the documented splitting rules (quadratic, obviously right)."""
    out: list[list[Any]] = []
    is_open = False
    for stream, data in chunks:
        parts = data.split(b"\n")
        for k, part in enumerate(parts):
            ended = k < len(parts) - 1
            if k == 0 and is_open and out[-1][0] == stream:
                out[-1][1] += part
                is_open = not ended
                continue
            if k == 0 and is_open and not part and ended:
                is_open = False  # a lone newline of the other stream ends the open line
                continue
            if not part and not ended:
                is_open = False if k else is_open
                continue
            out.append([stream, bytearray(part)])
            is_open = not ended
    result = []
    for s, b in out:
        text = bytes(b).rstrip(b"\r")
        text = text[text.rfind(b"\r") + 1 :]
        result.append((s, text))
    return result


# ---------------------------------------------------------------------- LogIndex
def test_splits_lines_and_keeps_streams() -> None:
    idx = make_index([(STDOUT, b"one\ntwo\n"), (STDERR, b"err\n"), (STDOUT, b"three")])
    assert lines(idx) == ["one", "two", "err", "three"]
    assert streams(idx) == [STDOUT, STDOUT, STDERR, STDOUT]
    assert [idx.is_stderr(i) for i in range(4)] == [False, False, True, False]
    assert idx.complete_lines == 3  # "three" may still grow


def test_empty_lines_and_crlf() -> None:
    idx = make_index([(STDOUT, b"a\n\n\nb\r\n")])
    assert lines(idx) == ["a", "", "", "b"]


def test_partial_line_is_continued_incrementally() -> None:
    buf = LogBuffer()
    idx = LogIndex(buf)
    buf.add(STDOUT, 0, b"hel")
    d1 = idx.update()
    assert lines(idx) == ["hel"] and d1.first_changed == 0 and d1.added == 1
    buf.add(STDOUT, 0, b"lo\nwor")
    d2 = idx.update()
    assert lines(idx) == ["hello", "wor"]
    assert d2.first_changed == 0  # the open line grew
    assert d2.added == 1
    buf.add(STDOUT, 0, b"ld\n")
    d3 = idx.update()
    assert lines(idx) == ["hello", "world"] and d3.first_changed == 1 and d3.added == 0
    assert idx.update() == (0, False, None, 0)


def test_carriage_return_progress_shows_last_state() -> None:
    idx = make_index([(STDOUT, b"10%\r50%\r100%\nnext\n"), (STDOUT, b"a\rb\r")])
    assert lines(idx) == ["100%", "next", "b"]
    # a \r arriving in a later chunk also hides what came before it
    buf = LogBuffer()
    idx = LogIndex(buf)
    buf.add(STDOUT, 0, b"downloading 1/3")
    idx.update()
    buf.add(STDOUT, 0, b"\rdownloading 3/3")
    idx.update()
    assert lines(idx) == ["downloading 3/3"]


def test_stream_switch_inside_a_line_splits_it() -> None:
    idx = make_index([(STDOUT, b"out "), (STDERR, b"err\n"), (STDOUT, b"x")])
    assert lines(idx) == ["out ", "err", "x"]
    assert streams(idx) == [STDOUT, STDERR, STDOUT]
    # a lone newline of the other stream just ends the open line
    idx = make_index([(STDOUT, b"compiling"), (STDERR, b"\n"), (STDOUT, b"done\n")])
    assert lines(idx) == ["compiling", "done"]
    assert streams(idx) == [STDOUT, STDOUT]


def test_utf8_split_across_chunks_and_updates() -> None:
    data = "naïve — 日本\n".encode()
    buf = LogBuffer()
    idx = LogIndex(buf)
    for k in range(len(data)):  # one byte per chunk, an update after each
        buf.add(STDOUT, 0, data[k : k + 1])
        idx.update()
        assert len(idx) == 1
    assert lines(idx) == ["naïve — 日本"]
    assert idx.max_line_bytes == len(data) - 1


def test_budget_indexes_a_backlog_in_steps() -> None:
    buf = LogBuffer(1 << 30)
    buf.add(STDOUT, 0, b"0123456789\n" * 100)
    idx = LogIndex(buf)
    d = idx.update(budget=55)
    assert len(idx) == 5 and idx.pending == 1100 - 55
    steps = 1
    while idx.pending:
        idx.update(budget=55)
        steps += 1
    assert steps == 20
    assert lines(idx) == ["0123456789"] * 100
    assert d.added == 5


def test_update_reads_only_new_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = LogBuffer(1 << 30)
    buf.add(STDOUT, 0, b"x" * 99 + b"\n" * 1000)
    idx = LogIndex(buf)
    idx.update(None)
    read: list[int] = []
    orig = RawLog.slice

    def spy(self: Any, lo: int, hi: int) -> bytes:
        data = orig(self, lo, hi)
        read.append(len(data))
        return data

    monkeypatch.setattr(RawLog, "slice", spy)
    buf.add(STDERR, 0, b"new line\n")
    idx.update()
    assert sum(read) == 9
    assert idx.line_text(len(idx) - 1) == "new line"


def test_head_trimming_drops_lines_from_the_front() -> None:
    buf = LogBuffer(cap=25)
    idx = LogIndex(buf)
    for k in range(10):
        buf.add(STDOUT, 0, b"line %d\n" % k)  # 7 bytes each
        idx.update()
    # kept: the last 25 bytes = "e 6\n" + lines 7..9 (the first kept line lost its head)
    assert lines(idx) == ["e 6", "line 7", "line 8", "line 9"]
    assert idx.dropped == 6
    d = idx.update()
    assert d.dropped == 0
    buf.add(STDOUT, 0, b"line 10\n")
    d = idx.update()
    assert d.dropped == 1 and d.head_changed
    assert lines(idx)[-1] == "line 10"
    assert idx.dropped + len(idx) == 11


def test_trimming_past_everything_indexed() -> None:
    buf = LogBuffer(cap=10)
    idx = LogIndex(buf)
    buf.add(STDOUT, 0, b"aaaa\nbbbb\n")
    idx.update()
    buf.add(STDERR, 0, b"cccccccc\ndd")  # drops all indexed bytes before the next update
    idx.update()
    assert lines(idx) == ["ccccccc", "dd"]
    assert streams(idx) == [STDERR, STDERR]


def test_many_lines_compact_and_stay_consistent() -> None:
    buf = LogBuffer(cap=200_000)
    idx = LogIndex(buf)
    for k in range(60):
        buf.add(STDOUT, 0, b"".join(b"%07d\n" % (k * 5000 + j) for j in range(5000)))
        idx.update(None)
    assert idx.dropped + len(idx) == 300_000
    assert len(idx) == 25_000
    assert idx.line_text(0) == f"{275_000:07d}"
    assert idx.line_text(len(idx) - 1) == f"{299_999:07d}"
    assert idx.nbytes < 25_000 * 9 * 4  # arrays, compacted


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([STDOUT, STDERR]),
            st.binary(min_size=1, max_size=8).map(lambda b: bytes(b"ab\n\r"[x % 4] for x in b)),
        ),
        min_size=1,
        max_size=15,
    ),
    st.lists(st.sampled_from([None, 1, 2, 5]), min_size=1, max_size=6),
)
def test_matches_reference_model(
    chunks: list[tuple[int, bytes]], budgets: list[int | None]
) -> None:
    buf = LogBuffer(1 << 30)
    idx = LogIndex(buf)
    for k, (stream, data) in enumerate(chunks):
        buf.add(stream, 0, data)
        idx.update(budgets[k % len(budgets)])
    while idx.pending:
        idx.update(3)
    got = [(idx.stream(i), idx.line_bytes(i)) for i in range(len(idx))]
    assert got == ref_lines(chunks)


def test_find_forward_backward_and_case() -> None:
    idx = make_index([(STDOUT, b"alpha\nBeta\ngamma\nbeta max\nend\n")])
    assert idx.find("beta", 0) == 1  # case-insensitive
    assert idx.find("beta", 2) == 3
    assert idx.find("beta", 4) is None
    assert idx.find("Beta", 2) is None  # smart case: upper-case letter -> exact
    assert idx.find("beta", 4, backwards=True) == 3
    assert idx.find("beta", 2, backwards=True) == 1
    assert idx.find("alpha", 0, backwards=True) == 0
    assert idx.find("nothing", 0) is None
    assert idx.find("", 0) is None
    assert idx.find("BETA", 0, case_sensitive=False) == 1
    assert idx.count("beta") == 2
    assert idx.count("a") == 4
    assert idx.count("a", limit=2) == 2
    assert list(idx.iter_matches("a", 1, 4)) == [1, 2, 3]


def test_find_skips_text_hidden_by_carriage_return_and_line_joins() -> None:
    idx = make_index([(STDOUT, b"secret\rshown\n"), (STDOUT, b"foo"), (STDERR, b"bar\n")])
    assert idx.find("secret", 0) is None
    assert idx.find("shown", 0) == 0
    assert idx.find("foobar", 0) is None  # spans a stream split: two lines
    assert idx.find("bar", 0) == 2


def test_find_across_search_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(logindex, "_SEARCH_BLOCK", 16)
    data = b"".join(
        b"row %03d %s\n" % (k, b"NEEDLE" if k in (7, 31) else b"hay") for k in range(40)
    )
    idx = make_index([(STDOUT, data)])
    assert idx.find("needle", 0) == 7
    assert idx.find("needle", 8) == 31
    assert idx.find("needle", 39, backwards=True) == 31
    assert idx.find("needle", 30, backwards=True) == 7
    assert idx.count("needle") == 2
    assert idx.count("row") == 40


def test_sgr_strip() -> None:
    assert sgr_strip("\x1b[1;31mred\x1b[0m plain") == "red plain"
    idx = make_index([(STDOUT, b"\x1b[32mok\x1b[0m\n")])
    assert idx.plain(0) == "ok"


# ---------------------------------------------------------------------- graph helpers


def vertex_msg(digest: str, name: str, *, started: int | None = 0, error: str = "") -> pb.Vertex:
    v = pb.Vertex(digest=digest, name=name, error=error)
    if started is not None:
        v.started.CopyFrom(ts(started))
    if error:
        v.completed.CopyFrom(ts(started or 0))
    return v


def log_msg(digest: str, data: bytes, stream: int = STDOUT) -> pb.VertexLog:
    entry = pb.VertexLog(vertex=digest, stream=stream, msg=data)
    entry.timestamp.CopyFrom(ts(0))
    return entry


def apply(graph: BuildGraph, *items: Any) -> None:
    graph.apply(resp(*items))


def numbered(n: int, start: int = 0, stream: int = STDOUT) -> pb.VertexLog:
    return log_msg("d1", b"".join(b"line %d\n" % k for k in range(start, start + n)), stream)


# ---------------------------------------------------------------------- pilot
class LogsApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LogView(id="logs")


def row_texts(lv: LogView) -> list[str]:
    return [lv.render_line(y).text.rstrip() for y in range(lv.scrollable_content_region.height)]


def wheel(lv: LogView, kind: type[events.MouseScrollUp | events.MouseScrollDown]) -> None:
    lv.post_message(
        kind(lv, 5, 5, 0, -1 if kind is events.MouseScrollUp else 1, 0, False, False, False)
    )


def graph_with_lines(n: int) -> BuildGraph:
    g = BuildGraph(log_cap=64 << 20)
    apply(g, vertex_msg("d1", "RUN make"), numbered(n))
    return g


async def test_shows_lines_title_and_follows_the_end() -> None:
    g = graph_with_lines(100)
    async with LogsApp().run_test(size=(60, 12)) as pilot:
        lv = pilot.app.query_one(LogView)
        lv.show_vertex(g["d1"])
        lv.focus()
        await pilot.pause()
        assert lv.border_title == "#1 RUN make · running"
        assert "follow" in str(lv.border_subtitle)
        rows = row_texts(lv)
        assert rows[-1].strip() == "line 99"
        assert lv.scroll_y == lv.max_scroll_y > 0
        apply(g, numbered(20, 100))
        lv.logs_changed()
        await pilot.pause()
        assert row_texts(lv)[-1].strip() == "line 119"
        assert lv.scroll_y == lv.max_scroll_y


async def test_stderr_lines_are_marked() -> None:
    g = BuildGraph()
    apply(
        g,
        vertex_msg("d1", "RUN x"),
        log_msg("d1", b"to stdout\n"),
        log_msg("d1", b"to stderr\n", STDERR),
    )
    async with LogsApp().run_test(size=(60, 8)) as pilot:
        lv = pilot.app.query_one(LogView)
        lv.show_vertex(g["d1"])
        await pilot.pause()
        out, err = lv.render_line(0), lv.render_line(1)
        assert out.text.startswith("  to stdout")
        assert err.text.startswith("▌ to stderr")
        out_seg = next(s for s in out if "stdout" in s.text)
        err_seg = next(s for s in err if "stderr" in s.text)
        assert out_seg.style is not None and err_seg.style is not None
        assert out_seg.style.color != err_seg.style.color
        gutter = next(s for s in err if s.text.startswith("▌"))
        assert gutter.style is not None and gutter.style.color != out_seg.style.color


async def test_ansi_colours_are_rendered_not_printed() -> None:
    g = BuildGraph()
    apply(g, vertex_msg("d1", "RUN x"), log_msg("d1", b"\x1b[31mred\x1b[0m text\tend\x07\n"))
    async with LogsApp().run_test(size=(60, 8)) as pilot:
        lv = pilot.app.query_one(LogView)
        lv.show_vertex(g["d1"])
        await pilot.pause()
        strip = lv.render_line(0)
        assert strip.text.rstrip() == "  red text        end\ufffd"  # tab stop at 16
        red = next(s for s in strip if s.text == "red")
        assert red.style is not None and red.style.color is not None
        assert red.style.color.number == 1  # ANSI red


async def test_scrolling_up_pauses_and_end_resumes_follow() -> None:
    g = graph_with_lines(200)
    async with LogsApp().run_test(size=(60, 12)) as pilot:
        lv = pilot.app.query_one(LogView)
        lv.show_vertex(g["d1"])
        lv.focus()
        await pilot.pause()
        bottom = lv.scroll_y
        await pilot.press("up", "k")
        assert not lv.follow and lv.scroll_y == bottom - 2
        assert "paused" in str(lv.border_subtitle)
        apply(g, numbered(50, 200))
        lv.logs_changed()
        await pilot.pause()
        assert lv.scroll_y == bottom - 2  # stays where the user is
        await pilot.press("pageup")
        assert lv.scroll_y == bottom - 2 - 12
        await pilot.press("home")
        assert lv.scroll_y == 0 and row_texts(lv)[0].strip() == "line 0"
        await pilot.press("G")
        assert lv.follow and lv.scroll_y == lv.max_scroll_y
        assert row_texts(lv)[-1].strip() == "line 249"
        await pilot.press("g")
        assert not lv.follow and lv.scroll_y == 0
        await pilot.press("end")
        assert lv.follow
        await pilot.press("up", "down")  # back at the end by hand: following again
        assert lv.follow


async def test_mouse_wheel_scrolls_and_pauses() -> None:
    g = graph_with_lines(200)
    async with LogsApp().run_test(size=(60, 12)) as pilot:
        lv = pilot.app.query_one(LogView)
        lv.show_vertex(g["d1"])
        await pilot.pause()
        bottom = lv.scroll_y
        wheel(lv, events.MouseScrollUp)
        await wait_for(pilot, lambda: lv.scroll_y < bottom)
        assert not lv.follow and lv.scroll_y == bottom - 3
        wheel(lv, events.MouseScrollDown)
        await wait_for(pilot, lambda: lv.follow)
        assert lv.scroll_y == lv.max_scroll_y == bottom


async def test_search_next_previous_and_highlight() -> None:
    g = BuildGraph()
    body = b"".join(
        (b"step %d ERROR here\n" % k) if k in (10, 40, 90) else (b"step %d ok\n" % k)
        for k in range(100)
    )
    apply(g, vertex_msg("d1", "RUN test"), log_msg("d1", body))
    async with LogsApp().run_test(size=(60, 12)) as pilot:
        lv = pilot.app.query_one(LogView)
        lv.show_vertex(g["d1"])
        lv.focus()
        await pilot.pause()
        await pilot.press("home")
        await pilot.press("slash")
        assert lv.searching
        await pilot.press(*"error")
        assert row_texts(lv)[-1].startswith("/error")
        await pilot.press("enter")
        assert not lv.searching and lv.search_pattern == "error"
        assert lv.current_match == 10
        await wait_for(pilot, lambda: "match 1/3" in str(lv.border_subtitle))
        # the match is on screen and highlighted
        y = 10 - round(lv.scroll_y)
        strip = lv.render_line(y)
        assert "ERROR" in strip.text
        hl = next(s for s in strip if s.text == "ERROR")
        plain = next(s for s in strip if "here" in s.text)
        assert hl.style is not None and plain.style is not None
        assert hl.style.bgcolor != plain.style.bgcolor
        await pilot.press("n")
        assert lv.current_match == 40 and "match 2/3" in str(lv.border_subtitle)
        assert lv.scroll_y <= 40 < lv.scroll_y + 12
        await pilot.press("n", "n")  # wraps around
        assert lv.current_match == 10
        await pilot.press("N")
        assert lv.current_match == 90 and "match 3/3" in str(lv.border_subtitle)
        await pilot.press("N")
        assert lv.current_match == 40
        # the prompt takes letters that are bindings otherwise
        await pilot.press("slash", "n", "o", "p", "e", "enter")
        assert lv.search_pattern == "nope" and "no match" in str(lv.border_subtitle)
        await pilot.press("slash", "x", "escape")
        assert not lv.searching and lv.search_pattern == "nope"
        await pilot.press("escape")
        assert lv.search_pattern == ""


async def test_search_enter_starts_from_the_top_of_the_view() -> None:
    g = BuildGraph()
    body = b"".join(b"x %d%s\n" % (k, b" hit" if k % 20 == 0 else b"") for k in range(100))
    apply(g, vertex_msg("d1", "RUN x"), log_msg("d1", body))
    async with LogsApp().run_test(size=(60, 12)) as pilot:
        lv = pilot.app.query_one(LogView)
        lv.show_vertex(g["d1"])
        lv.focus()
        await pilot.pause()
        await pilot.press("home", *["pagedown"] * 3)  # top row: line 36
        assert round(lv.scroll_y) == 36
        await pilot.press("slash", "h", "i", "t", "enter")
        assert lv.current_match == 40
        await pilot.press("G", "slash", "enter")  # empty: search again
        assert lv.current_match == 0  # from the end: wrapped to the top
        assert not lv.follow


async def test_switching_vertices_restores_their_position() -> None:
    g = graph_with_lines(200)
    apply(g, vertex_msg("d2", "RUN other", started=5), log_msg("d2", b"other output\n", STDERR))
    async with LogsApp().run_test(size=(60, 12)) as pilot:
        lv = pilot.app.query_one(LogView)
        lv.show_vertex(g["d1"])
        lv.focus()
        await pilot.pause()
        await pilot.press("home", "pagedown")
        pos = lv.scroll_y
        lv.show_vertex(g["d2"])
        await pilot.pause()
        assert lv.border_title == "#2 RUN other · running"
        assert row_texts(lv)[0] == "▌ other output"
        assert lv.index is not None and len(lv.index) == 1
        lv.show_vertex(g["d1"])
        await pilot.pause()
        assert lv.scroll_y == pos and not lv.follow
        lv.show_vertex(None)
        await pilot.pause()
        assert lv.border_title == "Logs" and row_texts(lv)[0] == ""


async def test_header_statuses_warnings_and_error_footer() -> None:
    g = BuildGraph()
    st_msg = pb.VertexStatus(
        ID="transferring context:", vertex="d1", name="transferring", current=1_080_000_000, total=0
    )
    st_msg.timestamp.CopyFrom(ts(14_600_000_000))
    st_msg.started.CopyFrom(ts(0))
    st_msg.completed.CopyFrom(ts(14_600_000_000))
    warn = pb.VertexWarning(vertex="d1", level=1, short=b"FromAsCasing: 'as' and 'FROM' differ")
    apply(g, vertex_msg("d1", "RUN fail"), st_msg, warn, log_msg("d1", b"building\n"))
    assert format_status(g["d1"].statuses["transferring context:"]) == (
        "transferring context: 1.08GB 14.6s done"
    )
    async with LogsApp().run_test(size=(70, 12)) as pilot:
        lv = pilot.app.query_one(LogView)
        lv.show_vertex(g["d1"])
        await pilot.pause()
        rows = row_texts(lv)
        assert rows[:3] == [
            "transferring context: 1.08GB 14.6s done",
            "WARN: FromAsCasing: 'as' and 'FROM' differ",
            "  building",
        ]
        assert lv.header_lines == 2
        apply(g, vertex_msg("d1", "RUN fail", error="process did not complete: exit code 2"))
        lv.logs_changed()
        await pilot.pause()
        rows = row_texts(lv)
        assert rows[3] == "ERROR: process did not complete: exit code 2"
        assert lv.border_title == "#1 RUN fail · error"
        err = lv.render_line(3)
        ok = lv.render_line(2)
        seg_err = next(s for s in err if "ERROR" in s.text)
        seg_ok = next(s for s in ok if "building" in s.text)
        assert seg_err.style is not None and seg_ok.style is not None
        assert seg_err.style.color != seg_ok.style.color


async def test_head_trimming_while_shown() -> None:
    g = BuildGraph(log_cap=2000)
    apply(g, vertex_msg("d1", "RUN spam"), numbered(300))
    async with LogsApp().run_test(size=(60, 12)) as pilot:
        lv = pilot.app.query_one(LogView)
        lv.show_vertex(g["d1"])
        lv.focus()
        await pilot.pause()
        await pilot.press("up", "up", "up")
        top = row_texts(lv)[1]
        dropped = lv.index.dropped if lv.index is not None else 0
        apply(g, numbered(20, 300))
        lv.logs_changed()
        await pilot.pause()
        assert lv.index is not None and lv.index.dropped > dropped
        assert row_texts(lv)[1] == top  # the same text stays in view while paused
        await pilot.press("home")
        assert row_texts(lv)[0].startswith("… ")  # the dropped notice
        assert "of earlier output dropped" in row_texts(lv)[0]
        await pilot.press("G")
        assert row_texts(lv)[-1].strip() == "line 319"


async def test_big_backlog_is_indexed_over_several_frames() -> None:
    g = BuildGraph(log_cap=64 << 20)
    n = DEFAULT_BUDGET // 10 * 3  # ~3 budgets of 10-byte lines
    apply(g, vertex_msg("d1", "RUN big"), log_msg("d1", b"".join(b"%09d\n" % k for k in range(n))))
    async with LogsApp().run_test(size=(60, 12)) as pilot:
        lv = pilot.app.query_one(LogView)
        lv.show_vertex(g["d1"])
        assert lv.index is not None and 0 < lv.index.pending < n * 10
        await wait_for(pilot, lambda: lv.index is not None and lv.index.pending == 0)
        await pilot.pause()
        assert len(lv.index) == n
        assert row_texts(lv)[-1].strip() == f"{n - 1:09d}"
