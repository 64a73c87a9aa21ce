"""The file browser pane (FileBrowser): listing, navigation, excluded paths, preview, paging."""

from __future__ import annotations

import asyncio
import stat
from collections.abc import Sequence
from typing import Any

from pilotwait import wait_for
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.widgets import Static

from tui.debug.model.copyspec import CopyReport
from tui.debug.model.fsmodel import Entry, Snapshot
from tui.debug.model.textfmt import format_bytes
from tui.ui.widgets.files import preview as files_preview
from tui.ui.widgets.files.pane import (
    HEX_BYTES,
    NOT_SENT,
    PAGE,
    FileBrowser,
    FileListing,
    FilePreview,
)

WIDE_SIZE = (160, 30)
NARROW_SIZE = (80, 24)


# ---------------------------------------------------------------------- a fake state
class FakeState:
    """An in-memory StateFiles: entries and file contents; every read is recorded."""

    def __init__(self, label: str, entries: Sequence[Entry], data: dict[str, bytes] | None = None,
                 *, excluded: Sequence[str] = (), note: str = "",
                 fail: Exception | None = None, gate: asyncio.Event | None = None) -> None:
        self.label = label
        self.snap = Snapshot([Entry("", "dir", 0o755, 0, 0, 4096, 0), *entries])
        self.data = data or {}
        self.excluded = list(excluded)
        self.note = note
        self.fail = fail
        self.gate = gate
        self.reads: list[tuple[str, int, int]] = []
        self.snapshots = 0

    async def snapshot(self) -> Snapshot:
        self.snapshots += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail is not None:
            raise self.fail
        return self.snap

    async def read(self, path: str, offset: int = 0, length: int = 65536) -> bytes:
        self.reads.append((path, offset, length))
        return self.data[path][offset : offset + length]

    async def copy_out(self, path: str, dest: str, overwrite: bool = False) -> CopyReport:
        raise NotImplementedError  # the real copy is tested on the daemon


