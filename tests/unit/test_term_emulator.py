"""The libghostty-vt emulator adapter: text, styles, widths, replies, modes, scrollback."""

from __future__ import annotations

import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.color import Color

from tui.ui.term import Feeder, create_emulator
from tui.ui.term.base import Emulator
from tui.ui.term.keys import encode_key, encode_paste


def snap(emu: Emulator) -> Emulator:
    assert emu.capture(), "the terminal is idle: a capture must succeed"
    return emu


def text(emu: Emulator, y: int) -> str:
    return emu.row(y).text.rstrip()


def screen(emu: Emulator) -> list[str]:
    return [text(emu, y) for y in range(emu.size[1])]


def styled(emu: Emulator, y: int, word: str):
    """The style of the segment holding ``word`` in row ``y``."""
    for seg in emu.row(y):
        if word in seg.text:
            return seg.style
    raise AssertionError(f"{word!r} not in row {y}: {text(emu, y)!r}")


@pytest.fixture
def emu():
    e = create_emulator(40, 8)
    yield e
    e.close()


def test_plain_text_and_cursor(emu):
    emu.feed(b"hello\r\nworld")
    snap(emu)
    assert screen(emu)[:3] == ["hello", "world", ""]
    assert emu.cursor == (5, 1, True)
    assert all(emu.row(y).cell_length == 40 for y in range(8))


def test_sgr_16_256_truecolor(emu):
    emu.feed(b"\x1b[31mred\x1b[0m \x1b[38;5;200mpink\x1b[0m \x1b[38;2;10;20;30mrgb\x1b[0m "
             b"\x1b[44mbgblue\x1b[0m \x1b[48;2;1;2;3mbgrgb\x1b[0m plain")
    snap(emu)
    assert styled(emu, 0, "red").color == Color.from_ansi(1)
    assert styled(emu, 0, "pink").color == Color.from_ansi(200)
    assert styled(emu, 0, "rgb").color == Color.from_rgb(10, 20, 30)
    assert styled(emu, 0, "bgblue").bgcolor == Color.from_ansi(4)
    assert styled(emu, 0, "bgrgb").bgcolor == Color.from_rgb(1, 2, 3)
    plain = styled(emu, 0, "plain")
    assert plain.color is None and plain.bgcolor is None and not plain.bold


def test_attributes(emu):
    emu.feed(b"\x1b[1mB\x1b[0m \x1b[4mU\x1b[0m \x1b[7mR\x1b[0m \x1b[3mI\x1b[0m \x1b[9mS\x1b[0m "
             b"\x1b[2mD\x1b[0m \x1b[4:2mW\x1b[0m")
    snap(emu)
    assert styled(emu, 0, "B").bold
    assert styled(emu, 0, "U").underline
    assert styled(emu, 0, "R").reverse
    assert styled(emu, 0, "I").italic
    assert styled(emu, 0, "S").strike
    assert styled(emu, 0, "D").dim
    assert styled(emu, 0, "W").underline2
    assert not styled(emu, 0, "B").underline


def test_alternate_screen_restores_main(emu):
    emu.feed(b"main line\r\n")
    emu.feed(b"\x1b[?1049h\x1b[H\x1b[2Jfull screen app")
    snap(emu)
    assert emu.modes.alt_screen
    assert text(emu, 0) == "full screen app"
    assert "main line" not in screen(emu)
    emu.feed(b"\x1b[?1049l")
    snap(emu)
    assert not emu.modes.alt_screen
    assert text(emu, 0) == "main line"


def test_wide_characters_and_emoji_keep_the_grid(emu):
    emu.feed("中文x\r\n😀y\r\n👨‍👩‍👧z\r\ne\u0301w\r\n🇫🇷v".encode())
    snap(emu)
    assert text(emu, 0) == "中文x"
    assert text(emu, 1) == "😀y"
    assert text(emu, 2) == "👨‍👩‍👧z"
    assert text(emu, 3) == "e\u0301w"
    assert text(emu, 4) == "🇫🇷v"
    for y in range(5):
        assert emu.row(y).cell_length == 40
    assert emu.cursor.x == 3  # flag (2 cells) + "v"


def test_utf8_split_across_feeds(emu):
    data = "é中😀".encode()
    for i in range(len(data)):
        emu.feed(data[i:i + 1])
    snap(emu)
    assert text(emu, 0) == "é中😀"


def test_carriage_return_progress_lines(emu):
    for pct in range(0, 101, 10):
        emu.feed(f"\rprogress {pct:3d}%".encode())
    emu.feed(b"\r\ndone")
    snap(emu)
    assert screen(emu)[:2] == ["progress 100%", "done"]


def test_replies_cursor_position_and_device_attributes(emu):
    emu.feed(b"ab\r\ncd\x1b[6n")
    assert emu.take_replies() == b"\x1b[2;3R"
    emu.feed(b"\x1b[c")
    assert emu.take_replies().startswith(b"\x1b[?62")
    emu.feed(b"\x1b[?2004$p")
    assert emu.take_replies() == b"\x1b[?2004;2$y"  # DECRQM: reset
    emu.feed(b"\x1b[>q")
    assert b"bxtui" in emu.take_replies()
    assert emu.take_replies() == b""


