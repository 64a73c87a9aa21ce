"""The terminal pane: a process's PTY shown through a VT emulator, keys sent back to it."""

from __future__ import annotations

import asyncio
import contextlib
import textwrap
import time
from dataclasses import dataclass
from typing import ClassVar, Protocol

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from tui.ui.heap import settle
from tui.ui.term import Emulator, Feeder, create_emulator
from tui.ui.term.base import Cursor
from tui.ui.term.keys import encode_key, encode_paste

__all__ = ["CHORD", "CHORD_KEY", "PaneStats", "PtyLink", "TerminalPane"]

CHORD = Binding("ctrl+right_square_bracket", "release_focus", "Back to panes",
                key_display="ctrl+]", priority=True,
                tooltip="back to the panes (the process keeps running)")
"""ctrl+] (byte 0x1d): the one key the pane keeps for itself; its name, display and help."""
CHORD_KEY = CHORD.key
"""Textual's name for the chord's key."""
DEFAULT_HINT = "Press f to open a shell in the failed step, i for its initial state"
FRAME_INTERVAL = 1 / 60
"""Shortest time between two frames (60 Hz)."""
DRAW_SHARE = 0.1
"""Most of the event loop's time the pane's frames may take.

A frame that took ``c`` seconds (snapshot, rows rebuilt, lines rendered; wall time, so a
busy CPU counts) is followed by the next one no sooner than ``c / DRAW_SHARE`` later: a
prompt's echo (one row) still draws at 60 Hz, a flood that scrolls the whole screen every
frame at ~20 Hz on a quiet machine and down to 4 Hz on a busy one, leaving the loop (and the
CPU) to the process's output. At 60 Hz the frames of a 100 MB flood took a third of the main
thread and of a core the daemon needs too.
"""
SLOWEST_FRAME_INTERVAL = 0.25
"""Longest time between two frames while output keeps coming (4 Hz)."""
_RETRY_S = 0.05
PASTE_WINDOW = 4096
"""Pasted bytes sent ahead of the process's output (its echo).

A program that does not read its input leaves it in its terminal (a line of ~4 KiB, then
~11 KiB queued); once that is full, the daemon's write to the terminal blocks, and a
container ending while it blocks is never released (BuildKit 0.13 spins killing it). Sending
a paste only as fast as output comes back keeps what can pile up there under that. A
bracketed paste is not paced: the program asked for it (a line editor reading every byte),
and bash or zsh echo it only once it has ended.
"""
PASTE_LIMIT = 64 << 20
"""Most input held back at once; a bigger paste is refused with a notice."""
_INTERRUPT = {b"\x03", b"\x1c", b"\x1a"}
"""ctrl+c, ctrl+\\, ctrl+z: like the terminal's own signal keys, they drop held-back input."""
_PASTE_START, _PASTE_END = b"\x1b[200~", b"\x1b[201~"
_SCROLL_KEYS = {"shift+pageup": -1, "shift+pagedown": 1}
"""Keys the pane reads itself (not bindings: every other key goes to the process)."""
_REVERSE, _UNREVERSE = Style(reverse=True), Style(reverse=False)


class PtyLink(Protocol):
    """Where the pane's input goes: the process's PTY (both calls must not block)."""

    def send(self, data: bytes) -> None:
        """Queue ``data`` for the process's input, in order."""
        ...

    def resize(self, rows: int, cols: int) -> None:
        """The pane now shows ``rows`` x ``cols`` cells."""
        ...


@dataclass
class PaneStats:
    """Counters for benchmarks and tests."""

    frames: int = 0
    max_frame_s: float = 0.0
    last_frame_at: float = 0.0
    drawn_bytes: int = 0
    """Output bytes the last drawn frame includes (at least)."""
    frame_cost_s: float = 0.0
    """Seconds the last complete frame took: its snapshot and rows, then its lines rendered."""


