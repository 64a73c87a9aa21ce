"""TerminalPane in a real Textual app (pilot): keys, chord, resize, output, a real PTY."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

import ptyprocess
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Input

from tui.ui.widgets.terminal import (
    DRAW_SHARE,
    FRAME_INTERVAL,
    SLOWEST_FRAME_INTERVAL,
    TerminalPane,
)


class FakeLink:
    """Records what the pane sends."""

    def __init__(self) -> None:
        self.sent = bytearray()
        self.sizes: list[tuple[int, int]] = []

    def send(self, data: bytes) -> None:
        self.sent += data

    def resize(self, rows: int, cols: int) -> None:
        self.sizes.append((rows, cols))


class PaneApp(App[None]):
    """A pane plus an input to move focus to, and bindings that must not steal keys."""

    CSS = "TerminalPane { height: 1fr; } Input { height: 3; }"
    BINDINGS = [Binding("q", "mark('q')"), Binding("f", "mark('f')"),
                Binding("ctrl+x", "mark('ctrl+x')", priority=True)]

    def __init__(self) -> None:
        super().__init__()
        self.marks: list[str] = []
        self.released = 0

    def compose(self) -> ComposeResult:
        yield Input(id="other")
        yield TerminalPane(id="term")

    def action_mark(self, what: str) -> None:
        self.marks.append(what)

    def on_terminal_pane_release_focus(self) -> None:
        self.released += 1
        self.query_one(Input).focus()


async def until(pilot, cond: Callable[[], bool], limit: float = 10.0, what: str = "") -> None:
    """Let the app run until ``cond()`` holds; fail after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or cond}")
        await pilot.pause(0.01)


def rows(pane: TerminalPane) -> list[str]:
    return [pane.render_line(y).text.rstrip() for y in range(pane.content_size.height)]


def cursor_cell(pane: TerminalPane, y: int, x: int) -> bool:
    """Whether cell (x, y) is drawn in reverse video."""
    cell = list(pane.render_line(y).divide([x, x + 1])[1])
    return bool(cell and cell[0].style and cell[0].style.reverse)


async def attached(pilot) -> tuple[TerminalPane, FakeLink]:
    pane = pilot.app.query_one(TerminalPane)
    link = FakeLink()
    pane.attach(link, "shell: test")
    pane.focus()
    await pilot.pause()
    return pane, link


async def test_empty_state_shows_the_hint_and_lets_app_keys_through():
    app = PaneApp()
    async with app.run_test(size=(80, 24)) as pilot:
        pane = app.query_one(TerminalPane)
        pane.hint = "Press f for a shell"
        pane.focus()
        await pilot.pause()
        assert any(line.strip() == "Press f for a shell" for line in rows(pane))
        await pilot.press("f", "q")
        assert app.marks == ["f", "q"]


async def test_every_key_goes_to_the_process():
    app = PaneApp()
    async with app.run_test(size=(80, 24)) as pilot:
        pane, link = await attached(pilot)
        assert app.focused is pane
        await pilot.press("l", "s", "enter", "ctrl+c", "tab", "shift+tab", "escape", "q", "f",
                          "i", "ctrl+q", "ctrl+p", "ctrl+x", "up", "A", "ctrl+d")
        assert bytes(link.sent) == (b"ls\r\x03\t\x1b[Z\x1bqfi\x11\x10\x18\x1b[AA\x04")
        assert app.marks == []
        assert app.focused is pane
        assert app.is_running
        assert app.screen is app.screen_stack[0]  # no command palette


async def test_chord_releases_focus_and_sends_nothing():
    app = PaneApp()
    async with app.run_test(size=(80, 24)) as pilot:
        pane, link = await attached(pilot)
        await pilot.press("ctrl+right_square_bracket")
        await until(pilot, lambda: app.released == 1, what="ReleaseFocus")
        assert bytes(link.sent) == b""
        assert app.focused is app.query_one(Input)
        pane.focus()
        await pilot.press("x")
        assert bytes(link.sent) == b"x"