def test_colour_queries_and_grapheme_mode_survive_reset():
    emu = create_emulator(20, 4, fg=(0x11, 0x22, 0x33), bg=(0xAA, 0xBB, 0xCC))
    try:
        emu.feed(b"\x1b]10;?\x07\x1b]11;?\x1b\\")
        assert emu.take_replies() == (b"\x1b]10;rgb:1111/2222/3333\x07"
                                      b"\x1b]11;rgb:aaaa/bbbb/cccc\x1b\\")
        emu.feed(b"\x1bc\x1b[?2027$p")  # full reset (RIS), then DECRQM grapheme clustering
        assert emu.take_replies() == b"\x1b[?2027;1$y"
    finally:
        emu.close()


def test_resize_reflows_and_reports(emu):
    emu.feed(b"0123456789" * 3)
    emu.resize(12, 5)
    snap(emu)
    assert emu.size == (12, 5)
    assert all(emu.row(y).cell_length == 12 for y in range(5))
    assert "".join(screen(emu)).startswith("0123456789" * 3)
    emu.feed(b"\x1b[18t")
    assert emu.take_replies() == b"\x1b[8;5;12t"


def test_scrollback_after_2000_lines(emu):
    emu.feed(b"".join(b"line %04d\r\n" % i for i in range(2000)))
    snap(emu)
    assert emu.scrolled_back == 0
    assert text(emu, 6) == "line 1999"
    emu.scroll_by(-1993)
    snap(emu)
    assert emu.scrolled_back == 1993
    assert text(emu, 0) == "line 0000"
    assert text(emu, 7) == "line 0007"
    emu.scroll_to_bottom()
    snap(emu)
    assert emu.scrolled_back == 0
    assert text(emu, 6) == "line 1999"


@pytest.mark.parametrize("cols", [140, 200])
def test_scrollback_keeps_10000_lines_of_a_wide_pane(cols: int) -> None:
    """The byte limit (20 MiB of pages) still keeps more than 10,000 lines up to 200 columns,
    and a flood past it drops the oldest lines, not the newest."""
    emu = create_emulator(cols, 40)
    try:
        emu.feed(b"".join(b"line %06d\r\n" % i for i in range(40_000)))
        emu.scroll_by(-1_000_000)
        snap(emu)
        assert emu.scrolled_back > 10_000
        first = int(text(emu, 0).split()[1])
        assert 0 < first < 40_000 - 10_000 - 40
        emu.scroll_to_bottom()
        snap(emu)
        assert text(emu, 38) == "line 039999"
    finally:
        emu.close()


def test_styled_rows_in_scrollback(emu):
    emu.feed(b"\x1b[32mgreen old\x1b[0m\r\n" + b"filler\r\n" * 50)
    emu.scroll_by(-100)
    snap(emu)
    assert text(emu, 0) == "green old"
    assert styled(emu, 0, "green").color == Color.from_ansi(2)


def test_dirty_rows_only_changed(emu):
    emu.feed(b"one\r\ntwo\r\n")
    snap(emu)
    emu.clear_dirty()
    emu.feed(b"\x1b[2;1Hxyz")
    snap(emu)
    assert 1 in emu.dirty_rows() <= {1, 2}  # the row written, maybe the cursor's old row
    assert text(emu, 1) == "xyz"


def test_modes_reach_the_key_encoder(emu):
    snap(emu)
    assert encode_key("up", None, emu.modes) == b"\x1b[A"
    assert encode_paste("x", emu.modes) == b"x"
    emu.feed(b"\x1b[?1h\x1b[?2004h")
    snap(emu)
    assert emu.modes.app_cursor and emu.modes.bracketed_paste
    assert encode_key("up", None, emu.modes) == b"\x1bOA"
    assert encode_paste("x", emu.modes) == b"\x1b[200~x\x1b[201~"
    emu.feed(b"\x1b[?1l\x1b[?2004l")
    snap(emu)
    assert encode_key("up", None, emu.modes) == b"\x1b[A"


def test_capture_waits_for_a_write_in_progress():
    """While a write holds the terminal, capture returns False; the write then snapshots."""
    emu = create_emulator(20, 4)
    try:
        gate, entered = threading.Event(), threading.Event()
        emu.feed(b"before")
        holder = threading.Thread(target=lambda: _hold(emu, entered, gate))
        holder.start()
        assert entered.wait(5)
        assert not emu.capture()  # the holder has the lock
        gate.set()
        holder.join(5)
        emu.feed(b" after")  # a write ends by taking the requested snapshot
        assert emu.capture()
        assert text(emu, 0) == "before after"
    finally:
        emu.close()


def _hold(emu, entered: threading.Event, gate: threading.Event) -> None:
    """Hold the backend's terminal lock, as a long write does."""
    with emu._lock:
        entered.set()
        gate.wait(5)


