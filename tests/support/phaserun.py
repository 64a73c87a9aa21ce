"""The real bxtui in a PTY under a small wrapper, for the signal-phase tests.

Run as a script, this module is the wrapper: it starts ``ARGV`` as its child, prints
``BXTUI_PID=N``, waits, prints ``BXTUI_RC=N`` (128+N for a signal death) and ``stty -a``.
A Ctrl-C typed into the PTY reaches the whole foreground group: the wrapper ignores it (a
handler, so the child starts with the default disposition) and survives to report.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from ptyscreen import PtyScreen

ANSI = re.compile(r"\x1b\[[0-9;?<>=]*[A-Za-z~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()=>].?|\r")


def _proc_stat(pid: int) -> tuple[int, int, str] | None:
    """(ppid, session id, start time) of ``pid``, None when it is gone or a zombie."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[1]), int(fields[3]), fields[19]


def _all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


class PhaseRun(PtyScreen):
    """``bxtui ARGS`` in a PTY (through the wrapper); waits on output, screen and debug log."""

    def __init__(self, args: Sequence[str], env: dict[str, str], debug_log: Path | None,
                 rows: int = 40, cols: int = 140) -> None:
        self.debug_log = debug_log  # None: the log goes to the PTY (-D, headless)
        argv = [sys.executable, __file__, *args]
        super().__init__(argv, env, rows=rows, cols=cols)
        self._pid: int | None = None

    @property
    def transcript(self) -> str:
        """Everything written to the PTY, escape sequences removed."""
        return ANSI.sub("", bytes(self.raw).decode("utf-8", "replace"))

    def expect(self, pattern: str, timeout: float = 60) -> re.Match[str]:
        """Wait until ``pattern`` (a regex) is in the transcript."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.transcript)
            if m:
                return m
            left = deadline - time.monotonic()
            if left <= 0 or not self.pump(min(left, 0.2)):
                m = rx.search(self.transcript)
                if m:
                    return m
                raise AssertionError(f"{pattern!r} not seen; transcript:\n"
                                     f"{self.transcript[-3000:]}\nscreen:\n{self.text()}")

    def log_text(self) -> str:
        """The debug log so far."""
        if self.debug_log is None:
            return self.transcript
        try:
            return self.debug_log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, pattern: str, timeout: float = 30, poll: float = 0.02) -> re.Match[str]:
        """Wait until ``pattern`` is in the debug log (read every ``poll`` s), draining the PTY."""
        if self.debug_log is None:
            return self.expect(pattern, timeout)
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            m = rx.search(self.log_text())
            if m:
                return m
            if time.monotonic() >= deadline:
                raise AssertionError(f"{pattern!r} not in the debug log:\n{self.log_text()}")
            self.pump(poll)

    @property
    def pid(self) -> int:
        """bxtui's pid (the wrapper's child)."""
        if self._pid is None:
            self._pid = int(self.expect(r"BXTUI_PID=(\d+)", timeout=10).group(1))
        return self._pid

    def kill(self, sig: int) -> None:
        """Send ``sig`` to bxtui."""
        os.kill(self.pid, sig)

    def descendants(self) -> dict[int, str]:
        """bxtui's live descendant processes: pid to start time (to tell a reused pid)."""
        stats = {pid: st for pid in _all_pids() if (st := _proc_stat(pid)) is not None}
        found: dict[int, str] = {}
        parents = {self.pid}
        while True:
            new = {pid for pid, st in stats.items() if st[0] in parents and pid not in found}
            if not new:
                return found
            for pid in new:
                found[pid] = stats[pid][2]
            parents = new

    def result(self, timeout: float = 30) -> int:
        """bxtui's exit status, as the wrapper reported it (after it printed ``stty -a``)."""
        m = self.expect(r"BXTUI_RC=(\d+)", timeout=timeout)
        self.expect(r"\bisig\b", timeout=10)
        self.wait_exit(timeout=10)
        return int(m.group(1))

    def tty_settings(self) -> str:
        """The ``stty -a`` the wrapper printed after bxtui exited."""
        return self.transcript.rsplit("BXTUI_RC=", 1)[-1]

    def session_leftovers(self) -> list[int]:
        """Processes still in the PTY's session (everything bxtui started stays in it)."""
        sid = self.proc.pid
        return [pid for pid in _all_pids()
                if pid != sid and (st := _proc_stat(pid)) is not None and st[1] == sid]


def still_alive(pids: dict[int, str]) -> list[int]:
    """Which of ``pids`` (pid to start time) still run."""
    return [pid for pid, start in pids.items()
            if (st := _proc_stat(pid)) is not None and st[2] == start]


def _wrap(argv: list[str]) -> int:
    signal.signal(signal.SIGINT, lambda *_: None)
    child = subprocess.Popen(argv)
    print(f"BXTUI_PID={child.pid}", flush=True)
    rc = child.wait()
    print(f"BXTUI_RC={128 - rc if rc < 0 else rc}", flush=True)
    subprocess.run(["stty", "-a"], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(_wrap(sys.argv[1:]))