def d(path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> Entry:
    return Entry(path, "dir", mode, uid, gid, 4096, 0)


def f(path: str, size: int = 0, mode: int = 0o644, uid: int = 0, gid: int = 0) -> Entry:
    return Entry(path, "file", mode, uid, gid, size, 0)


def ln(path: str, target: str) -> Entry:
    return Entry(path, "link", 0o777, 0, 0, len(target), 0, target)


def files(spec: dict[str, bytes]) -> tuple[list[Entry], dict[str, bytes]]:
    return [f(p, len(b)) for p in spec for b in (spec[p],)], spec


# ---------------------------------------------------------------------- host app and helpers
class FilesApp(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.opened: list[tuple[str, str]] = []

    def compose(self) -> ComposeResult:
        yield FileBrowser(id="files")

    def on_file_browser_opened(self, message: FileBrowser.Opened) -> None:
        self.opened.append((message.state_label, message.path))


def browser(pilot: Pilot[None]) -> FileBrowser:
    return pilot.app.query_one(FileBrowser)


def listing(pilot: Pilot[None]) -> FileListing:
    return pilot.app.query_one(FileListing)


def preview(pilot: Pilot[None]) -> FilePreview:
    return pilot.app.query_one(FilePreview)


def rows(view: FileListing | FilePreview) -> list[str]:
    return [view.render_line(y).text.rstrip() for y in range(view.scrollable_content_region.height)]


def static_text(pilot: Pilot[None], selector: str) -> str:
    return str(pilot.app.query_one(selector, Static).render())


def header(pilot: Pilot[None]) -> str:
    return static_text(pilot, "#fb-header")


async def start(pilot: Pilot[None], *states: FakeState, index: int = 0) -> FileBrowser:
    fb = browser(pilot)
    fb.focus()
    fb.show(list(states), index)
    await wait_for(pilot, lambda: fb.state is not None and "entries" in header(pilot))
    await pilot.pause()
    return fb


async def select(pilot: Pilot[None], name: str) -> None:
    """Move the cursor (with up/down keys) to the row whose name is ``name``."""
    lst = listing(pilot)
    await pilot.press("home")
    for _ in range(lst.row_count):
        row = lst.row(lst.cursor)
        label = row.name if isinstance(row, Entry) else row
        if label == name:
            return
        await pilot.press("down")
    raise AssertionError(f"{name} not in the listing")


ROOT = [
    d("usr"), d("etc"), d("usr/lib"), d("usr/bin"),
    f("b.txt", 1234), f("a.sh", 42, mode=0o755, uid=1000, gid=1000),
    ln("lib", "usr/lib"), f("usr/bin/tool", 5_600_000, mode=0o755),
    f("usr/lib/libc.so", 10),
]


# ---------------------------------------------------------------------- listing
async def test_listing_order_columns_and_header() -> None:
    async with FilesApp().run_test(size=WIDE_SIZE) as pilot:
        await start(pilot, FakeState("final state", ROOT))
        lines = [r for r in rows(listing(pilot)) if r]
        assert len(lines) == 5
        # directories first, then by name
        assert [r.split()[-1] if "->" not in r else r.split()[-3] for r in lines] == [
            "etc/", "usr/", "a.sh", "b.txt", "lib"]
        etc, _usr, a_sh, b_txt, lib = lines
        assert etc.startswith("drwxr-xr-x")
        assert a_sh.split()[:3] == ["-rwxr-xr-x", "1000:1000", format_bytes(42)]
        assert b_txt.split()[:3] == ["-rw-r--r--", "0:0", "1.23kB"]
        assert lib.startswith("lrwxrwxrwx") and lib.endswith("lib -> usr/lib")
        # the columns line up: names start at the same cell
        names = ["etc/", "usr/", "a.sh", "b.txt", "lib"]
        assert len({r.index(n) for r, n in zip(lines, names, strict=True)}) == 1
        head = header(pilot)
        assert "1/1 final state" in head and "5 entries" in head
        assert format_bytes(1234 + 42) in head  # the directory's files only
        # the cursor starts on the first row
        assert browser(pilot).selected == d("etc")


async def test_enter_a_directory_and_back_reselects_it() -> None:
    async with FilesApp().run_test(size=WIDE_SIZE) as pilot:
        fb = await start(pilot, FakeState("s", ROOT))
        await select(pilot, "usr")
        await pilot.press("enter")
        assert fb.cwd == "usr"
        shown = rows(listing(pilot))
        assert shown[0].strip() == "../"
        assert shown[1].endswith("bin/") and shown[2].endswith("lib/")
        assert "usr" in header(pilot) and "2 entries" in header(pilot)
        await pilot.press("down", "right")  # lib/
        assert fb.cwd == "usr/lib"
        assert rows(listing(pilot))[1].endswith("libc.so")
        await pilot.press("left")
        assert fb.cwd == "usr" and fb.selected is not None and fb.selected.path == "usr/lib"
        await pilot.press("backspace")
        assert fb.cwd == "" and fb.selected is not None and fb.selected.path == "usr"
        # ".." (the first row) goes up as well
        await pilot.press("enter", "home")
        assert fb.cwd == "usr" and listing(pilot).cursor == 0 and fb.selected is None
        await pilot.press("enter")
        assert fb.cwd == "" and fb.selected is not None and fb.selected.path == "usr"
        # at the root, left does nothing
        await pilot.press("left")
        assert fb.cwd == ""


async def test_double_click_enters_a_directory() -> None:
    async with FilesApp().run_test(size=WIDE_SIZE) as pilot:
        fb = await start(pilot, FakeState("s", ROOT))
        await pilot.click(FileListing, offset=(20, 1))
        assert fb.selected == d("usr") and fb.cwd == ""
        await pilot.click(FileListing, offset=(20, 1), times=2)
        await pilot.pause()
        assert fb.cwd == "usr"


async def test_excluded_paths_are_dimmed_rows_with_the_marker() -> None:
    state = FakeState("context", ROOT, excluded=["node_modules/", "./.env", "usr/cache", "b.txt"],
                      note="local context: 3 paths excluded by .dockerignore")
    async with FilesApp().run_test(size=WIDE_SIZE) as pilot:
        fb = await start(pilot, state)
        lst = listing(pilot)
        lines = [r for r in rows(lst) if r]
        assert len(lines) == 7  # b.txt is in the snapshot: not listed twice
        assert lines[5].split() == [".env", *NOT_SENT.split()]
        assert lines[6].split() == ["node_modules/", *NOT_SENT.split()]
        assert sum(NOT_SENT in r for r in lines) == 2
        strip = lst.render_line(6)
        name = [s for s in strip if "node_modules" in s.text]
        assert name and all(s.style is not None and s.style.dim for s in name)
        real = [s for s in lst.render_line(3) if "b.txt" in s.text]  # not the cursor row
        assert real and not any(s.style is not None and s.style.dim for s in real)
        assert "2 not sent" in header(pilot)
        assert static_text(pilot, "#fb-note") == "local context: 3 paths excluded by .dockerignore"
        # an excluded row cannot be entered
        await pilot.press("end", "enter")
        assert fb.cwd == "" and fb.preview_path is None
        await select(pilot, "usr")
        await pilot.press("enter")
        assert rows(lst)[3].split() == ["cache", *NOT_SENT.split()]


# ---------------------------------------------------------------------- preview
PY = b'''import os


def greet(name: str) -> str:
    """Say hello."""
    return f"hello {name}"  # a comment
'''


async def test_python_preview_is_highlighted_with_line_numbers() -> None:
    entries, data = files({"app.py": PY, "notes": b"plain text\n"})
    state = FakeState("s", entries, data)
    async with FilesApp().run_test(size=WIDE_SIZE) as pilot:
        app = pilot.app
        fb = await start(pilot, state)
        await select(pilot, "app.py")
        await pilot.press("enter")
        pv = preview(pilot)
        await wait_for(pilot, lambda: "def greet" in "\n".join(rows(pv)))

        def keyword_coloured() -> bool:  # shown plain at once, highlighted in a thread
            return any(s.text == "def" and s.style is not None and s.style.color is not None
                       for s in pv.render_line(3))

        await wait_for(pilot, keyword_coloured)
        assert app.opened == [("s", "app.py")]
        assert fb.preview_path == "app.py"
        lines = rows(pv)
        assert lines[0].split() == ["1", "import", "os"]
        assert lines[3].lstrip().startswith("4 def greet(name: str) -> str:")
        assert lines[5].lstrip().startswith('6     return f"hello {name}"')
        colours = {s.style.color for s in pv.render_line(3) if s.style and s.style.color}
        assert len(colours) >= 3  # gutter, keyword, name, ...
        assert not [s for s in pv.render_line(3) if s.text == "(name"]  # split into tokens
        assert "python" in static_text(pilot, "#fb-preview-title")
        assert state.reads == [("app.py", 0, PAGE)]
        # the listing stays visible beside the preview (wide)
        assert listing(pilot).display and pilot.app.query_one("#fb-preview-box").display
        await pilot.press("escape")
        assert listing(pilot).active
        await select(pilot, "notes")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "plain text" in rows(pv)[0])
        assert app.opened[-1] == ("s", "notes")


def numbered(n: int) -> bytes:
    return b"".join(b"line %06d %s\n" % (k, b"x" * (k % 40)) for k in range(1, n + 1))


async def test_large_text_file_is_read_a_page_at_a_time() -> None:
    data = numbered(10_000)
    assert len(data) > 300 * 1024
    state = FakeState("s", *files({"big.log": data}))
    cut = data[:PAGE].rfind(b"\n") + 1
    last_line_1 = data[:cut].count(b"\n")
    async with FilesApp().run_test(size=NARROW_SIZE) as pilot:
        fb = await start(pilot, state)
        await pilot.press("enter")
        pv = preview(pilot)
        await wait_for(pilot, lambda: pv.loaded is not None)
        await pilot.pause()
        assert state.reads == [("big.log", 0, PAGE)]
        title = static_text(pilot, "#fb-preview-title")
        assert f"bytes 0\u2013{cut:,} of {len(data):,}" in title
        # narrow: the preview replaced the listing
        box = pilot.app.query_one("#fb-preview-box")
        assert not listing(pilot).display and box.display
        assert rows(pv)[0].split()[:3] == ["1", "line", "000001"]
        await pilot.press("end")  # end of the loaded text: nothing read
        await pilot.pause()
        assert len(state.reads) == 1
        assert rows(pv)[-1].split()[:3] == [str(last_line_1), "line", f"{last_line_1:06d}"]
        await pilot.press("pagedown")  # past the end: the next page, from the cut
        cut2 = cut + data[cut : cut + PAGE].rfind(b"\n") + 1
        await wait_for(pilot, lambda: pv.loaded == (0, cut2))
        await pilot.pause()
        assert state.reads == [("big.log", 0, PAGE), ("big.log", cut, PAGE)]
        shown = [r.split() for r in rows(pv)]
        numbers = [int(r[0]) for r in shown if r]
        assert min(numbers) > last_line_1
        assert all(r[1:3] == ["line", f"{int(r[0]):06d}"] for r in shown if r)
        # pages at a time down to the end of the file, never more than a page per read
        for _ in range(20):
            if rows(pv)[-1].split()[:1] == ["10000"]:
                break
            await pilot.press("end")
            await wait_for(pilot, lambda: "reading" not in static_text(pilot, "#fb-preview-title"))
            await pilot.pause()
        assert rows(pv)[-1].split()[:3] == ["10000", "line", "010000"]
        assert all(length == PAGE for _, _, length in state.reads)
        offsets = [o for _, o, _ in state.reads]
        assert offsets == sorted(set(offsets)) and len(offsets) <= len(data) // (PAGE // 2)
        assert pv.loaded is not None and pv.loaded[1] == len(data)
        # home goes back to the first line
        await pilot.press("home")
        await wait_for(pilot, lambda: rows(pv)[0].split()[:1] == ["1"])
        # escape goes back to the listing (narrow: the preview closes)
        await pilot.press("escape")
        assert listing(pilot).display and not box.display and fb.preview_path is None


async def test_paging_keeps_a_window_and_reads_dropped_pages_again(monkeypatch: Any) -> None:
    monkeypatch.setattr(files_preview, "MAX_PAGES", 2)
    data = numbered(10_000)
    state = FakeState("s", *files({"big.log": data}))
    async with FilesApp().run_test(size=NARROW_SIZE) as pilot:
        await start(pilot, state)
        await pilot.press("enter")
        pv = preview(pilot)
        await wait_for(pilot, lambda: pv.loaded is not None)
        for _ in range(20):
            if pv.loaded is not None and pv.loaded[1] == len(data):
                break
            await pilot.press("end")
            await wait_for(pilot, lambda: "reading" not in static_text(pilot, "#fb-preview-title"))
            await pilot.pause()
        offsets = [o for _, o, _ in state.reads]
        assert len(offsets) >= 5 and pv.loaded == (offsets[-2], len(data))  # two pages kept
        # scrolling up past the window's top reads the page before it, once
        pv.scroll_to(y=0, animate=False, force=True)
        await pilot.pause()
        top = int(rows(pv)[0].split()[0])
        await pilot.press("up")
        await wait_for(pilot, lambda: rows(pv)[0].split()[:1] == [str(top - 1)])
        assert [o for _, o, _ in state.reads] == [*offsets, offsets[-3]]
        assert pv.loaded == (offsets[-3], offsets[-1])
        # home reads page 0 again
        await pilot.press("home")
        await wait_for(pilot, lambda: rows(pv)[0].split()[:3] == ["1", "line", "000001"])
        assert state.reads[-1] == ("big.log", 0, PAGE)
        assert all(length == PAGE for _, _, length in state.reads)


async def test_binary_file_shows_a_hex_dump() -> None:
    blob = bytes(range(256)) * 8 + b"\0tail"
    state = FakeState("s", *files({"app.bin": blob}))
    async with FilesApp().run_test(size=WIDE_SIZE) as pilot:
        await start(pilot, state)
        await pilot.press("enter")
        pv = preview(pilot)
        await wait_for(pilot, lambda: "binary" in rows(pv)[0])
        lines = rows(pv)
        assert lines[0] == f"binary, {len(blob):,} bytes"
        assert lines[2] == ("0000  00 01 02 03 04 05 06 07  08 09 0a 0b 0c 0d 0e 0f  "
                            "|................|")
        assert lines[2 + 4].startswith("0040  40 41 42 43") and lines[6].endswith(
            "|@ABCDEFGHIJKLMNO|")
        assert pv.virtual_size.height == 2 + HEX_BYTES // 16


async def test_symlink_preview_shows_the_target() -> None:
    async with FilesApp().run_test(size=WIDE_SIZE) as pilot:
        await start(pilot, FakeState("s", ROOT))
        await select(pilot, "lib")
        await pilot.press("enter")
        lines = rows(preview(pilot))
        assert lines[:3] == ["symbolic link", "-> usr/lib", "/usr/lib: dir"]


async def test_snapshot_error_is_one_line_and_loading_is_shown() -> None:
    gate = asyncio.Event()
    state = FakeState("final state", ROOT, fail=RuntimeError("docker exec failed:\n  no such "
                                                             "container"), gate=gate)
    async with FilesApp().run_test(size=WIDE_SIZE) as pilot:
        fb = browser(pilot)
        fb.show([state])
        await pilot.pause()
        assert rows(listing(pilot))[0] == "reading final state\u2026"
        gate.set()
        await wait_for(pilot, lambda: rows(listing(pilot))[0].startswith("error"))
        lines = rows(listing(pilot))
        assert lines[0] == "error: docker exec failed: no such container"
        assert not any(lines[1:])
        assert "Traceback" not in "".join(lines)


async def test_brackets_switch_states_and_snapshots_are_cached() -> None:
    before = FakeState("initial", [d("src"), f("src/main.c", 10)])
    after = FakeState("final", [d("src"), f("src/main.c", 10), f("src/main.o", 900)])
    async with FilesApp().run_test(size=WIDE_SIZE) as pilot:
        fb = await start(pilot, before, after)
        assert "1/2 initial" in header(pilot)
        await pilot.press("enter")  # src/
        assert fb.cwd == "src" and "1 entries" in header(pilot)
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: "2/2 final" in header(pilot) and "entries" in header(pilot))
        assert fb.state is after and fb.cwd == ""
        await pilot.press("enter")
        assert [r.split()[-1] for r in rows(listing(pilot)) if r] == ["../", "main.c", "main.o"]
        await pilot.press("left_square_bracket")
        await pilot.pause()
        assert fb.state is before and fb.cwd == "src"  # where it was
        assert [r.split()[-1] for r in rows(listing(pilot)) if r] == ["../", "main.c"]
        await pilot.press("left_square_bracket")  # wraps around
        await pilot.pause()
        assert fb.state is after and fb.cwd == "src"
        assert before.snapshots == 1 and after.snapshots == 1


