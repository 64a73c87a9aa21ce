"""Emulator backend on libghostty-vt, through pyghostty's raw cffi layer.

libghostty-vt is loaded when the first emulator is created, through the cached declarations
of ``ghosttyffi`` (milliseconds; pyghostty's own loader, the fallback, takes ~0.7 s).
Styled rows come from the render state API: one 64-bit value per cell (layout read from the
library's type manifest), and one ``GhosttyStyle`` read per distinct style id per row. Every
C call's result is checked: a wrong pointer returns -2 and an empty screen, not an exception.

Locking (see ``tui.ui.term.base``): ``_lock`` guards the terminal; ``_st`` guards the pending
requests and the capture handshake (taken inside ``_lock``, never the other way round). A
capture is ``begin_update`` under ``_lock`` by whoever holds it, then ``end_update`` and the row
reads on the event loop, which never waits for ``_lock``. While the loop waits for a snapshot
(requested, or taken but not read yet) each write ends by updating it, so it is never older
than the last write; the render state is only touched by the loop once it has taken it back.
"""

from __future__ import annotations

import functools
import json
import threading
import weakref
from collections import deque
from dataclasses import dataclass
from itertools import groupby, repeat
from operator import and_, rshift
from typing import Any

from rich.cells import cell_len
from rich.color import Color
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from tui.ui.term import ghosttyffi
from tui.ui.term.base import Cursor, Modes

__all__ = ["GhosttyEmulator", "GhosttyError"]

_IDLE, _REQUESTED, _READY = range(3)
SCROLLBACK_BYTES = 20 << 20
"""Scrollback kept, in the library's page memory (Ghostty's own measure): ~17,000 lines of
140 columns, ~8,000 of 300, whatever the lines hold.

Pruning by bytes costs nothing measurable; pruning by a line count (``SCROLLBACK_MAX_LINES``)
made a flood's parsing 7-15x slower (64 instead of 450-590 MB/s of CPU time at 140
columns, 32 instead of 370-510 at 300), so the line count below is only a backstop that the
bytes reach first on any pane wider than ~25 columns.
"""
SCROLLBACK_LINES = 100_000
_STYLE_CACHE_MAX = 2048
_NULL_STYLE = Style()
_PLAIN_BELOW = 0x300
"""Code points below this are one cell wide for Rich too (Latin, no combining marks)."""
_MODE_DECCKM, _MODE_PASTE, _MODE_GRAPHEMES = 1, 2004, 2027
_TWIN_CDEF = """
typedef struct { GhosttyTerminalScrollViewportTag tag; int64_t delta; uint64_t _pad; }
    BxtuiScrollViewportS;
"""


class GhosttyError(RuntimeError):
    """A libghostty-vt call failed."""


@dataclass(frozen=True)
class _CellLayout:
    """Bit positions of the packed ``GhosttyCell`` fields."""

    tag_shift: int
    tag_mask: int
    cp_shift: int
    cp_mask: int
    sid_shift: int
    sid_mask: int
    wide_shift: int
    wide_mask: int


@dataclass(frozen=True)
class _Lib:
    ffi: Any
    lib: Any
    cell: _CellLayout
    scroll_viewport: Any


def _field(bits: dict[str, Any], name: str) -> tuple[int, int]:
    entry = bits[name]
    return int(entry["lsb"]), (1 << int(entry["width"])) - 1


_LOAD_LOCK = threading.Lock()


def _load() -> _Lib:
    """The library, loaded once even when two threads ask at the same time (warm-up, ``f``)."""
    with _LOAD_LOCK:
        return _load_once()


def _ffi_and_lib() -> tuple[Any, Any]:
    try:
        return ghosttyffi.load(_TWIN_CDEF)
    except Exception:  # no cache to write, or cffi changed: pyghostty's own (slow) loader
        from pyghostty._ffi import ffi, lib

        ffi.cdef(_TWIN_CDEF)
        return ffi, lib


