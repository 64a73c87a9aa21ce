"""The diff pane: summary header, tree of changes, per-file unified diffs (pilot tests)."""

from __future__ import annotations

import asyncio

from pilotwait import wait_for
from rich.style import Style
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.pilot import Pilot
from textual.strip import Strip

from tui.debug.model.fsmodel import Entry, FsDiff, Snapshot, diff_snapshots
from tui.ui.widgets.diff.pane import LOADING, DiffTreeView, DiffView, UnifiedDiffView, build_tree


# ---------------------------------------------------------------------- helpers
def f(path: str, size: int = 10, mode: int = 0o644, owner: int = 0, mtime: int = 1) -> Entry:
    return Entry(path, "file", mode, owner, owner, size, mtime)


def d(path: str, mode: int = 0o755) -> Entry:
    return Entry(path, "dir", mode, 0, 0, 4096, 1)


def ln(path: str, target: str) -> Entry:
    return Entry(path, "link", 0o777, 0, 0, len(target), 1, target)


BEFORE = Snapshot([
    d(""), d("etc"), f("etc/passwd", 100), f("etc/hosts", 50),
    d("usr"), d("usr/bin"), f("usr/bin/tool", 300),
    d("work"), f("work/old.txt", 5), f("work/notes.txt", 10), ln("work/link", "a"),
    f("data.bin", 8),
])
AFTER = Snapshot([
    d(""), d("etc"), f("etc/passwd", 100, owner=1000), f("etc/hosts", 50),
    d("usr"), d("usr/bin"), f("usr/bin/tool", 300, mode=0o755),
    d("work"), f("work/notes.txt", 24, mtime=2), ln("work/link", "b"),
    f("work/new.sh", 24, mode=0o755), d("work/sub"), f("work/sub/deep.txt", 7),
    f("data.bin", 8, mtime=2),
])
TREE_ROWS = [
    "  ▾ /  +3 -1 ~5",
    "    ▾ etc/  ~1",
    "M       passwd  owner 0:0 -> 1000:1000",
    "    ▾ usr/  ~1",
    "      ▾ bin/  ~1",
    "M         tool  mode -rw-r--r-- -> -rwxr-xr-x",
    "    ▾ work/  +3 -1 ~2",
    "A     ▾ sub/  +1",
    "A         deep.txt  7 bytes",
    "M       link -> b  link a -> b",
    "A       new.sh  24 bytes",
    "M       notes.txt  content 10 -> 24 bytes",
    "D       old.txt",
    "M     data.bin  content",
]
UNIFIED = [
    "--- a/work/notes.txt",
    "+++ b/work/notes.txt",
    "@@ -1 +1,2 @@",
    "-old line",
    "+new line",
    "+another",
    " context",
]


class FakeSource:
    """A DiffSource over fixed diffs; ``gate`` holds ``diffs()`` until set."""

    def __init__(self, diffs: list[FsDiff], unified: dict[str, list[str] | None] | None = None,
                 error: Exception | None = None, gate: asyncio.Event | None = None) -> None:
        self._diffs = diffs
        self._unified = unified or {}
        self.error = error
        self.gate = gate
        self.asked: list[tuple[str, str]] = []

    async def diffs(self) -> list[FsDiff]:
        if self.gate is not None:
            await self.gate.wait()
        if self.error is not None:
            raise self.error
        return self._diffs

    async def unified(self, label: str, path: str) -> list[str] | None:
        self.asked.append((label, path))
        value = self._unified[path]
        return None if value is None else list(value)


def sample_source() -> FakeSource:
    return FakeSource([diff_snapshots(BEFORE, AFTER, "/", same={"data.bin": False})],
                      {"work/notes.txt": UNIFIED, "data.bin": None})


class DiffApp(App[None]):
    BINDINGS = [Binding("escape", "escaped")]

    def __init__(self) -> None:
        super().__init__()
        self.escapes = 0

    def compose(self) -> ComposeResult:
        yield DiffView()

    def action_escaped(self) -> None:
        self.escapes += 1


def screen_rows(view: DiffTreeView | UnifiedDiffView) -> list[str]:
    return [view.render_line(y).text.rstrip()
            for y in range(view.scrollable_content_region.height)]


def all_rows(tree: DiffTreeView) -> list[str]:
    return [tree.row_text(i) for i in range(tree.row_count)]


def seg_style(strip: Strip, text: str) -> Style:
    for seg in strip:
        if text in seg.text:
            assert seg.style is not None
            return seg.style
    raise AssertionError(f"{text!r} not in {strip.text!r}")