async def test_ten_thousand_entries_end_shows_the_last() -> None:
    entries = [d("big")] + [f(f"big/file-{k:05d}", k) for k in range(10_000)]
    async with FilesApp().run_test(size=WIDE_SIZE) as pilot:
        fb = await start(pilot, FakeState("s", entries))
        await pilot.press("enter")
        assert "10,000 entries" in header(pilot)
        await pilot.press("end")
        await pilot.pause()
        lines = [r for r in rows(listing(pilot)) if r]
        assert lines[-1].endswith("file-09999")
        assert fb.selected is not None and fb.selected.path == "big/file-09999"
        await pilot.press("pageup", "up")
        height = listing(pilot).scrollable_content_region.height
        assert fb.selected is not None
        assert fb.selected.path == f"big/file-{9999 - height - 1:05d}"
        assert any(r.endswith(fb.selected.name) for r in rows(listing(pilot)))
        await pilot.press("home")
        assert rows(listing(pilot))[0].strip() == "../"


async def test_mode_strings_of_special_files() -> None:
    special = [Entry("dev/null", "char", 0o666, 0, 0, 0, 0), d("dev"),
               Entry("dev/fifo", "fifo", 0o600, 0, 0, 0, 0),
               Entry("dev/sticky", "dir", 0o1777, 0, 0, 0, 0)]
    async with FilesApp().run_test(size=WIDE_SIZE) as pilot:
        await start(pilot, FakeState("s", special))
        await pilot.press("enter")
        lines = [r.split() for r in rows(listing(pilot)) if r]
        assert [(r[0], r[-1]) for r in lines[1:]] == [
            ("drwxrwxrwt", "sticky/"), ("prw-------", "fifo"), ("crw-rw-rw-", "null")]
        assert stat.filemode(0o20666) == "crw-rw-rw-"