@functools.cache
def _load_once() -> _Lib:
    """Load libghostty-vt, read the cell layout, declare the by-value twin for scrolling."""
    ffi, lib = _ffi_and_lib()

    manifest = json.loads(ffi.string(lib.ghostty_type_json()))
    bits = manifest["types"]["GhosttyCell"]["bits"]
    content = bits["content"]
    cp_lsb, cp_mask = _field(content["arms"]["CODEPOINT"]["bits"], "codepoint")
    tag = _field(bits, "content_tag")
    sid = _field(bits, "style_id")
    wide = _field(bits, "wide")
    layout = _CellLayout(tag[0], tag[1], int(content["lsb"]) + cp_lsb, cp_mask,
                         sid[0], sid[1], wide[0], wide[1])
    # ABI-mode cffi cannot pass a union by value: call through a same-layout struct twin.
    if ffi.sizeof("BxtuiScrollViewportS") != ffi.sizeof("GhosttyTerminalScrollViewport"):
        raise GhosttyError("unexpected GhosttyTerminalScrollViewport layout")
    scroll = ffi.cast("void(*)(GhosttyTerminal, BxtuiScrollViewportS)",
                      ffi.addressof(lib, "ghostty_terminal_scroll_viewport"))
    return _Lib(ffi, lib, layout, scroll)


def _check(res: int, what: str) -> None:
    if res:
        raise GhosttyError(f"{what} failed: {res}")


def _color(c: Any, palette: int, rgb: int) -> Color | None:
    tag = c.tag
    if tag == palette:
        return Color.from_ansi(c.value.palette)
    if tag == rgb:
        v = c.value.rgb
        return Color.from_rgb(v.r, v.g, v.b)
    return None


def _free(lib: Any, cells: Any, it: Any, rs: Any, term: Any) -> None:
    """Free the native objects of one emulator (once: ``close`` or garbage collection)."""
    lib.ghostty_render_state_row_cells_free(cells)
    lib.ghostty_render_state_row_iterator_free(it)
    lib.ghostty_render_state_free(rs)
    lib.ghostty_terminal_free(term)


@functools.lru_cache(maxsize=4096)
def _fit(text: str, width: int) -> str:
    """``text`` made exactly ``width`` cells wide for Rich (the emulator decided the width)."""
    have = cell_len(text)
    if have == width:
        return text
    if have < width:
        return text + " " * (width - have)
    base = text[0]
    if len(text) > 1 and cell_len(base) <= width:
        return base + " " * (width - cell_len(base))
    return "\ufffd" + " " * (width - 1)