async def loaded(pilot: Pilot[None], source: FakeSource) -> DiffView:
    dv = pilot.app.query_one(DiffView)
    dv.show(source)
    dv.focus()
    await wait_for(pilot, lambda: dv.tree_view.row_count > 0)
    await pilot.pause()
    return dv


def go_to(dv: DiffView, text: str) -> int:
    rows = all_rows(dv.tree_view)
    row = next(i for i, r in enumerate(rows) if text in r)
    dv.tree_view.move_to(row)
    return row


# ---------------------------------------------------------------------- model
def test_build_tree_derives_directories_and_counts() -> None:
    diff = diff_snapshots(BEFORE, AFTER, "/", same={"data.bin": False})
    assert diff.counts() == {"added": 3, "removed": 1, "changed": 5}
    nodes = build_tree([diff])
    by_path = {n.path: n for n in nodes}
    assert by_path["usr"].change is None and by_path["usr/bin"].change is None  # derived
    assert (by_path["work"].added, by_path["work"].removed, by_path["work"].changed) == (3, 1, 2)
    assert by_path["work"].end == by_path["work/old.txt"].index + 1
    assert by_path[""].end == len(nodes)
    assert by_path["data.bin"].is_text_candidate and not by_path["work/link"].is_text_candidate


# ---------------------------------------------------------------------- pilot
async def test_loading_then_header_and_tree_rows() -> None:
    gate = asyncio.Event()
    source = sample_source()
    source.gate = gate
    async with DiffApp().run_test(size=(80, 24)) as pilot:
        dv = pilot.app.query_one(DiffView)
        dv.show(source)
        await pilot.pause()
        assert dv.header_text == LOADING == "comparing the initial and final state…"
        assert dv.tree_view.row_count == 0
        gate.set()
        await wait_for(pilot, lambda: dv.tree_view.row_count > 0)
        await pilot.pause()
        assert dv.header_text == "/ : 3 added, 1 removed, 5 changed"
        assert all_rows(dv.tree_view) == TREE_ROWS
        assert screen_rows(dv.tree_view)[: len(TREE_ROWS)] == TREE_ROWS


async def test_marks_and_counts_are_coloured() -> None:
    async with DiffApp().run_test(size=(80, 24)) as pilot:
        dv = await loaded(pilot, sample_source())
        tree = dv.tree_view
        green = tree.get_component_rich_style("diff-tree--added").color
        red = tree.get_component_rich_style("diff-tree--removed").color
        yellow = tree.get_component_rich_style("diff-tree--changed").color
        assert len({green, red, yellow}) == 3
        rows = all_rows(tree)
        assert seg_style(tree.render_line(rows.index(TREE_ROWS[10])), "A").color == green
        assert seg_style(tree.render_line(rows.index(TREE_ROWS[12])), "D").color == red
        assert seg_style(tree.render_line(rows.index(TREE_ROWS[11])), "M").color == yellow
        work = tree.render_line(rows.index(TREE_ROWS[6]))
        assert seg_style(work, "+3").color == green and seg_style(work, "-1").color == red


async def test_collapse_and_expand_with_keys() -> None:
    async with DiffApp().run_test(size=(80, 24)) as pilot:
        dv = await loaded(pilot, sample_source())
        tree = dv.tree_view
        row = go_to(dv, "work/")
        await pilot.press("enter")
        rows = all_rows(tree)
        assert rows[row] == "    ▸ work/  +3 -1 ~2"
        assert not any("new.sh" in r or "deep.txt" in r for r in rows)
        assert rows[row + 1] == TREE_ROWS[-1] and tree.cursor_row == row
        await pilot.press("space")
        assert all_rows(tree) == TREE_ROWS
        await pilot.press("down", "down")  # onto deep.txt
        assert tree.cursor_node is not None and tree.cursor_node.path == "work/sub/deep.txt"
        await pilot.press("left")  # a file: to its parent
        assert tree.cursor_row == row + 1
        await pilot.press("left")  # an expanded dir: collapses it
        assert "deep.txt" not in "".join(all_rows(tree)) and tree.cursor_row == row + 1
        await pilot.press("right")
        assert all_rows(tree) == TREE_ROWS
        await pilot.press("right")  # expanded: steps into it
        assert tree.cursor_row == row + 2
        await pilot.press("up", "up", "left")  # collapse work/
        assert tree.row_text(tree.cursor_row) == "    ▸ work/  +3 -1 ~2"
        await pilot.press("home", "left")  # then the mount
        assert all_rows(tree) == ["  ▸ /  +3 -1 ~5"] and tree.cursor_row == 0
        await pilot.press("enter")  # the mount opens; work/ keeps its own state
        assert all_rows(tree) == [*TREE_ROWS[:6], "    ▸ work/  +3 -1 ~2", TREE_ROWS[-1]]
        tree.move_to(row)
        await pilot.press("right")
        assert all_rows(tree) == TREE_ROWS
        # the cursor inside a directory that collapses moves up to it
        go_to(dv, "new.sh")
        tree.set_collapsed(tree.row_node(row), True)
        assert tree.cursor_row == row


