"""Drive the real bxtui binary in a real PTY (ptyprocess) and read what it prints."""

from __future__ import annotations

import os
import re
import select
import time
from collections.abc import Sequence

import ptyprocess

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


class PtyRun:
    """A process in a PTY with a transcript; ``expect`` waits (bounded) for text."""

    def __init__(self, argv: Sequence[str], env: dict[str, str], rows: int = 30,
                 cols: int = 100) -> None:
        self.proc = ptyprocess.PtyProcess.spawn(list(argv), env=env, dimensions=(rows, cols))
        self.raw = b""

    @property
    def text(self) -> str:
        """Transcript with escape sequences and carriage returns removed."""
        return ANSI.sub("", self.raw.decode("utf-8", "replace"))

    def _read_some(self, timeout: float) -> bool:
        r, _, _ = select.select([self.proc.fd], [], [], timeout)
        if not r:
            return True
        try:
            data = os.read(self.proc.fd, 65536)
        except OSError:
            return False
        if not data:
            return False
        self.raw += data
        return True

    def expect(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """Wait until ``pattern`` (a regex) appears in the transcript."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.text)
            if m:
                return m
            left = deadline - time.monotonic()
            if left <= 0 or (not self._read_some(min(left, 0.5)) and not self.proc.isalive()):
                m = rx.search(self.text)
                if m:
                    return m
                raise AssertionError(f"{pattern!r} not seen; transcript:\n{self.text[-3000:]}")

    def send(self, text: str) -> None:
        self.proc.write(text.encode())

    def wait_exit(self, timeout: float = 60) -> int:
        """Drain output until the process exits; its exit status (128+N for a signal)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._read_some(0.5):
                break
        self.proc.wait()
        if self.proc.signalstatus is not None:
            return 128 + int(self.proc.signalstatus)
        return int(self.proc.exitstatus or 0)

    def close(self) -> None:
        if self.proc.isalive():
            self.proc.terminate(force=True)