class GhosttyEmulator:
    """``tui.ui.term.base.Emulator`` on a libghostty-vt terminal and render state."""

    def __init__(self, cols: int = 80, rows: int = 24, *,
                 scrollback_lines: int = SCROLLBACK_LINES,
                 scrollback_bytes: int = SCROLLBACK_BYTES, fg: tuple[int, int, int] | None = None,
                 bg: tuple[int, int, int] | None = None, name: str = "bxtui") -> None:
        self._l = L = _load()
        ffi, lib = L.ffi, L.lib
        self._cols, self._rows = max(cols, 1), max(rows, 1)
        handle = ffi.new("GhosttyTerminal*")
        _check(lib.ghostty_terminal_new(ffi.NULL, handle, self._cols, self._rows), "terminal_new")
        self._term: Any = handle[0]
        rs = ffi.new("GhosttyRenderState*")
        _check(lib.ghostty_render_state_new(ffi.NULL, rs), "render_state_new")
        self._rs: Any = rs[0]
        self._it = ffi.new("GhosttyRenderStateRowIterator*")
        _check(lib.ghostty_render_state_row_iterator_new(ffi.NULL, self._it), "row_iterator_new")
        self._cells = ffi.new("GhosttyRenderStateRowCells*")
        _check(lib.ghostty_render_state_row_cells_new(ffi.NULL, self._cells), "row_cells_new")
        self._free = weakref.finalize(self, _free, lib, self._cells[0], self._it[0], self._rs,
                                      self._term)
        self._view = ffi.new("GhosttyCellsView*")
        self._style = ffi.new("GhosttyStyle*")
        self._style_zero = bytes(ffi.sizeof("GhosttyStyle"))
        self._cur = ffi.new("GhosttyRenderStateCursor*")
        self._cur.size = ffi.sizeof("GhosttyRenderStateCursor")
        self._u16 = ffi.new("uint16_t*")
        self._mode = ffi.new("GhosttyTerminalModeConfig*")
        self._scrollbar = ffi.new("GhosttyTerminalScrollbar*")
        self._screen = ffi.new("GhosttyTerminalScreen*")
        self._scroll_arg = ffi.new("BxtuiScrollViewportS*")
        self._gbuf = ffi.new("uint8_t[]", 64)
        self._gbuffer = ffi.new("GhosttyBuffer*")
        self._name = ffi.new("uint8_t[]", name.encode())
        self._name_len = len(name.encode())
        self._callbacks: list[Any] = []
        self._replies: deque[bytes] = deque()
        self._lock = threading.Lock()
        self._st = threading.Lock()
        self._pending_size: tuple[int, int] | None = None
        self._pending_scroll: list[int | None] = []
        self._capture_state = _IDLE
        self._next: tuple[Modes, int] = (Modes(), 0)
        self._modes = Modes()
        self._scrolled_back = 0
        self._cursor = Cursor(0, 0, True)
        self._snap_size = (self._cols, self._rows)
        self._strips: list[Strip] = [Strip.blank(self._cols)] * self._rows
        self._dirty: set[int] = set(range(self._rows))
        self._style_cache: dict[tuple[Any, ...], Style] = {}
        self._row_styles: dict[int, Style] = {}
        self._row_loaded = False
        self._closed = False
        self._configure(scrollback_lines, scrollback_bytes, fg, bg)

    # -- setup --------------------------------------------------------------------------------
    def _set(self, opt: str, value: Any) -> None:
        lib = self._l.lib
        _check(lib.ghostty_terminal_set(self._term, getattr(lib, f"GHOSTTY_TERMINAL_OPT_{opt}"),
                                        value), f"terminal_set {opt}")

    def _callback(self, ctype: str, fn: Any) -> Any:
        cb = self._l.ffi.callback(ctype, fn)
        self._callbacks.append(cb)
        return cb

    def _configure(self, lines: int, nbytes: int, fg: tuple[int, int, int] | None,
                   bg: tuple[int, int, int] | None) -> None:
        ffi = self._l.ffi
        self._set("SCROLLBACK_MAX_LINES", ffi.new("size_t*", lines))
        self._set("SCROLLBACK_MAX_BYTES", ffi.new("size_t*", nbytes))
        for opt, rgb in (("COLOR_FOREGROUND", fg), ("COLOR_BACKGROUND", bg)):
            if rgb is not None:
                self._set(opt, ffi.new("GhosttyColorRgb*", dict(zip("rgb", rgb, strict=True))))
        self._set("WRITE_PTY", self._callback("GhosttyTerminalWritePtyFn", self._on_write_pty))
        self._set("DEVICE_ATTRIBUTES",
                  self._callback("GhosttyTerminalDeviceAttributesFn", self._on_device_attrs))
        self._set("SIZE", self._callback("GhosttyTerminalSizeFn", self._on_size))
        self._set("XTVERSION", self._callback("GhosttyTerminalXtversionFn", self._on_xtversion))
        term = ffi.new("uint8_t[]", b"xterm-256color")
        self._set("TERMINFO_NAME", ffi.new("GhosttyString*", {"ptr": term, "len": 14}))
        self._set("MODE_DEFAULT", ffi.new("GhosttyTerminalModeConfig*",
                                          {"mode": _MODE_GRAPHEMES, "value": True}))

    # -- callbacks (run on the feeding thread, inside vt_write) --------------------------------
    def _on_write_pty(self, _t: Any, _u: Any, data: Any, n: int) -> None:
        self._replies.append(bytes(self._l.ffi.buffer(data, n)))

    def _on_device_attrs(self, _t: Any, _u: Any, out: Any) -> bool:
        out.primary.conformance_level = 62
        out.primary.features[0] = 22  # ANSI colour
        out.primary.num_features = 1
        out.secondary.device_type = 1
        out.secondary.firmware_version = 10
        out.secondary.rom_cartridge = 0
        out.tertiary.unit_id = 0
        return True

    def _on_size(self, _t: Any, _u: Any, out: Any) -> bool:
        out.rows, out.columns = self._rows, self._cols
        out.cell_width, out.cell_height = 8, 16
        return True

    def _on_xtversion(self, _t: Any, _u: Any) -> Any:
        return self._l.ffi.new("GhosttyString*", {"ptr": self._name, "len": self._name_len})[0]

    # -- worker thread -------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        """Parse output; takes the terminal lock for the whole write (see module doc)."""
        with self._lock:
            if self._closed:
                return
            self._apply_pending()
            self._l.lib.ghostty_terminal_vt_write(self._term, data, len(data))
            with self._st:
                if self._capture_state != _IDLE:  # the loop waits: hand it this write too
                    self._begin()
                    _check(self._l.lib.ghostty_render_state_end_update(self._rs), "end_update")
                    self._capture_state = _READY

    # -- requests ------------------------------------------------------------------------------
    def resize(self, cols: int, rows: int) -> None:
        """Ask for ``cols`` x ``rows``; applied under the lock before the next write/capture."""
        with self._st:
            self._pending_size = (max(cols, 1), max(rows, 1))

    def scroll_by(self, rows: int) -> None:
        """Scroll the viewport ``rows`` rows (negative = back in history)."""
        with self._st:
            self._pending_scroll.append(rows)

    def scroll_to_bottom(self) -> None:
        """Back to the live screen."""
        with self._st:
            self._pending_scroll.append(None)

    def _apply_pending(self) -> None:
        """Run the queued resize and scrolls (caller holds ``_lock``)."""
        with self._st:
            size, self._pending_size = self._pending_size, None
            scrolls, self._pending_scroll = self._pending_scroll, []
        L = self._l
        if size is not None and size != (self._cols, self._rows):
            _check(L.lib.ghostty_terminal_resize(self._term, size[0], size[1], 8, 16), "resize")
            self._cols, self._rows = size
        arg = self._scroll_arg
        for delta in scrolls:
            if delta is None:
                arg.tag = L.lib.GHOSTTY_SCROLL_VIEWPORT_BOTTOM
            else:
                arg.tag, arg.delta = L.lib.GHOSTTY_SCROLL_VIEWPORT_DELTA, delta
            L.scroll_viewport(self._term, arg[0])

    # -- capture -------------------------------------------------------------------------------
    def _term_mode(self, mode: int) -> bool:
        self._mode.mode, self._mode.value = mode, False
        _check(self._l.lib.ghostty_terminal_get(self._term, self._l.lib.GHOSTTY_TERMINAL_DATA_MODE,
                                                self._mode), f"mode {mode}")
        return bool(self._mode.value)

    def _begin(self) -> None:
        """First half of a capture (caller holds ``_lock``)."""
        L = self._l
        lib = L.lib
        _check(lib.ghostty_render_state_begin_update(self._rs, self._term), "begin_update")
        screen = self._screen
        _check(lib.ghostty_terminal_get(self._term, lib.GHOSTTY_TERMINAL_DATA_ACTIVE_SCREEN,
                                        screen), "active_screen")
        _check(lib.ghostty_terminal_get(self._term, lib.GHOSTTY_TERMINAL_DATA_SCROLLBAR,
                                        self._scrollbar), "scrollbar")
        sb = self._scrollbar
        below = max(int(sb.total) - int(sb.offset) - int(sb.len), 0)
        modes = Modes(self._term_mode(_MODE_DECCKM), self._term_mode(_MODE_PASTE),
                      screen[0] == lib.GHOSTTY_TERMINAL_SCREEN_ALTERNATE)
        self._next = (modes, below)

    def capture(self) -> bool:
        """Snapshot now if the terminal is free, else after the current write (returns False)."""
        if self._closed:
            return False
        with self._st:
            ready = self._capture_state == _READY
            self._capture_state = _IDLE if ready else _REQUESTED
        if not ready:
            if not self._lock.acquire(blocking=False):
                return False
            try:
                self._apply_pending()
                with self._st:
                    if self._capture_state == _REQUESTED:
                        self._begin()
                    self._capture_state = _IDLE
            finally:
                self._lock.release()
        self._finish()
        return True

    def _finish(self) -> None:
        """Second half of a capture: end the update (no-op if done), rebuild dirty rows."""
        lib = self._l.lib
        rs = self._rs
        _check(lib.ghostty_render_state_end_update(rs), "end_update")
        self._modes, self._scrolled_back = self._next
        _check(lib.ghostty_render_state_get(rs, lib.GHOSTTY_RENDER_STATE_DATA_COLS, self._u16),
               "cols")
        cols = int(self._u16[0])
        _check(lib.ghostty_render_state_get(rs, lib.GHOSTTY_RENDER_STATE_DATA_ROWS, self._u16),
               "rows")
        rows = int(self._u16[0])
        if (cols, rows) != self._snap_size:
            self._snap_size = (cols, rows)
            self._strips = [Strip.blank(cols)] * rows
            self._dirty = set(range(rows))
        cur = self._cur
        _check(lib.ghostty_render_state_get(rs, lib.GHOSTTY_RENDER_STATE_DATA_CURSOR, cur),
               "cursor")
        if cur.viewport_has_value:
            self._cursor = Cursor(int(cur.viewport_x), int(cur.viewport_y), bool(cur.visible))
        else:
            self._cursor = Cursor(0, 0, False)
        _check(lib.ghostty_render_state_get(rs, lib.GHOSTTY_RENDER_STATE_DATA_ROW_ITERATOR,
                                            self._it), "row_iterator")
        it = self._it[0]
        y16 = self._u16
        while lib.ghostty_render_state_row_iterator_next_dirty(it, y16):
            y = int(y16[0])
            if y < rows:
                self._strips[y] = self._build_row(it, cols)
                self._dirty.add(y)
        _check(lib.ghostty_render_state_clean(rs), "render_state_clean")

    # -- rows ----------------------------------------------------------------------------------
    def _row_style(self, x: int) -> Style:
        """Style of cell ``x`` of the row loaded in ``_cells`` (cached by value)."""
        L = self._l
        lib = L.lib
        cells = self._cells[0]
        _check(lib.ghostty_render_state_row_cells_select(cells, x), "cells_select")
        st = self._style
        L.ffi.memmove(st, self._style_zero, len(self._style_zero))  # padding too: stable keys
        st.size = len(self._style_zero)
        _check(lib.ghostty_render_state_row_cells_get(
            cells, lib.GHOSTTY_RENDER_STATE_ROW_CELLS_DATA_STYLE, st), "cell style")
        pal, rgb = lib.GHOSTTY_STYLE_COLOR_PALETTE, lib.GHOSTTY_STYLE_COLOR_RGB
        key = (bytes(L.ffi.buffer(st)[8:]),)
        style = self._style_cache.get(key)
        if style is None:
            style = Style(
                color=_color(st.fg_color, pal, rgb), bgcolor=_color(st.bg_color, pal, rgb),
                bold=st.bold or None, dim=st.faint or None, italic=st.italic or None,
                blink=st.blink or None, reverse=st.inverse or None,
                conceal=st.invisible or None, strike=st.strikethrough or None,
                overline=st.overline or None, underline=st.underline == 1 or None,
                underline2=st.underline == 2 or None,
            )
            if st.underline > 2:
                style += Style(underline=True)
            if len(self._style_cache) >= _STYLE_CACHE_MAX:
                self._style_cache.clear()
            self._style_cache[key] = style
        return style

    def _grapheme(self, x: int) -> str:
        L = self._l
        lib = L.lib
        cells = self._cells[0]
        _check(lib.ghostty_render_state_row_cells_select(cells, x), "cells_select")
        buf = self._gbuffer
        buf.ptr, buf.cap, buf.len = self._gbuf, len(self._gbuf), 0
        res = lib.ghostty_render_state_row_cells_get(
            cells, lib.GHOSTTY_RENDER_STATE_ROW_CELLS_DATA_GRAPHEMES_UTF8, buf)
        if res == lib.GHOSTTY_OUT_OF_SPACE:
            self._gbuf = L.ffi.new("uint8_t[]", int(buf.len) * 2)
            return self._grapheme(x)
        _check(res, "graphemes")
        return bytes(L.ffi.buffer(buf.ptr, buf.len)).decode("utf-8", "replace")

    def _style_of(self, sid: int, x: int) -> Style:
        """Style id ``sid`` of the current row (read at cell ``x`` once per row)."""
        style = self._row_styles.get(sid)
        if style is None:
            self._load_row_cells()
            style = self._row_styles[sid] = self._row_style(x)
        return style

    def _load_row_cells(self) -> None:
        """Point ``_cells`` at the current row (once per row)."""
        if not self._row_loaded:
            lib = self._l.lib
            _check(lib.ghostty_render_state_row_get(
                self._it[0], lib.GHOSTTY_RENDER_STATE_ROW_DATA_CELLS, self._cells), "row cells")
            self._row_loaded = True

    def _build_row(self, it: Any, cols: int) -> Strip:
        """The current iterator row as a Strip exactly ``cols`` cells wide.

        Cells are grouped in runs sharing their high bits (style id, width...); a run of
        plain narrow text becomes one segment without a Python loop over its cells.
        """
        L = self._l
        ffi, lib, c = L.ffi, L.lib, L.cell
        _check(lib.ghostty_render_state_row_get(it, lib.GHOSTTY_RENDER_STATE_ROW_DATA_CELLS_RAW,
                                                self._view), "cells_raw")
        n = min(int(self._view.len), cols)
        if not n:
            return Strip.blank(cols)
        values: list[int] = ffi.unpack(ffi.cast("uint64_t*", self._view.ptr), n)
        his = list(map(rshift, values, repeat(c.sid_shift)))
        cps = list(map(and_, map(rshift, values, repeat(c.cp_shift)), repeat(c.cp_mask)))
        self._row_styles, self._row_loaded = {0: _NULL_STYLE}, False
        tag_bits, sid_m, wide_rel, wide_m = c.tag_mask << c.tag_shift, c.sid_mask, \
            c.wide_shift - c.sid_shift, c.wide_mask
        segments: list[Segment] = []
        x = 0
        for hi, group in groupby(his):
            end = x + len(list(group))
            style = self._style_of(hi & sid_m, x)
            if ((hi >> wide_rel) & wide_m == 0 and max(cps[x:end]) < _PLAIN_BELOW
                    and not any(map(and_, values[x:end], repeat(tag_bits)))):
                text = "".join(map(chr, cps[x:end]))
                segments.append(Segment(text.replace("\x00", " ") if "\x00" in text else text,
                                        style))
            else:
                self._cells_slow(values, cps, x, end, style, segments)
            x = end
        return Strip(segments).adjust_cell_length(cols)

    def _cells_slow(self, values: list[int], cps: list[int], start: int, end: int,
                    style: Style, out: list[Segment]) -> None:
        """Cells ``start:end`` one by one: wide, grapheme, non-Latin or background-only."""
        c = self._l.cell
        for x in range(start, end):
            v = values[x]
            wide = (v >> c.wide_shift) & c.wide_mask
            if wide == 2:  # spacer tail of a wide character
                continue
            tag = (v >> c.tag_shift) & c.tag_mask
            cp = cps[x]
            cell_style = style
            if tag == 0:
                ch = _fit(chr(cp), 2 if wide == 1 else 1) if cp else " "
            elif tag == 1:
                self._load_row_cells()
                ch = _fit(self._grapheme(x), 2 if wide == 1 else 1)
            else:
                ch = " "
                bg = (Color.from_ansi(cp & 0xFF) if tag == 2 else
                      Color.from_rgb(cp & 0xFF, (cp >> 8) & 0xFF, (cp >> 16) & 0xFF))
                cell_style = style + Style(bgcolor=bg)
            if out and out[-1].style is cell_style:
                out[-1] = Segment(out[-1].text + ch, cell_style)
            else:
                out.append(Segment(ch, cell_style))

    # -- reads ---------------------------------------------------------------------------------
    @property
    def size(self) -> tuple[int, int]:
        """``(cols, rows)`` of the last snapshot."""
        return self._snap_size

    def dirty_rows(self) -> set[int]:
        """Rows rebuilt since ``clear_dirty``."""
        return set(self._dirty)

    def clear_dirty(self) -> None:
        """Forget the dirty rows."""
        self._dirty.clear()

    def row(self, y: int) -> Strip:
        """Viewport row ``y``; a blank strip outside the screen."""
        if 0 <= y < len(self._strips):
            return self._strips[y]
        return Strip.blank(self.size[0])

    @property
    def cursor(self) -> Cursor:
        """Cursor of the last snapshot."""
        return self._cursor

    @property
    def modes(self) -> Modes:
        """Modes of the last snapshot."""
        return self._modes

    @property
    def scrolled_back(self) -> int:
        """Rows between the viewport and the live screen."""
        return self._scrolled_back

    def take_replies(self) -> bytes:
        """Replies produced by the writes so far, oldest first."""
        out: list[bytes] = []
        while self._replies:
            out.append(self._replies.popleft())
        return b"".join(out)

    def close(self) -> None:
        """Free the render state and the terminal (waits for a write in progress)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._free()
            self._callbacks.clear()
