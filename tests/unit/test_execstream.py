"""ExecStream (ExecProcess over h2) against the project's own HTTP/2 gRPC server.

No daemon needed: a fake LLBBridge.ExecProcess runs on a private unix socket; the daemon side
is proven by the process tests (tests/live/test_debug_live.py, tests/live/test_transports.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
import pytest
from h2served import Served

from tui.buildkit.errors import BuildError
from tui.buildkit.execstream import EXEC_PATH, WINDOW, ExecStream
from tui.buildkit.proto import gateway_pb2, ops_pb2
from tui.buildkit.session.methods import bidi, method_table
from tui.buildkit.session.pipe import StreamPipe
from tui.buildkit.session.rpc import abort

pytestmark = pytest.mark.timeout(120)

Msg = gateway_pb2.ExecMessage


def _file(data: bytes, fd: int = 1) -> Msg:
    return Msg(File=gateway_pb2.FdMessage(Fd=fd, Data=data))


class FakeExec:
    """ExecProcess as the daemon plays it: Started, output, Exit and Done; per Init's args."""

    def __init__(self) -> None:
        self.metadata: dict[str, str] = {}
        self.sent = 0
        self.cancelled = asyncio.Event()
        self.hanging = asyncio.Event()

    def methods(self) -> dict[str, Any]:
        return method_table([(EXEC_PATH, bidi(self.exec, Msg.FromString))])

    async def exec(self, requests: AsyncIterator[Msg], context: Any) -> None:
        self.metadata = {k: v for k, v in context.invocation_metadata()
                         if isinstance(v, str)}
        init = await anext(aiter(requests))
        args = list(init.Init.Meta.args)
        await context.write(Msg(Started=gateway_pb2.StartedMessage()))
        if args[0] == "flood":
            count, size = int(args[1]), int(args[2])
            for i in range(count):
                await context.write(_file(bytes([i % 251]) * size))
                self.sent += size
        elif args[0] == "echo":
            async for msg in requests:
                if msg.File.EOF:
                    break
                await context.write(_file(msg.File.Data))
        elif args[0] == "fail":
            await abort(context, grpc.StatusCode.INTERNAL, "boom ü 100%")
        elif args[0] == "hang":
            self.hanging.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        await context.write(Msg(Exit=gateway_pb2.ExitMessage(Code=7)))
        await context.write(Msg(Done=gateway_pb2.DoneMessage()))
        async for _ in requests:  # until the client half-closes
            pass


async def _open(served: Served, *args: str) -> ExecStream:
    reader, writer = await asyncio.open_unix_connection(served.path)
    stream = ExecStream(StreamPipe(reader, writer), (("buildkit-controlapi-buildid", "b1"),))
    meta = ops_pb2.Meta(args=list(args))
    init = gateway_pb2.InitMessage(ContainerID="c", Meta=meta)
    await stream.write(Msg(ProcessID="p1", Init=init))
    return stream


async def _kinds(stream: ExecStream) -> list[str]:
    out = []
    while (msg := await stream.read()) is not None:
        out.append(msg.WhichOneof("Input") or "")
        if out[-1] == "Done":
            await stream.done_writing()
    return out


async def test_output_arrives_in_order_with_the_build_header() -> None:
    fake = FakeExec()
    async with Served(fake.methods()) as served:
        stream = await _open(served, "flood", "3000", "4095")
        data = bytearray()
        kinds = []
        while (msg := await stream.read()) is not None:
            kinds.append(msg.WhichOneof("Input"))
            data += msg.File.Data
            if kinds[-1] == "Done":
                await stream.done_writing()
    assert kinds[0] == "Started" and kinds[-2:] == ["Exit", "Done"]
    assert len(data) == 3000 * 4095
    assert all(data[i * 4095] == i % 251 for i in range(3000))
    assert fake.metadata["buildkit-controlapi-buildid"] == "b1"


async def test_a_slow_reader_holds_the_sender_within_the_window() -> None:
    fake = FakeExec()
    async with Served(fake.methods()) as served:
        stream = await _open(served, "flood", "1000", "16000")  # 16 MB, 16 windows
        got = 0
        while (msg := await stream.read()) is not None:
            got += len(msg.File.Data)
            # received but not read yet: never beyond the window the reader keeps open
            assert stream.backlog <= WINDOW + 64 * 1024
            await asyncio.sleep(0)  # the reader yields, as a drawing pane does
            if msg.WhichOneof("Input") == "Done":
                await stream.done_writing()
    assert got == 16_000_000


async def test_stdin_round_trip_in_messages_larger_than_a_frame() -> None:
    fake = FakeExec()
    async with Served(fake.methods()) as served:
        stream = await _open(served, "echo")
        assert (await stream.read()).WhichOneof("Input") == "Started"  # type: ignore[union-attr]
        sent = bytes(range(256)) * 400  # 100 KiB in 32 KiB messages
        for off in range(0, len(sent), 32 * 1024):
            await stream.write(_file(sent[off:off + 32 * 1024], fd=0))
        await stream.write(Msg(File=gateway_pb2.FdMessage(Fd=0, EOF=True)))
        echoed = bytearray()
        while (msg := await stream.read()) is not None:
            echoed += msg.File.Data
            if msg.WhichOneof("Input") == "Done":
                await stream.done_writing()
    assert bytes(echoed) == sent


async def test_a_failed_call_raises_its_status() -> None:
    async with Served(FakeExec().methods()) as served:
        stream = await _open(served, "fail")
        with pytest.raises(BuildError) as err:
            await _kinds(stream)
    assert err.value.message == "boom ü 100%"
    assert err.value.code == grpc.StatusCode.INTERNAL


async def test_a_lost_connection_is_an_error_and_cancel_is_an_end() -> None:
    fake = FakeExec()
    async with Served(fake.methods()) as served:
        stream = await _open(served, "hang")
        await fake.hanging.wait()
        for conn in served.conns:
            conn.close()
        with pytest.raises(BuildError, match="connection lost"):
            await _kinds(stream)
        # the write side knows it too
        with pytest.raises(BuildError):
            await stream.write(_file(b"x", fd=0))

        fake = FakeExec()
        served.methods.update(fake.methods())
        stream = await _open(served, "hang")
        await fake.hanging.wait()
        stream.cancel()
        assert await stream.read() is None
        await fake.cancelled.wait()  # the daemon's side saw the call cancelled