async def test_enter_on_text_file_shows_coloured_unified_diff_and_escape_returns() -> None:
    source = sample_source()
    app = DiffApp()
    async with app.run_test(size=(80, 24)) as pilot:
        dv = await loaded(pilot, source)
        row = go_to(dv, "notes.txt")
        await pilot.press("enter")
        view = dv.file_view
        await wait_for(pilot, lambda: view.lines == UNIFIED)
        await pilot.pause()
        assert dv.mode == "file" and view.display and not dv.tree_view.display
        assert source.asked == [("/", "work/notes.txt")]
        assert "/work/notes.txt" in dv.header_text
        assert screen_rows(view)[: len(UNIFIED)] == UNIFIED
        added = view.get_component_rich_style("diff-file--added").color
        removed = view.get_component_rich_style("diff-file--removed").color
        hunk = view.get_component_rich_style("diff-file--hunk").color
        assert len({added, removed, hunk}) == 3
        assert seg_style(view.render_line(4), "+new").color == added
        assert seg_style(view.render_line(3), "-old").color == removed
        assert seg_style(view.render_line(2), "@@").color == hunk
        assert seg_style(view.render_line(0), "--- a/").bold
        assert seg_style(view.render_line(1), "+++ b/").bold
        assert seg_style(view.render_line(6), "context").color not in (added, removed)
        await pilot.press("escape")
        assert (dv.mode, dv.tree_view.display, view.display) == ("tree", True, False)
        assert dv.tree_view.cursor_row == row
        assert dv.header_text == "/ : 3 added, 1 removed, 5 changed"
        assert app.escapes == 0  # taken by the file view
        await pilot.press("escape")  # in the tree: left to the app
        assert (app.escapes, dv.mode) == (1, "tree")


async def test_binary_file_and_backspace() -> None:
    async with DiffApp().run_test(size=(80, 24)) as pilot:
        dv = await loaded(pilot, sample_source())
        row = go_to(dv, "data.bin")
        await pilot.press("enter")
        await wait_for(pilot, lambda: dv.file_view.lines == ["binary file: 8 -> 8 bytes"])
        await pilot.pause()
        assert screen_rows(dv.file_view)[0] == "binary file: 8 -> 8 bytes"
        await pilot.press("backspace")
        assert dv.mode == "tree" and dv.tree_view.cursor_row == row


async def test_enter_on_link_or_directory_does_not_open_a_file() -> None:
    source = sample_source()
    async with DiffApp().run_test(size=(80, 24)) as pilot:
        dv = await loaded(pilot, source)
        go_to(dv, "link -> b")
        await pilot.press("enter")
        await pilot.pause()
        assert dv.mode == "tree" and source.asked == []


async def test_click_moves_the_cursor_and_a_second_click_activates() -> None:
    async with DiffApp().run_test(size=(80, 24)) as pilot:
        dv = await loaded(pilot, sample_source())
        tree = dv.tree_view
        row = TREE_ROWS.index("    ▾ work/  +3 -1 ~2")
        assert await pilot.click(DiffTreeView, offset=(6, row))
        assert tree.cursor_row == row and dv.has_focus
        assert await pilot.click(DiffTreeView, offset=(6, row))
        await pilot.pause()
        assert tree.row_text(row) == "    ▸ work/  +3 -1 ~2"


async def test_unified_error_is_one_line() -> None:
    source = sample_source()

    async def broken(label: str, path: str) -> list[str] | None:
        raise OSError("cannot read\nthe file")

    source.unified = broken  # type: ignore[method-assign]
    async with DiffApp().run_test(size=(80, 24)) as pilot:
        dv = await loaded(pilot, source)
        go_to(dv, "notes.txt")
        await pilot.press("enter")
        await wait_for(pilot, lambda: dv.file_view.lines == ["cannot read the file"])