class TerminalPane(Widget, can_focus=True):
    """Shows a process attached with ``attach``; while it runs, every key goes to it.

    The one chord: **ctrl+]** (Textual key ``ctrl+right_square_bracket``) is not sent; it
    posts ``TerminalPane.ReleaseFocus`` so the app can move focus back to its panes (the
    process keeps running). shift+pageup / shift+pagedown scroll through the scrollback; any
    other key returns to the live screen and goes to the process. App and screen bindings
    (tab, ctrl+c, ctrl+q, ctrl+p...) never see a key while a live process has focus: see
    ``check_consume_key``.
    """

    DEFAULT_CSS = """
    TerminalPane {
        border: round $panel;
        border-title-color: $foreground-muted;
        border-subtitle-color: $foreground-muted;
        background: $background;
        color: $foreground;
    }
    TerminalPane:focus {
        border: round $accent;
        border-title-color: $foreground;
    }
    TerminalPane > .terminal-pane--hint {
        color: $text-muted;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"terminal-pane--hint"}
    BINDINGS: ClassVar[list[BindingType]] = [CHORD]
    #: Keys that are not bindings, for the app's help screen.
    OTHER_KEYS: ClassVar[list[tuple[str, str]]] = [
        ("shift+pgup / shift+pgdn", "scroll back")]

    hint: reactive[str] = reactive(DEFAULT_HINT)
    """Text shown while nothing is attached."""

    class ReleaseFocus(Message):
        """ctrl+] was pressed in the pane: give focus back to the other panes."""

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.stats = PaneStats()
        self._link: PtyLink | None = None
        self._feeder: Feeder | None = None
        self._live = False
        self._parsed_more = asyncio.Event()
        self._title = ""
        self._sent_size: tuple[int, int] | None = None
        self._frame_handle: asyncio.TimerHandle | None = None
        self._drawn_cursor: Cursor | None = None
        self._scrolled_back = 0
        self._exit_message = ""
        self._base_style: Style | None = None
        self._frame_s = 0.0
        """How long the last ``_frame`` took (the snapshot and the rows rebuilt)."""
        self._render_s = 0.0
        """Time spent in ``render_lines`` since the last ``_frame``."""
        self._held = bytearray()
        """Input waiting for the process's output to catch up (a big paste, keys after it)."""
        self._unanswered = 0
        """Held-back input sent since the process last printed (at most ``PASTE_WINDOW``)."""

    # -- public API ----------------------------------------------------------------------------
    @property
    def emulator(self) -> Emulator | None:
        """The emulator of the current (or last) process, if any."""
        return self._feeder.emulator if self._feeder is not None else None

    @property
    def live(self) -> bool:
        """A process is attached and has not exited: keys go to it."""
        return self._live

    @property
    def backlog(self) -> int:
        """Bytes fed but not parsed yet (a reader may pause above a few MB)."""
        feeder = self._feeder
        return feeder.received - feeder.parsed if feeder is not None else 0

    async def wait_backlog(self, limit: int) -> None:
        """Return once at most ``limit`` bytes wait to be parsed (flow control for a reader)."""
        while self.backlog > limit:
            self._parsed_more.clear()
            await self._parsed_more.wait()

    @property
    def held_input(self) -> int:
        """Bytes of input (a paste, keys typed after it) not sent to the process yet."""
        return len(self._held)

    @property
    def pty_size(self) -> tuple[int, int]:
        """``(rows, cols)`` the process should get: the pane's content size."""
        size = self.content_size
        if size.width and size.height:
            return (size.height, size.width)
        return self._sent_size or (24, 80)  # hidden or not laid out yet

    def attach(self, link: PtyLink, title: str) -> None:
        """Show a new process (fresh emulator); its size is sent to ``link`` right away."""
        self._stop_feeder()
        rows, cols = self.pty_size
        fg, bg = self.styles.color.rgb, self.styles.background.rgb
        emulator = create_emulator(cols, rows, fg=fg, bg=bg)
        settle("terminal")  # after the heavy imports: fewer long GC pauses while drawing
        loop = asyncio.get_running_loop()

        def wake(feeder: Feeder) -> None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing to draw
                loop.call_soon_threadsafe(self._on_wake, feeder)

        feeder = Feeder(emulator, wake)
        self._feeder, self._link, self._live = feeder, link, True
        self._title, self._exit_message = title, ""
        self._drawn_cursor = None
        self._scrolled_back = 0
        self._held.clear()
        self._unanswered = 0
        self._sent_size = None
        self._send_size(initial=True)
        self._update_border()
        self.refresh()

    def feed(self, data: bytes) -> None:
        """Process output (event loop); parsed on the feeder thread, drawn at <= 60 Hz."""
        if self._feeder is not None:
            self._feeder.put(data)
        if self._unanswered:
            self._unanswered = max(self._unanswered - len(data), 0)
            if self._held:
                self._send_held()

    def process_exited(self, message: str) -> None:
        """The process ended: show ``message``, stop sending keys; content stays."""
        self._live = False
        self._exit_message = message
        self._held.clear()
        self._update_border()
        self._schedule_frame(0)  # hide the cursor

    # -- keys ----------------------------------------------------------------------------------
    def check_consume_key(self, key: str, character: str | None) -> bool:
        """While a process is live every key but the chord is ours: no binding sees it."""
        return self._live and key != CHORD_KEY

    def action_release_focus(self) -> None:
        """ctrl+]: let go of focus now, and ask the app to focus its other panes.

        Focus leaves the pane before this returns: the keys typed right after the chord
        (read with it, already queued ahead of the message) must reach the app's bindings,
        not the process.
        """
        self.screen.set_focus(None)
        self.post_message(self.ReleaseFocus())

    async def _on_key(self, event: events.Key) -> None:
        feeder = self._feeder
        if feeder is None or event.key == CHORD_KEY:
            return
        step = _SCROLL_KEYS.get(event.key)
        if step is not None:
            event.stop()
            event.prevent_default()
            rows = max(self.content_size.height - 1, 1)
            feeder.emulator.scroll_by(step * rows)
            self._schedule_frame(0)
            return
        if not self._live or self._link is None:
            return
        event.stop()
        event.prevent_default()
        if self._scrolled_back:
            feeder.emulator.scroll_to_bottom()
            self._schedule_frame(0)
        data = encode_key(event.key, event.character, feeder.emulator.modes)
        if not data:
            return
        if data in _INTERRUPT and self._held:
            self._drop_held()
        if self._held:
            self._held += data  # after the paste, as typed
        else:
            self._link.send(data)

    async def on_paste(self, event: events.Paste) -> None:
        """A paste goes to the process: bracketed if it asked, else as fast as it echoes.

        See ``PASTE_WINDOW``; ctrl+c drops what is still held back.
        """
        if not (self._live and self._link is not None and self._feeder is not None):
            return
        event.stop()
        event.prevent_default()
        modes = self._feeder.emulator.modes
        data = encode_paste(event.text, modes)
        if modes.bracketed_paste and not self._held:
            self._link.send(data)
            return
        if len(self._held) + len(data) > PASTE_LIMIT:
            why = "the previous paste is still being sent" if self._held else \
                f"over the {PASTE_LIMIT >> 20} MiB limit"
            self.notify(f"Paste of {_size(len(data))} not sent: {why}", severity="warning",
                        timeout=6)
            return
        self._held += data
        self._send_held()

    def _send_held(self) -> None:
        """Send held input while the process keeps up (output since the last piece)."""
        link = self._link
        while self._held and link is not None and self._unanswered < PASTE_WINDOW:
            size = PASTE_WINDOW - self._unanswered
            esc = self._held.rfind(b"\x1b", max(size - 5, 0), size)
            if esc > 0 and len(self._held) > size:
                size = esc  # no paste marker split between two pieces
            piece = bytes(self._held[:size])
            del self._held[:size]
            self._unanswered += len(piece)
            link.send(piece)
        self._update_border()

    def _drop_held(self) -> None:
        """ctrl+c while a paste is held back: drop it (closing a bracketed paste begun)."""
        held = bytes(self._held)
        self._held.clear()
        if held.count(_PASTE_END) > held.count(_PASTE_START) and self._link is not None:
            self._link.send(_PASTE_END)
        self._update_border()
        self.notify(f"Paste stopped: {_size(len(held))} not sent", timeout=4)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        """Wheel up: back through the scrollback."""
        if self._feeder is not None:
            event.stop()
            event.prevent_default()
            self._feeder.emulator.scroll_by(-3)
            self._schedule_frame(0)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        """Wheel down: towards the live screen."""
        if self._feeder is not None:
            event.stop()
            event.prevent_default()
            self._feeder.emulator.scroll_by(3)
            self._schedule_frame(0)

    # -- size, focus, lifetime -----------------------------------------------------------------
    def _send_size(self, *, initial: bool = False) -> None:
        size = self.content_size
        if self._feeder is None or not (initial or (size.width and size.height)):
            return  # hidden (display: none): the process keeps its last size
        rows, cols = self.pty_size
        if (rows, cols) == self._sent_size:
            return
        self._sent_size = (rows, cols)
        self._feeder.emulator.resize(cols, rows)
        if self._live and self._link is not None:
            self._link.resize(rows, cols)
        self._schedule_frame(0)

    def on_resize(self, _event: events.Resize) -> None:
        """Layout changed: resize the emulator and the PTY."""
        self._send_size()

    def on_focus(self, _event: events.Focus) -> None:
        """Show the cursor."""
        self._refresh_cursor()

    def on_blur(self, _event: events.Blur) -> None:
        """Hide the cursor."""
        self._refresh_cursor()

    def on_unmount(self, _event: events.Unmount) -> None:
        """Stop the feeder thread (it closes the emulator)."""
        self._stop_feeder()

    def _stop_feeder(self) -> None:
        if self._frame_handle is not None:
            self._frame_handle.cancel()
            self._frame_handle = None
        if self._feeder is not None:
            self._feeder.stop()
        self._feeder, self._link, self._live = None, None, False
        self._parsed_more.set()

    def watch_hint(self) -> None:
        """Repaint the empty state with the new hint."""
        if self._feeder is None:
            self.refresh()

    def _update_border(self) -> None:
        if self._live:
            self.border_title = f"{self._title}  ·  {CHORD.key_display} back to panes"
        else:
            self.border_title = self._title or None
        notes = []
        if self._held:
            notes.append(f"pasting, {_size(len(self._held))} left · ctrl+c drops it")
        if self._scrolled_back:
            notes.append(f"scrollback -{self._scrolled_back} · shift+pgdn")
        if self._exit_message:
            notes.append(self._exit_message)
        self.border_subtitle = "  ·  ".join(notes) or None

    # -- frames --------------------------------------------------------------------------------
    def _on_wake(self, feeder: Feeder) -> None:
        """The feeder wrote something (event loop): send replies, plan a frame."""
        if feeder is not self._feeder:
            return
        feeder.woken()
        self._parsed_more.set()
        if feeder.error is not None:
            self._live = False
            self._exit_message = f"terminal error: {feeder.error}"
            self._update_border()
        replies = feeder.emulator.take_replies()
        if replies and self._live and self._link is not None:
            self._link.send(replies)
        self._schedule_frame()

    def _schedule_frame(self, delay: float | None = None) -> None:
        """Plan a frame in ``delay`` s (default: one frame interval after the last frame)."""
        if self._feeder is None:
            return
        loop = asyncio.get_running_loop()
        if delay is None:
            delay = max(self.stats.last_frame_at + self._frame_interval() - time.monotonic(),
                        0.0)
        handle = self._frame_handle
        if handle is not None:
            if handle.when() <= loop.time() + delay:
                return
            handle.cancel()
        self._frame_handle = loop.call_later(delay, self._frame)

    def _frame_interval(self) -> float:
        """Seconds from one frame to the next while output keeps coming (see DRAW_SHARE)."""
        return min(max(self.stats.frame_cost_s / DRAW_SHARE, FRAME_INTERVAL),
                   SLOWEST_FRAME_INTERVAL)

    def _frame(self) -> None:
        """Take a snapshot and repaint its dirty rows (event loop, <= 60 Hz)."""
        self._frame_handle = None
        feeder = self._feeder
        if feeder is None or feeder.error is not None:
            return
        emulator = feeder.emulator
        start = time.monotonic()
        if self._frame_s:  # the previous frame is complete: its lines have been rendered
            self.stats.frame_cost_s = self._frame_s + self._render_s
        self._frame_s = self._render_s = 0.0
        parsed = feeder.parsed
        if not emulator.capture():
            # A write holds the terminal: it takes the snapshot when done and wakes us. The
            # retry only covers a wake-up that raced with this attempt.
            self._schedule_frame(_RETRY_S)
            return
        width = self.content_size.width
        dirty = emulator.dirty_rows()
        emulator.clear_dirty()
        cursor = self._shown_cursor()
        if cursor != self._drawn_cursor:
            for c in (cursor, self._drawn_cursor):
                if c is not None:
                    dirty.add(c.y)
            self._drawn_cursor = cursor
        if emulator.scrolled_back != self._scrolled_back:
            self._scrolled_back = emulator.scrolled_back
            self._update_border()
        if len(dirty) >= self.content_size.height:
            self.refresh()
        else:
            for y in dirty:
                self.refresh(Region(0, y, width, 1))
        stats = self.stats
        stats.frames += 1
        stats.drawn_bytes = parsed
        stats.last_frame_at = time.monotonic()
        self._frame_s = stats.last_frame_at - start
        stats.max_frame_s = max(stats.max_frame_s, self._frame_s)

    def _shown_cursor(self) -> Cursor | None:
        if self._feeder is None or not self.has_focus or not self._live:
            return None
        cursor = self._feeder.emulator.cursor
        return cursor if cursor.visible else None

    def _refresh_cursor(self) -> None:
        if self._feeder is not None:
            self._schedule_frame(0)

    # -- drawing -------------------------------------------------------------------------------
    def render_lines(self, crop: Region) -> list[Strip]:
        """Render ``crop`` with the widget's base style looked up once, not per line."""
        start = time.monotonic()
        self._base_style = self.rich_style
        lines = super().render_lines(crop)
        self._render_s += time.monotonic() - start
        return lines

    def render_line(self, y: int) -> Strip:
        """Row ``y`` of the emulator (cursor drawn reversed), or the centred hint."""
        width = self.content_size.width
        base = self._base_style or self.rich_style
        if self._feeder is None:
            return self._hint_line(y, width, base)
        strip = self._feeder.emulator.row(y)
        cursor = self._drawn_cursor
        if cursor is not None and cursor.y == y and cursor.x < strip.cell_length:
            left, mid, right = strip.divide([cursor.x, cursor.x + 1, strip.cell_length])
            strip = Strip.join([left, Strip(_invert(mid)), right])
        return strip.apply_style(base).adjust_cell_length(width, base)

    def _hint_line(self, y: int, width: int, base: Style) -> Strip:
        lines = textwrap.wrap(self.hint, max(width - 2, 8)) if self.hint else []
        top = (self.content_size.height - len(lines)) // 2
        if not 0 <= y - top < len(lines):
            return Strip.blank(width, base)
        text = lines[y - top][:width]
        style = base + self.get_component_rich_style("terminal-pane--hint")
        pad = max((width - len(text)) // 2, 0)
        return Strip([Segment(" " * pad, base), Segment(text, style)]).adjust_cell_length(
            width, base)


def _size(n: int) -> str:
    """``n`` bytes for a notice."""
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{max(n // 1000, 1)} kB"


def _invert(strip: Strip) -> list[Segment]:
    """The cursor cell: each segment with its reverse attribute flipped."""
    out = []
    for seg in strip:
        style = seg.style or Style()
        out.append(Segment(seg.text, style + (_UNREVERSE if style.reverse else _REVERSE)))
    return out