async def test_keys_read_with_the_chord_reach_the_app():
    """ctrl+] then q in one read: q is a binding of the app, never a byte for the process."""
    app = PaneApp()
    async with app.run_test(size=(80, 24)) as pilot:
        _pane, link = await attached(pilot)
        for key, char in (("ctrl+right_square_bracket", None), ("q", "q")):
            app.post_message(events.Key(key, char))  # both queued before either is handled
        await until(pilot, lambda: app.marks == ["q"], what="q reaching the app's binding")
        assert bytes(link.sent) == b""


async def test_size_sent_on_attach_and_on_resize():
    app = PaneApp()
    async with app.run_test(size=(80, 24)) as pilot:
        pane, link = await attached(pilot)
        first = (pane.content_size.height, pane.content_size.width)
        assert link.sizes == [first] == [pane.pty_size]
        await pilot.resize_terminal(100, 30)
        await until(pilot, lambda: link.sizes[-1] != first, what="a new size")
        assert link.sizes[-1] == (pane.content_size.height, pane.content_size.width)
        assert link.sizes[-1][1] == first[1] + 20
        assert link.sizes[-1][0] == first[0] + 6
        await until(pilot, lambda: pane.emulator.size == (100 - 2, link.sizes[-1][0]),
                    what="emulator resized")


async def test_hidden_pane_keeps_the_last_size():
    app = PaneApp()
    async with app.run_test(size=(80, 24)) as pilot:
        pane, link = await attached(pilot)
        first = link.sizes[-1]
        pane.display = False
        await pilot.pause()
        await pilot.resize_terminal(90, 30)
        await pilot.pause()
        assert link.sizes == [first] and pane.pty_size == first
        pane.display = True
        await until(pilot, lambda: link.sizes[-1] == (pane.content_size.height, 88),
                    what="size after showing again")


async def test_output_is_drawn_with_cursor_and_replies_go_back():
    app = PaneApp()
    async with app.run_test(size=(80, 24)) as pilot:
        pane, link = await attached(pilot)
        pane.feed(b"hello \x1b[31mworld\x1b[0m\r\n")
        pane.feed("é".encode()[:1])
        pane.feed("é".encode()[1:] + b"\x1b[6n")
        await until(pilot, lambda: rows(pane)[:2] == ["hello world", "é"], what="output")
        await until(pilot, lambda: bytes(link.sent) == b"\x1b[2;2R", what="cursor report")
        await until(pilot, lambda: cursor_cell(pane, 1, 1), what="cursor drawn")
        assert not cursor_cell(pane, 1, 0)
        app.query_one(Input).focus()
        await until(pilot, lambda: not cursor_cell(pane, 1, 1), what="cursor hidden on blur")


async def test_frames_are_paced_by_their_cost():
    """Each frame's cost (snapshot, rows, rendered lines) spaces the next: 60 Hz when cheap,
    a tenth of the time when dear (a flood), never under 4 Hz."""
    app = PaneApp()
    async with app.run_test(size=(80, 24)) as pilot:
        pane, _ = await attached(pilot)
        for n in range(3):  # a frame's cost is known once the next frame starts
            frames = pane.stats.frames
            pane.feed(b"".join(b"screen %d row %d\r\n" % (n, i) for i in range(30)))
            await until(pilot, lambda f=frames: pane.stats.frames > f, what="a frame")
        assert pane.stats.frame_cost_s > 0
        for cost, interval in ((0.0001, FRAME_INTERVAL), (0.004, 0.004 / DRAW_SHARE),
                               (1.0, SLOWEST_FRAME_INTERVAL)):
            pane.stats.frame_cost_s = cost
            assert abs(pane._frame_interval() - interval) < 1e-9


