"""Drive the real bxtui app in a real PTY and read its screen through a terminal emulator."""

from __future__ import annotations

import os
import re
import select
import time
from collections.abc import Sequence

import ptyprocess
import pyte


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
