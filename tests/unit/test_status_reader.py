"""The build's status reader: a message our code fails to show does not end the stream."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from tui.buildkit.debuglog import LOG
from tui.buildkit.proto import control_pb2
from tui.debug.engine.build import _read_status


class _Control:
    def __init__(self, msgs: list[control_pb2.StatusResponse]) -> None:
        self.msgs = msgs

    def Status(self, req: control_pb2.StatusRequest) -> AsyncIterator[control_pb2.StatusResponse]:
        async def stream() -> AsyncIterator[control_pb2.StatusResponse]:
            for m in self.msgs:
                yield m
        return stream()


class _Client:
    def __init__(self, msgs: list[control_pb2.StatusResponse]) -> None:
        self.control = _Control(msgs)


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def test_a_failing_callback_is_logged_once_and_the_stream_goes_on() -> None:
    msgs = [control_pb2.StatusResponse(vertexes=[control_pb2.Vertex(digest=f"sha256:{i}")])
            for i in range(3)]
    seen: list[str] = []

    def on_status(resp: control_pb2.StatusResponse) -> None:
        seen.append(resp.vertexes[0].digest)
        if len(seen) < 3:
            raise ValueError("a bug in the graph")

    client: Any = _Client(msgs)
    handler = _Records()
    level = LOG.level
    LOG.addHandler(handler)  # the debug log (-D) is where it goes
    LOG.setLevel(logging.DEBUG)
    try:
        await _read_status(client, "ref1", on_status)
    finally:
        LOG.removeHandler(handler)
        LOG.setLevel(level)
    assert seen == ["sha256:0", "sha256:1", "sha256:2"]
    said = [r for r in handler.records if "could not be shown" in r.getMessage()]
    assert len(said) == 1 and said[0].exc_info is not None
    assert said[0].levelno == logging.DEBUG  # never printed without -D