async def test_paste_is_bracketed_when_asked():
    app = PaneApp()
    async with app.run_test(size=(80, 24)) as pilot:
        pane, link = await attached(pilot)
        app.post_message(events.Paste("a\nb"))
        await until(pilot, lambda: bytes(link.sent) == b"a\rb", what="plain paste")
        pane.feed(b"\x1b[?2004h")
        await until(pilot, lambda: pane.emulator.modes.bracketed_paste, what="mode 2004")
        link.sent.clear()
        app.post_message(events.Paste("c"))
        await until(pilot, lambda: bytes(link.sent) == b"\x1b[200~c\x1b[201~", what="bracketed")


async def test_scrollback_keys_and_return_to_bottom():
    app = PaneApp()
    async with app.run_test(size=(80, 24)) as pilot:
        pane, link = await attached(pilot)
        pane.feed(b"".join(b"line %d\r\n" % i for i in range(300)))
        await until(pilot, lambda: "line 299" in rows(pane), what="output")
        await pilot.press("shift+pageup")
        await until(pilot, lambda: pane.emulator.scrolled_back > 0, what="scrolled back")
        assert "line 299" not in rows(pane)
        assert "scrollback" in str(pane.border_subtitle)
        assert bytes(link.sent) == b""
        await pilot.press("shift+pagedown", "shift+pageup", "x")
        await until(pilot, lambda: pane.emulator.scrolled_back == 0, what="bottom again")
        await until(pilot, lambda: "line 299" in rows(pane), what="live screen")
        assert bytes(link.sent) == b"x"


async def test_process_exit_stops_keys_and_reattach_starts_fresh():
    app = PaneApp()
    async with app.run_test(size=(80, 24)) as pilot:
        pane, link = await attached(pilot)
        pane.feed(b"old output")
        await until(pilot, lambda: rows(pane)[0] == "old output", what="output")
        pane.process_exited("exited with status 1")
        await pilot.press("z", "q")
        assert bytes(link.sent) == b""
        assert app.marks == ["q"]  # app bindings work again
        assert pane.border_subtitle == "exited with status 1"
        assert rows(pane)[0] == "old output"
        second = FakeLink()
        pane.attach(second, "shell: again")
        await pilot.pause()
        assert rows(pane)[0] == ""
        assert "shell: again" in str(pane.border_title) and "ctrl+]" in str(pane.border_title)
        await pilot.press("y")
        assert bytes(second.sent) == b"y" and bytes(link.sent) == b""


class PtyLink:
    """A real PTY process behind the pane (non-blocking enough for a test shell)."""

    def __init__(self, proc: ptyprocess.PtyProcess) -> None:
        self.proc = proc

    def send(self, data: bytes) -> None:
        os.write(self.proc.fd, data)

    def resize(self, rows: int, cols: int) -> None:
        self.proc.setwinsize(rows, cols)


async def test_real_pty_shell_sees_the_pane_size():
    app = PaneApp()
    async with app.run_test(size=(90, 26)) as pilot:
        pane = app.query_one(TerminalPane)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PS1": "$ ", "TERM": "xterm"}
        proc = ptyprocess.PtyProcess.spawn(["/bin/sh"], env=env, dimensions=(5, 20))
        loop = asyncio.get_running_loop()

        def readable() -> None:
            try:
                data = os.read(proc.fd, 65536)
            except OSError:
                data = b""
            if data:
                pane.feed(data)
            else:
                loop.remove_reader(proc.fd)

        loop.add_reader(proc.fd, readable)
        try:
            pane.attach(PtyLink(proc), "sh")
            pane.focus()
            rows_, cols_ = pane.pty_size
            for ch in "stty size":
                await pilot.press(ch)
            await pilot.press("enter")
            await until(pilot, lambda: f"{rows_} {cols_}" in rows(pane), what="stty output")
            await pilot.resize_terminal(70, 20)
            await until(pilot, lambda: pane.pty_size != (rows_, cols_), what="new layout")
            rows2, cols2 = pane.pty_size
            for ch in "stty size":
                await pilot.press(ch)
            await pilot.press("enter")
            await until(pilot, lambda: f"{rows2} {cols2}" in rows(pane), what="new stty size")
        finally:
            loop.remove_reader(proc.fd)
            proc.terminate(force=True)
