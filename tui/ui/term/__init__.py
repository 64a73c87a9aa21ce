"""Terminal emulation for the terminal pane: the emulator factory and its feeding thread.

Nothing here imports pyghostty until ``create_emulator`` is called.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
from collections.abc import Callable

from tui.ui.term.base import Cursor, Emulator, Modes

__all__ = ["Cursor", "Emulator", "Feeder", "Modes", "create_emulator", "warm_up"]

SLICE_BYTES = 64 * 1024
"""Largest single write: between two writes a waiting capture gets the terminal."""
BATCH_BYTES = 1 << 20
"""Queued chunks joined into one batch up to this size."""


def create_emulator(cols: int, rows: int, *, fg: tuple[int, int, int] | None = None,
                    bg: tuple[int, int, int] | None = None) -> Emulator:
    """A new emulator of ``cols`` x ``rows`` (libghostty-vt, imported now)."""
    from tui.ui.term.ghostty import GhosttyEmulator

    return GhosttyEmulator(cols, rows, fg=fg, bg=bg)


def warm_up() -> None:
    """Load the emulator library and make (then drop) one emulator.

    The first emulator costs most of a second (cffi parses libghostty's declarations); call
    this in a thread while the user reads the failure, so ``f`` does not pay for it.
    """
    create_emulator(80, 24).close()


def _batch_scheduling() -> None:
    """Mark this thread as batch work (Linux: per thread): parsing is throughput work.

    SCHED_BATCH keeps the thread's fair share of the CPU but lets it wait, rather than
    preempt, when the event loop wakes up. It is not niced: on a busy machine a niced parser
    got a few percent of a core, its backlog filled, the flow control held the process's
    output, and a 100 MB flood ran at a third of the rate (``bench/bench_flood.py``).
    """
    if sys.platform == "linux":
        with contextlib.suppress(OSError):
            os.sched_setscheduler(threading.get_native_id(), os.SCHED_BATCH, os.sched_param(0))


class Feeder:
    """Writes queued output into an emulator on a daemon thread, which owns ``feed``.

    ``put`` never blocks. After each write ``wake(feeder)`` is called on the feeding thread,
    at most once until ``woken`` is called (it must be thread-safe, e.g.
    ``call_soon_threadsafe``), and once more if the thread dies (``error``). ``stop`` discards
    what is still queued; the thread then closes the emulator.
    """

    def __init__(self, emulator: Emulator, wake: Callable[[Feeder], None]) -> None:
        self.emulator = emulator
        self.received = 0
        """Bytes handed to ``put``."""
        self.parsed = 0
        """Bytes the emulator has consumed."""
        self.error: Exception | None = None
        """Why the thread stopped early, if it did (the emulator is closed then)."""
        self._wake = wake
        self._wake_pending = False
        self._stopped = False
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="terminal-feeder", daemon=True)
        self._thread.start()

    def put(self, data: bytes) -> None:
        """Queue process output (any thread)."""
        if data and not self._stopped:
            self.received += len(data)
            self._queue.put(data)

    def woken(self) -> None:
        """The wake-up was handled: the next write may wake again."""
        self._wake_pending = False

    def stop(self) -> None:
        """Drop queued output, end the thread and close the emulator (after a write)."""
        self._stopped = True
        self._queue.put(None)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread to end (tests); True if it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _next_batch(self) -> bytes | None:
        first = self._queue.get()
        if first is None:
            return None
        parts, size = [first], len(first)
        while size < BATCH_BYTES:
            try:
                more = self._queue.get_nowait()
            except queue.Empty:
                break
            if more is None:
                self._queue.put(None)
                break
            parts.append(more)
            size += len(more)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def _run(self) -> None:
        _batch_scheduling()
        try:
            while (data := self._next_batch()) is not None:
                for off in range(0, len(data), SLICE_BYTES):
                    if self._stopped:
                        break
                    piece = data[off:off + SLICE_BYTES]
                    self.emulator.feed(piece)
                    self.parsed += len(piece)
                    if not self._wake_pending:
                        self._wake_pending = True
                        self._wake(self)
        except Exception as exc:  # reported through ``error``; the pane shows it
            self.error = exc
            self._wake(self)
        finally:
            self._stopped = True
            self.emulator.close()
