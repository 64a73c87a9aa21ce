"""Event-loop lag and frame timings, recorded for benchmarks (``BXTUI_FRAME_STATS=FILE``)."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from pathlib import Path

from tui import STARTED

TICK = 0.005
#: The phase a lag is counted in, from the marks set when the late tick woke: starting (from
#: the mount until the first paint is done, "painted"), building (until "finished"), after
#: the build (until "closing", the view being closed), closing.
PHASES = (("closing", "closing"), ("finished", "after"), ("painted", "building"),
          ("", "starting"))
#: The loop thread's scheduler figures (Linux): nanoseconds on a CPU, waiting for one.
SCHEDSTAT = Path("/proc/thread-self/schedstat")


def _runq_wait() -> float | None:
    """Seconds the calling thread has waited for a CPU so far (None where unknown)."""
    try:
        return int(SCHEDSTAT.read_text().split()[1]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class Lag:
    """One late tick: how late, when it began, and where the time went (when known)."""

    seconds: float = 0.0
    #: Seconds since the process started, when the tick went to sleep.
    at: float = 0.0
    #: During the late tick (its 5 ms and the lag): the loop thread's own CPU time, and its
    #: time runnable but without a CPU (the machine's other work); the rest is waiting (for
    #: the GIL, or in a blocking call).
    cpu: float = 0.0
    runq: float | None = None


#: At most this many lags and keys are logged (each with its time).
LAG_LOG_MAX = 100_000


class FrameStats:
    """Measures how late a 5 ms ticker wakes (loop lag) and how long each frame hook takes."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        #: The largest lag per phase ("starting", "building", "after", "closing").
        self.worst = {phase: Lag() for _, phase in PHASES}
        #: The most CPU time the loop thread spent within one tick, per phase: the lag an idle
        #: machine would have seen (the worst lag's own CPU may be smaller on a busy one).
        self.busiest = {phase: Lag() for _, phase in PHASES}
        self.lags_over_16ms = 0
        self.ticks = 0
        #: ``(perf_counter, ms)`` of each lag over 16 ms (the clock is CLOCK_MONOTONIC, the
        #: same in a benchmark driving this process: it can pick the lags of a time window).
        self.lag_log: list[tuple[float, float]] = []
        #: ``(perf_counter, key)`` of each key the app received (same clock).
        self.key_log: list[tuple[float, str]] = []
        self.frames = 0
        self.max_frame = 0.0
        #: The CPU time of the longest frame hook (the rest of it was waiting for a CPU).
        self.max_frame_cpu = 0.0
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

    def phase(self) -> str:
        """The phase the app is in, from the marks set so far."""
        return next(phase for mark, phase in PHASES if not mark or mark in self.marks)

    async def _tick(self) -> None:
        clock, cpu_clock = time.perf_counter, time.thread_time
        wait = _runq_wait()
        while True:
            before, cpu_before, wait_before = clock(), cpu_clock(), wait
            await asyncio.sleep(TICK)
            lag = clock() - before - TICK
            cpu, wait = cpu_clock() - cpu_before, _runq_wait()
            self.ticks += 1
            if lag > 0.016:
                self.lags_over_16ms += 1
                if len(self.lag_log) < LAG_LOG_MAX:
                    self.lag_log.append((round(before, 4), round(lag * 1000, 2)))
            phase = self.phase()
            if lag > self.worst[phase].seconds or cpu > self.busiest[phase].cpu:
                runq = None if wait is None or wait_before is None else wait - wait_before
                late = Lag(lag, before - STARTED, cpu, runq)
                if lag > self.worst[phase].seconds:
                    self.worst[phase] = late
                if cpu > self.busiest[phase].cpu:
                    self.busiest[phase] = late

    def key(self, key: str) -> None:
        """Note when the app received ``key``."""
        if len(self.key_log) < LAG_LOG_MAX:
            self.key_log.append((round(time.perf_counter(), 4), key))

    def frame(self, seconds: float, cpu: float) -> None:
        """Record one frame hook's duration and CPU time."""
        self.frames += 1
        self.frame_total += seconds
        if seconds > self.max_frame:
            self.max_frame = seconds
            self.max_frame_cpu = cpu

    def figures(self) -> dict[str, object]:
        """Everything measured, as written by ``save``."""
        worst = max(self.worst.values(), key=lambda lag: lag.seconds)
        out: dict[str, object] = {
            "max_loop_lag_ms": round(worst.seconds * 1000, 2),
            "max_loop_lag_at_s": round(worst.at, 3),
        }
        for phase, lag in self.worst.items():
            out[f"max_loop_lag_{phase}_ms"] = round(lag.seconds * 1000, 2)
            out[f"max_loop_lag_{phase}_at_s"] = round(lag.at, 3)
            out[f"max_loop_lag_{phase}_cpu_ms"] = round(lag.cpu * 1000, 2)
            if lag.runq is not None:
                out[f"max_loop_lag_{phase}_runq_ms"] = round(lag.runq * 1000, 2)
            busiest = self.busiest[phase]
            out[f"max_tick_cpu_{phase}_ms"] = round(busiest.cpu * 1000, 2)
            out[f"max_tick_cpu_{phase}_at_s"] = round(busiest.at, 3)
        return out | {
            "lags_over_16ms": self.lags_over_16ms,
            "ticks": self.ticks,
            "frames": self.frames,
            "max_frame_ms": round(self.max_frame * 1000, 2),
            "max_frame_cpu_ms": round(self.max_frame_cpu * 1000, 2),
            "mean_frame_ms": round(self.frame_total / self.frames * 1000, 3) if self.frames else 0,
            "marks_s": self.marks,
            "lag_log": self.lag_log,
            "key_log": self.key_log,
        }

    def save(self) -> None:
        """Stop the ticker and write the figures as JSON."""
        if self._task is not None:
            self._task.cancel()
        self.path.write_text(json.dumps(self.figures()))