async def test_empty_diff_says_so() -> None:
    source = FakeSource([diff_snapshots(BEFORE, BEFORE, "/"), FsDiff("/cache")])
    async with DiffApp().run_test(size=(80, 24)) as pilot:
        dv = await loaded(pilot, source)
        assert dv.header_text == ("the step changed no files in /\n"
                                  "the step changed no files in /cache")
        assert all_rows(dv.tree_view) == ["    /  no changes", "    /cache  no changes"]
        await pilot.press("enter", "left", "right", "escape")
        assert dv.mode == "tree"


async def test_second_mount_gets_its_own_header_line_and_root() -> None:
    cache = diff_snapshots(Snapshot([d("")]), Snapshot([d(""), f("pkg.tar", 3)]), "/cache")
    source = sample_source()
    source._diffs.append(cache)
    async with DiffApp().run_test(size=(80, 24)) as pilot:
        dv = await loaded(pilot, source)
        assert dv.header_text.splitlines() == ["/ : 3 added, 1 removed, 5 changed",
                                               "/cache : 1 added, 0 removed, 0 changed"]
        assert all_rows(dv.tree_view)[-2:] == ["  ▾ /cache  +1", "A     pkg.tar  3 bytes"]


async def test_failing_diffs_shows_the_error_on_one_line() -> None:
    source = FakeSource([], error=RuntimeError("container exited\n  with status 125"))
    async with DiffApp().run_test(size=(80, 24)) as pilot:
        dv = pilot.app.query_one(DiffView)
        dv.show(source)
        await wait_for(pilot, lambda: dv.header_text != LOADING)
        assert dv.header_text == "container exited with status 125"
        assert dv.tree_view.row_count == 0


async def test_a_newer_show_wins_over_a_slow_one() -> None:
    slow = sample_source()
    slow.gate = asyncio.Event()
    fast = FakeSource([diff_snapshots(BEFORE, BEFORE, "/")])
    async with DiffApp().run_test(size=(80, 24)) as pilot:
        dv = pilot.app.query_one(DiffView)
        dv.show(slow)
        await pilot.pause()
        dv.show(fast)
        await wait_for(pilot, lambda: dv.header_text != LOADING)
        slow.gate.set()
        await pilot.pause()
        assert dv.header_text == "the step changed no files in /"


async def test_show_before_mount_loads_on_mount() -> None:
    class Early(App[None]):
        def compose(self) -> ComposeResult:
            dv = DiffView()
            dv.show(sample_source())
            yield dv

    async with Early().run_test(size=(80, 24)) as pilot:
        dv = pilot.app.query_one(DiffView)
        await wait_for(pilot, lambda: dv.tree_view.row_count == len(TREE_ROWS))


async def test_twenty_thousand_changes_scroll_to_the_end() -> None:
    entries = [d(""), d("big")] + [d(f"big/d{k:03d}") for k in range(200)]
    before = Snapshot(entries)
    after = Snapshot(entries + [f(f"big/d{k // 100:03d}/f{k:05d}", k) for k in range(20_000)])
    diff = diff_snapshots(before, after, "/")
    assert len(diff.changes) == 20_000
    source = FakeSource([diff], {"big/d199/f19999": ["--- /dev/null", "+++ b/x", "@@ -0,0 +1 @@",
                                                     "+x"] + [f"+{k}" for k in range(500)]})
    async with DiffApp().run_test(size=(80, 24)) as pilot:
        dv = await loaded(pilot, source)
        tree = dv.tree_view
        assert dv.header_text == "/ : 20000 added, 0 removed, 0 changed"
        assert tree.row_count == 20_000 + 2 + 200
        assert tree.row_text(1) == "    ▾ big/  +20000"
        await pilot.press("end")
        await pilot.pause()
        assert tree.cursor_row == tree.row_count - 1
        rows = screen_rows(tree)
        assert any("f19999  19999 bytes" in r for r in rows)
        assert tree.scroll_offset.y == tree.max_scroll_y > 0
        await pilot.press("pageup", "home")
        assert tree.cursor_row == 0 and tree.scroll_offset.y == 0
        await pilot.press("end", "enter")
        view = dv.file_view
        await wait_for(pilot, lambda: len(view.lines) == 504)
        await pilot.press("end")
        assert screen_rows(view)[-1] == "+499"
        await pilot.press("home")
        assert screen_rows(view)[0] == "--- /dev/null"
        await pilot.press("pagedown", "down")
        assert view.scroll_offset.y == view.scrollable_content_region.height
        await pilot.press("escape")
        assert tree.cursor_row == tree.row_count - 1
        assert any("f19999" in r for r in screen_rows(tree))
