"""A shell started before anyone looks at it, so that the key that shows it is instant."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from textual.worker import Worker

from tui.debug.engine.facade import OpenError
from tui.debug.engine.link import HeldOutput
from tui.debug.engine.shell import Shell

Opener = Callable[[HeldOutput], Awaitable[Shell]]
Spawn = Callable[[Coroutine[Any, Any, None]], Worker[None]]


class UnseenShell:
    """One shell started unseen for a key (a state), its output held until it is shown.

    ``spawn`` runs a coroutine as a worker of the app.  Starting another key ends the
    previous shell; a shell that could not start is simply not there (the key that would
    have shown it opens one itself and says why it cannot).
    """

    def __init__(self, spawn: Spawn) -> None:
        self._spawn = spawn
        self.key: str | None = None
        self._ready: tuple[Shell, HeldOutput] | None = None
        self._worker: Worker[None] | None = None

    def start(self, key: str, opener: Opener) -> None:
        """Start a shell for ``key`` (ending the one held for another key)."""
        self.drop()
        self.key = key
        self._worker = self._spawn(self._open(key, opener))

    async def _open(self, key: str, opener: Opener) -> None:
        held = HeldOutput()
        try:
            shell = await opener(held)
        except OpenError:
            return
        if self.key != key:  # moved on meanwhile
            await shell.kill()
            return
        self._ready = (shell, held)

    async def take(self, key: str, on_output: Callable[[int, bytes], None]
                   ) -> tuple[Shell, bytes] | None:
        """The shell for ``key`` and its held output (None when there is none).

        Waits for the shell if it is starting; from now on its output goes to ``on_output``.
        """
        if self.key != key:
            return None
        worker = self._worker
        if self._ready is None and worker is not None and worker.is_running:
            with contextlib.suppress(Exception):
                await worker.wait()
        ready, self._ready = self._ready, None
        self.key = None
        self._worker = None
        if ready is None or ready[0].finished:
            return None
        shell, held = ready
        return shell, held.hand_over(on_output)

    def drop(self) -> None:
        """End the shell held (or starting) for the current key."""
        ready, self._ready = self._ready, None
        self.key = None
        self._worker = None
        if ready is not None and not ready[0].finished:
            self._spawn(ready[0].kill())