def test_feeder_parses_on_its_thread_and_wakes():
    emu = create_emulator(20, 4)
    woke = threading.Event()
    feeder = Feeder(emu, lambda _f: woke.set())
    feeder.put(b"from the thread")
    assert woke.wait(5)
    while feeder.parsed < feeder.received:
        woke.clear()
        feeder.woken()
        assert woke.wait(5)
    assert emu.capture()
    assert text(emu, 0) == "from the thread"
    feeder.stop()
    assert feeder.join(5)
    assert not emu.capture()  # closed
    assert feeder.error is None


def test_feeder_reports_a_failed_write():
    class Broken:
        def feed(self, data):
            raise RuntimeError("boom")

        closed = False

        def close(self):
            self.closed = True

    woke = threading.Event()
    broken = Broken()
    feeder = Feeder(broken, lambda _f: woke.set())  # type: ignore[arg-type]
    feeder.put(b"x")
    assert feeder.join(5)
    assert woke.is_set() and str(feeder.error) == "boom" and broken.closed


_ESCAPES = st.sampled_from([
    b"\x1b[", b"\x1b]", b"\x1bP", b"\x1b[?1049h", b"\x1b[?1049l", b"\x1b[2J", b"\x1b[K",
    b"\x1b[38;2;1;2;3m", b"\x1b[48;5;9m", b"\x1b[0m", b"\x1b[6n", b"\x1b[c", b"\x1b[?25l",
    b"\x1b[10;5H", b"\r", b"\n", b"\t", b"\x08", b"\x1b7", b"\x1b8", b"\x1b[3L", b"\x1b[2M",
    b"\x1b[5@", b"\x1b[4P", b"\x1b[?2004h", b"\x1b[?1h", b"\x1b[r", b"\x1b[2;5r", b"\x1bc",
    "中😀👨‍👩‍👧é".encode(), b"\x1b]0;title\x07", b"\x1b[?2027h", b"\x1b[>q",
])
_CHUNK = st.one_of(st.binary(max_size=64), _ESCAPES,
                   st.text(max_size=20).map(lambda s: s.encode("utf-8", "surrogatepass")))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(_CHUNK, st.integers(0, 5), st.integers(-3, 3)), max_size=25),
       st.integers(1, 120), st.integers(1, 40))
def test_fuzz_no_exception(ops, cols, rows):
    emu = create_emulator(cols, rows)
    try:
        for chunk, cut, scroll in ops:
            k = min(cut, len(chunk))
            emu.feed(chunk[:k])
            emu.feed(chunk[k:])
            if scroll == 3:
                emu.resize(max(cols - cut * 7, 1), max(rows - cut, 1))
            elif scroll:
                emu.scroll_by(scroll)
            assert emu.capture()
            width, height = emu.size
            for y in emu.dirty_rows():
                assert emu.row(y).cell_length == width
            emu.clear_dirty()
            cur = emu.cursor
            assert 0 <= cur.x < width and 0 <= cur.y < height
            emu.take_replies()
    finally:
        emu.close()


def test_first_emulators_in_two_threads_at_once() -> None:
    # the app warms the library up in a thread while `f` may create the pane's emulator
    import subprocess
    import sys

    code = (
        "import threading\n"
        "from tui.ui.term import create_emulator, warm_up\n"
        "errors = []\n"
        "def go():\n"
        "    try:\n"
        "        warm_up()\n"
        "    except Exception as exc:\n"
        "        errors.append(exc)\n"
        "threads = [threading.Thread(target=go) for _ in range(3)]\n"
        "for t in threads: t.start()\n"
        "create_emulator(80, 24).close()\n"
        "for t in threads: t.join()\n"
        "print('errors', errors)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "errors []"


_PROBE = (
    "import sys\n"
    "from tui.ui.term import create_emulator\n"
    "e = create_emulator(40, 5)\n"
    "e.feed(b'hi \\x1b[1mthere')\n"
    "assert e.capture()\n"
    "print(e.row(0).text.strip(), 'pyghostty._ffi' in sys.modules)\n"
)


def _probe(cache: str) -> str:
    import os
    import subprocess
    import sys

    env = dict(os.environ, XDG_CACHE_HOME=cache)
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_declarations_are_cached_privately(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import stat

    assert _probe(str(tmp_path)) == "hi there False\n"  # generated now, pyghostty's parser unused
    folder = tmp_path / "bxtui"
    files = list(folder.glob("_bxtui_ghostty_*.py"))
    assert len(files) == 1 and not list(folder.glob(".*"))  # no temporary file left
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert _probe(str(tmp_path)) == "hi there False\n"  # and reused


def test_a_cache_others_can_write_is_not_used(tmp_path) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "bxtui"
    folder.mkdir()
    folder.chmod(0o777)
    assert _probe(str(tmp_path)) == "hi there True\n"  # pyghostty's own loader instead
    assert not list(folder.glob("*.py"))
