"""A DebugSession replaying a status stream recorded from the real daemon (no daemon)."""

from __future__ import annotations

import asyncio
from typing import Any

from conftest import EXAMPLES
from recorded import failure_info, load_result, load_stream

from tui.debug.engine.options import BuildOptions
from tui.debug.engine.session import DebugSession
from tui.debug.model.failure import FailureInfo, SuccessInfo
from tui.debug.model.outcome import Failed, Succeeded


async def _no_daemon() -> Any:
    raise AssertionError("a replayed session never connects")


class ReplaySession(DebugSession):
    """A DebugSession replaying a recording; ``hold`` pauses it after ``split`` messages."""

    def __init__(self, name: str, split: int | None = None) -> None:
        super().__init__(BuildOptions(context=str(EXAMPLES / name.removesuffix("-cached"))),
                         _no_daemon)
        self.name = name
        self.split = split
        self.resume = asyncio.Event()
        self.released = False

    async def _run(self) -> None:
        self._connected = True
        for i, msg in enumerate(load_stream(self.name)):
            if i == self.split:
                await self.resume.wait()
            self._on_status(msg)
            await asyncio.sleep(0)  # let frames run between messages, as on the wire
        if self.name == "success":
            conf = load_result("success").get("image_config", {}).get("config", {})
            self._outcome = Succeeded(SuccessInfo(
                image_id="sha256:" + "ab" * 32, tags=("demo:latest",),
                duration=self.graph.duration(), cached_steps=0,
                total_steps=len(self.graph.steps), workdir=conf.get("WorkingDir", "")))
        else:
            self._outcome = Failed(failure_info(
                self.name, can_open=False, cannot_open="replayed: no daemon behind this build"))

    @property
    def failure(self) -> FailureInfo:
        """The replayed failure (a failed replay only)."""
        assert isinstance(self._outcome, Failed)
        return self._outcome.failure

    async def done(self) -> None:
        self.released = True
        await super().done()
