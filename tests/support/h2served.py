"""The project's HTTP/2 gRPC server (GrpcConnection) on a private unix socket, for tests."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile

import grpc

from tui.buildkit.session.h2server import GrpcConnection
from tui.buildkit.session.methods import RpcMethod
from tui.buildkit.session.pipe import StreamPipe

#: Channel options of the grpcio client: messages up to 16 MiB both ways.
OPTIONS = [
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    ("grpc.max_send_message_length", 16 * 1024 * 1024),
]


class Served:
    """A unix socket whose connections are each served by a GrpcConnection."""

    def __init__(self, methods: dict[str, RpcMethod]) -> None:
        self.methods = methods
        self.dir = tempfile.mkdtemp(prefix="h2srv-", dir="/tmp")
        self.path = os.path.join(self.dir, "s.sock")
        self.conns: list[GrpcConnection] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Served:
        async def on_conn(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            conn = GrpcConnection(self.methods, StreamPipe(r, w))
            self.conns.append(conn)
            task = asyncio.current_task()
            assert task is not None
            self.tasks.append(task)
            await conn.run()

        self.server = await asyncio.start_unix_server(on_conn, self.path)
        return self

    def channel(self) -> grpc.aio.Channel:
        return grpc.aio.insecure_channel(f"unix:{self.path}", OPTIONS)

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for conn in self.conns:
            conn.close()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        shutil.rmtree(self.dir, ignore_errors=True)
