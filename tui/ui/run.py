"""Run the app: whatever ends it (a key, a signal, an error), release everything afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import TextIO

from tui.debug.engine.facade import SessionFacade
from tui.ui.app import AutoOpen, BxtuiApp

#: The debug log (``-D``), by name: the app does not import the wire's modules.
LOG = logging.getLogger("bxtui")

#: How long ``done()`` may take after the view closed before bxtui gives up waiting.
DONE_TIMEOUT = 20.0


async def run_app(session: SessionFacade, title: str, out: TextIO | None = None,
                  auto_open: AutoOpen | None = None, *, headless: bool = False,
                  open_step: str | None = None, show_diff: bool = False,
                  watch: bool = False) -> int:
    """Show the app until it is closed, then call ``done()`` and print the summary.

    ``auto_open`` (from ``--invoke``): open a shell by itself once the build has finished;
    ``open_step`` (``--step``): in that step's state; ``show_diff`` (``--diff``): show the
    failed step's changes; ``watch`` (``--watch``): rebuild when the files change.

    SIGINT (``kill -INT``: a Ctrl-C typed in the app is a key), SIGTERM and SIGHUP close the
    view like ``q`` (exit status 128+N); further signals while closing are ignored, so
    ``done()`` always finishes (bounded by ``DONE_TIMEOUT``).  The terminal is restored
    before anything is printed.
    """
    out = out or sys.stderr
    app = BxtuiApp(session, title=title, auto_open=auto_open, open_step=open_step,
                   show_diff=show_diff, watch=watch)
    loop = asyncio.get_running_loop()
    got: list[int] = []

    closed = False

    def stop(signum: int) -> None:
        got.append(signum)
        name = signal.Signals(signum).name
        if not closed:
            LOG.debug("signal %s: closing the view", name)
            app.exit(128 + signum)
        else:  # a further signal changes nothing: done() is already on its way
            LOG.debug("signal %s while closing: the release goes on", name)

    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    # asyncio resets a removed handler to the default: put back what was there instead (under
    # the command line's own handler, a no-op: a signal after done() changes nothing)
    previous = {sig: signal.getsignal(sig) for sig in sigs}
    for sig in sigs:
        loop.add_signal_handler(sig, stop, sig)
    try:
        await app.run_async(headless=headless)
    finally:
        closed = True
        try:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(DONE_TIMEOUT):
                    await session.done()
        finally:
            for sig in sigs:
                loop.remove_signal_handler(sig)
                if previous[sig] is not None:
                    signal.signal(sig, previous[sig])
    with contextlib.suppress(OSError):
        if app.crash is not None:
            out.write(f"ERROR: unexpected error in the app: {type(app.crash).__name__}: "
                      f"{app.crash} (BXTUI_DEBUG=1 shows details)\n")
        out.write(session.summary())
        out.flush()
    if got:
        return 128 + got[0]
    if app.crash is not None:
        return 1
    return session.exit_status
