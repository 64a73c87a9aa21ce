"""``docker buildx build --progress=plain`` output, produced from ``Control.Status``.

Reimplements the behaviour of buildkit's ``util/progress/progressui`` plain mode as vendored
by buildx 0.13 (buildkit v0.13.0: ``display.go`` for the trace and ``printer.go`` for the
``textMux``), plus buildx's end-of-build warning summary (``commands/build.go``
``printWarnings``, in ``tui.debug.headless.warnings_summary``); the error snippet is in
``tui.debug.model.snippet``.  The work is split as progressui splits it:

* ``plain_trace``: messages merged into per-step state (``trace.update``);
* ``plain_mux``: which step prints next and the ``#N`` headers (``textMux.print``);
* ``plain_vertex``: a step's state and the lines it prints (``printVtx``'s body);
* this module: the pacing and the output stream (``plainDisplay``, ``Display.UpdateFrom``).

The rules that shape the text:

* a step gets its number ``#N`` when it is first *printed*, not when it starts;
* output is paced like buildx: a message triggers printing at most every 100 ms (token
  bucket of one) and an idle stream is refreshed every 150 ms; pending updates accumulate in
  between, and completed steps of a batch are printed ordered by completion time;
* one step is "current": a step started while another one prints is held back (``#N ...``
  marks a switch) until the current one ends or the time-based fair share lets it through;
* log lines get the seconds since the step's latest start (3 decimals below 10 s, 2 below
  100 s, then 1); partial lines are continued in place;
* ``transferring ...`` statuses are throttled per status id (5 % or 5 s) unless completed;
* ``#N DONE`` shows the sum of the step's merged run intervals;
* at the end, each failed step's last 10 printed log lines are repeated between ``------``.
"""

from __future__ import annotations

import asyncio
import codecs
import os
import time
from collections.abc import AsyncIterable, Callable
from typing import TYPE_CHECKING, TextIO

from tui.debug.headless.plain_mux import TextMux
from tui.debug.headless.plain_trace import Trace
from tui.debug.headless.plain_vertex import LOGS_BUFFER_SIZE
from tui.debug.headless.warnings_summary import render_warnings

if TYPE_CHECKING:
    from tui.buildkit.proto import control_pb2

__all__ = ["LOGS_BUFFER_SIZE", "PlainPrinter"]

_DISPLAY_INTERVAL = 0.1  # rate limiter of plainDisplay.update
_TICK_INTERVAL = 0.15  # refresh ticker of Display.UpdateFrom


class PlainPrinter:
    """Streams ``--progress=plain`` text for a build to ``out``.

    Call ``feed`` for every ``StatusResponse`` (or let ``consume`` drive a stream), then
    ``finish`` once the stream has ended. ``clock`` (monotonic seconds) and the pacing
    intervals are injectable so tests can replay recorded streams deterministically;
    ``rate_limit=0`` prints on every message.
    """

    def __init__(
        self,
        out: TextIO,
        *,
        desc: str | None = None,
        clock: Callable[[], float] = time.monotonic,
        rate_limit: float = _DISPLAY_INTERVAL,
        tick: float = _TICK_INTERVAL,
        truncate_names: bool | None = None,
        color: bool = True,
        debug: bool = False,
    ) -> None:
        self._out = out
        self._clock = clock
        self._rate = rate_limit
        self.tick = tick
        if truncate_names is None:
            truncate_names = os.environ.get("PROGRESS_NO_TRUNC") == "0"
        self._color = color
        self._debug = debug
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._buf = bytearray()
        self._trace = Trace()
        self._mux = TextMux(
            self._trace,
            self._buf.extend,
            clock=clock,
            desc=desc or "",
            truncate_names=truncate_names,
        )
        self._last_allowed: float | None = None
        self._finished = False

    # ------------------------------------------------------------------ public
    def feed(self, resp: control_pb2.StatusResponse) -> None:
        """Merge one message and print what buildx would print on receiving it."""
        self._trace.update(resp, self._clock())
        if self._rate > 0:
            now = self._clock()
            if self._last_allowed is not None and now - self._last_allowed < self._rate:
                return
            self._last_allowed = now
        self.refresh()

    def refresh(self) -> None:
        """Print pending updates (buildx does this on a 150 ms ticker while idle)."""
        self._mux.print()
        self._flush()

    def finish(self, *, warnings: bool = True) -> None:
        """Flush pending output, print the failed steps' log block and the warning summary."""
        if self._finished:
            return
        self._finished = True
        self._mux.print()
        self._mux.print_error_logs()
        text = self._decoder.decode(bytes(self._buf), final=True)
        self._buf.clear()
        if warnings:
            text += render_warnings(self._trace.warnings, debug=self._debug, color=self._color)
        self._write_text(text)

    async def consume(self, stream: AsyncIterable[control_pb2.StatusResponse]) -> None:
        """Feed every message of ``stream``, refreshing on the idle ticker; then return.

        Call ``finish`` afterwards (also when the stream raised).
        """
        it = aiter(stream)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.tick
        nxt: asyncio.Task[control_pb2.StatusResponse] | None = None
        try:
            while True:
                if nxt is None:
                    nxt = asyncio.ensure_future(anext(it))
                done, _ = await asyncio.wait({nxt}, timeout=max(0.0, deadline - loop.time()))
                if not done:
                    self.refresh()
                    deadline += self.tick
                    if deadline < loop.time():
                        deadline = loop.time() + self.tick
                    continue
                task, nxt = nxt, None
                try:
                    resp = task.result()
                except StopAsyncIteration:
                    return
                self.feed(resp)
                deadline = loop.time() + self.tick
        finally:
            if nxt is not None and not nxt.done():
                nxt.cancel()

    def step_of(self, digest: str) -> int | None:
        """The ``#N`` printed for a vertex digest (or group id), if it was printed yet."""
        return self._mux.step_of(digest)

    @property
    def warnings(self) -> list[bytes]:
        """Short texts of all warnings received, in order."""
        return [w.short for w in self._trace.warnings]

    # ------------------------------------------------------------------ output
    def _flush(self) -> None:
        if not self._buf:
            return
        text = self._decoder.decode(bytes(self._buf))
        self._buf.clear()
        self._write_text(text)

    def _write_text(self, text: str) -> None:
        if not text:
            return
        self._out.write(text)
        self._out.flush()
