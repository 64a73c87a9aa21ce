"""Event-loop lag and frame timings, recorded for benchmarks (``BXTUI_FRAME_STATS=FILE``)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from tui import STARTED

TICK = 0.005
LAG_LOG_MAX = 100_000


class FrameStats:
    """Measures how late a 5 ms ticker wakes (loop lag) and how long each frame hook takes."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.max_lag = 0.0
        self.max_lag_at = 0.0
        #: The largest lag while the build ran (before the "finished" mark).
        self.max_build_lag = 0.0
        self.lags_over_16ms = 0
        self.ticks = 0
        #: ``(perf_counter, ms)`` of each lag over 16 ms (the clock is CLOCK_MONOTONIC, the
        #: same in a benchmark driving this process: it can pick the lags of a time window).
        self.lag_log: list[tuple[float, float]] = []
        #: ``(perf_counter, key)`` of each key the app received (same clock).
        self.key_log: list[tuple[float, str]] = []
        self.frames = 0
        self.max_frame = 0.0
        self.frame_total = 0.0
        self._task: asyncio.Task[None] | None = None
        #: Seconds since the process started (tui imported) at named moments.
        self.marks: dict[str, float] = {}

    def mark(self, name: str) -> None:
        """Note when ``name`` happened (first time only)."""
        self.marks.setdefault(name, round(time.perf_counter() - STARTED, 4))

    def start(self) -> None:
        """Start the ticker on the running loop."""
        self._task = asyncio.create_task(self._tick())

    async def _tick(self) -> None:
        clock = time.perf_counter
        while True:
            before = clock()
            await asyncio.sleep(TICK)
            lag = clock() - before - TICK
            self.ticks += 1
            if lag > self.max_lag:
                self.max_lag = lag
                self.max_lag_at = before - STARTED
            if "finished" not in self.marks and lag > self.max_build_lag:
                self.max_build_lag = lag
            if lag > 0.016:
                self.lags_over_16ms += 1
                if len(self.lag_log) < LAG_LOG_MAX:
                    self.lag_log.append((round(before, 4), round(lag * 1000, 2)))

    def key(self, key: str) -> None:
        """Note when the app received ``key``."""
        if len(self.key_log) < LAG_LOG_MAX:
            self.key_log.append((round(time.perf_counter(), 4), key))

    def frame(self, seconds: float) -> None:
        """Record one frame hook's duration."""
        self.frames += 1
        self.frame_total += seconds
        if seconds > self.max_frame:
            self.max_frame = seconds

    def save(self) -> None:
        """Write the figures as JSON."""
        if self._task is not None:
            self._task.cancel()
        self.path.write_text(json.dumps({
            "max_loop_lag_ms": round(self.max_lag * 1000, 2),
            "max_loop_lag_at_s": round(self.max_lag_at, 3),
            "max_loop_lag_building_ms": round(self.max_build_lag * 1000, 2),
            "lags_over_16ms": self.lags_over_16ms,
            "ticks": self.ticks,
            "frames": self.frames,
            "max_frame_ms": round(self.max_frame * 1000, 2),
            "mean_frame_ms": round(self.frame_total / self.frames * 1000, 3) if self.frames else 0,
            "marks_s": self.marks,
            "lag_log": self.lag_log,
            "key_log": self.key_log,
        }))
