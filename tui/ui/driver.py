"""Textual's Linux driver with an input thread that stops as soon as the view closes.

Textual's own input thread waits on the terminal 0.1 s at a time and, once asked to stop,
waits once more on nothing: closing the view blocked the event loop for 100-200 ms (the
``disable_input`` join). This thread also watches a pipe that ``disable_input`` writes to,
and reads what input is left without waiting. Textual is pinned (pyproject.toml): the
parser and the driver hooks used here are its internals at that version.
"""

from __future__ import annotations

import contextlib
import os
import selectors
from codecs import getincrementaldecoder
from typing import Any

from textual._parser import ParseError
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

__all__ = ["WakeableLinuxDriver"]

#: How long one wait on the terminal lasts (the parser's escape-sequence timeout needs ticks).
TICK_SECONDS = 0.1


class WakeableLinuxDriver(LinuxDriver):
    """A :class:`LinuxDriver` whose input thread a pipe wakes when input is disabled."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wake_read, self._wake_write = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def disable_input(self) -> None:
        """Stop the input thread without making it finish its wait first."""
        with contextlib.suppress(OSError):
            os.write(self._wake_write, b"\0")
        super().disable_input()

    def close(self) -> None:
        """Close the wake-up pipe too."""
        super().close()
        for fd in (self._wake_read, self._wake_write):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _drain_wake(self) -> None:
        with contextlib.suppress(OSError):
            while os.read(self._wake_read, 4096):
                pass

    def run_input_thread(self) -> None:
        """Feed the terminal's input to Textual's parser until ``disable_input``."""
        self._drain_wake()  # a resume after a suspend starts a new thread
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode
        tty = self.fileno
        selector = selectors.SelectSelector()
        selector.register(tty, selectors.EVENT_READ)
        selector.register(self._wake_read, selectors.EVENT_READ)

        def read_terminal(final: bool) -> None:
            text = decode(os.read(tty, 4096), final=final)
            for event in parser.feed(text):
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                for key, _ in selector.select(TICK_SECONDS):
                    if key.fd == tty:
                        read_terminal(final=False)
                for event in parser.tick():
                    self.process_message(event)
            # what was typed before the view closed, without waiting for more
            selector.unregister(self._wake_read)
            if selector.select(0):
                read_terminal(final=True)
        finally:
            selector.close()
            with contextlib.suppress(EOFError, ParseError):
                for _ in parser.feed(""):
                    pass
