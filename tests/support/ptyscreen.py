"""Drive the real bxtui app in a real PTY and read its screen through a terminal emulator."""

from __future__ import annotations

import os
import re
import select
import time
from collections.abc import Sequence

import ptyprocess
import pyte

UP, DOWN = b"\x1b[A", b"\x1b[B"


class PtyScreen:
    """A process in a PTY whose output feeds a pyte screen; waits are bounded and event-driven."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], rows: int = 40,
                 cols: int = 140, cwd: str | None = None) -> None:
        self.rows, self.cols = rows, cols
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.ByteStream(self.screen)
        self.raw = bytearray()
        self.proc = ptyprocess.PtyProcess.spawn(list(argv), env=env, dimensions=(rows, cols),
                                                cwd=cwd)

    def text(self) -> str:
        """The screen as text, one line per row."""
        return "\n".join(self.screen.display)

    def pump(self, timeout: float) -> bool:
        """Read what is there (waiting at most ``timeout``); False once the PTY is closed."""
        r, _, _ = select.select([self.proc.fd], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(self.proc.fd, 1 << 16)
        except OSError:
            return False
        if not data:
            return False
        self.raw += data
        self.stream.feed(data)
        return True

    def wait_for(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """Wait until ``pattern`` (a regex) is on the screen."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.text())
            if m:
                return m
            left = deadline - time.monotonic()
            if left <= 0 or not self.pump(min(left, 0.2)):
                m = rx.search(self.text())
                if m:
                    return m
                raise AssertionError(f"{pattern!r} not on screen; screen:\n{self.text()}")

    def wait_gone(self, pattern: str, timeout: float = 30) -> None:
        """Wait until ``pattern`` is no longer on the screen."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while rx.search(self.text()):
            left = deadline - time.monotonic()
            if left <= 0 or not self.pump(min(left, 0.2)):
                if rx.search(self.text()):
                    raise AssertionError(f"{pattern!r} still on screen:\n{self.text()}")
                return

    def select_row(self, pattern: str, timeout: float = 30, max_keys: int = 60) -> int:
        """Move the cursor with the arrow keys until the row matching ``pattern`` is selected.

        ``pattern`` (a regex) must match one row of the screen.  The selected row is the one
        drawn unlike the others of its pane (the cursor's background or reverse video); each
        key goes towards the wanted row and waits for the screen to change before the next.
        Returns the row's index on the screen.
        """
        deadline = time.monotonic() + timeout
        for _ in range(max_keys):
            while (found := self._row_of(pattern)) is None:
                self._pump_until(deadline, pattern)
            y, x0, x1 = found
            cursor = self._cursor_row(y, x0, x1)
            if cursor == y:
                return y
            before = self.text(), cursor
            self.send(UP if cursor is not None and cursor > y else DOWN)
            while (self.text(), self._cursor_row(y, x0, x1)) == before:
                self._pump_until(deadline, pattern)
            self._settle()
        raise AssertionError(f"{pattern!r} not selected after {max_keys} keys:\n{self.text()}")

    def _settle(self, quiet: float = 0.05) -> None:
        """Read until nothing more arrives for ``quiet`` seconds: the frame is complete."""
        while select.select([self.proc.fd], [], [], quiet)[0] and self.pump(0):
            pass

    def _pump_until(self, deadline: float, what: str) -> None:
        left = deadline - time.monotonic()
        if left <= 0 or not self.pump(min(left, 0.2)):
            raise AssertionError(f"selecting {what!r}: no change on screen:\n{self.text()}")

    def _row_of(self, pattern: str) -> tuple[int, int, int] | None:
        """(row, first column, end column) of the one row matching ``pattern``."""
        rx = re.compile(pattern)
        hits = [(y, m.start(), m.end()) for y, line in enumerate(self.screen.display)
                if (m := rx.search(line))]
        if len(hits) > 1:
            raise AssertionError(f"{pattern!r} is on {len(hits)} rows:\n{self.text()}")
        return hits[0] if hits else None

    def _cursor_row(self, y: int, x0: int, x1: int) -> int | None:
        """The one row of row ``y``'s pane whose cells ``x0:x1`` are drawn unlike most rows.

        The pane is the run of rows sharing the left border (``│``) nearest left of ``x0``
        (the whole screen without one).
        """
        display = self.screen.display
        border = display[y].rfind("│", 0, x0)
        top, bottom = y, y
        if border >= 0:
            while top > 0 and display[top - 1][border] in "│▌":
                top -= 1
            while bottom < self.rows - 1 and display[bottom + 1][border] in "│▌":
                bottom += 1
        else:
            top, bottom = 0, self.rows - 1
        looks = {r: tuple((c.bg, c.reverse) for c in
                          (self.screen.buffer[r][x] for x in range(x0, x1)))
                 for r in range(top, bottom + 1)}
        usual = max(set(looks.values()), key=list(looks.values()).count)
        odd = [r for r, look in looks.items() if look != usual]
        return odd[0] if len(odd) == 1 else None

    def send(self, data: str | bytes) -> None:
        """Type into the PTY."""
        self.proc.write(data.encode() if isinstance(data, str) else data)

    def resize(self, rows: int, cols: int) -> None:
        """Resize the outer terminal (the app gets SIGWINCH)."""
        self.rows, self.cols = rows, cols
        self.screen.resize(rows, cols)
        self.proc.setwinsize(rows, cols)

    def wait_exit(self, timeout: float = 60) -> int:
        """Drain output until the process exits; its exit status (128+N for a signal)."""
        deadline = time.monotonic() + timeout
        open_pty = True
        while self.proc.isalive():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"still running after {timeout}s; screen:\n{self.text()}")
            if open_pty:
                open_pty = self.pump(min(left, 0.1))
            else:  # the PTY is closed: the process is on its way out
                time.sleep(0.02)
        while open_pty and select.select([self.proc.fd], [], [], 0)[0]:
            open_pty = self.pump(0)
        if self.proc.signalstatus is not None:
            return 128 + int(self.proc.signalstatus)
        return int(self.proc.exitstatus or 0)

    def tail(self) -> str:
        """What was printed after the app left the alternate screen."""
        raw = bytes(self.raw)
        cut = raw.rfind(b"\x1b[?1049l")
        out = raw[cut + 8:] if cut >= 0 else raw
        return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r", "",
                      out.decode("utf-8", "replace"))

    def close(self) -> None:
        """Kill the process if it is still there."""
        if self.proc.isalive():
            self.proc.terminate(force=True)
