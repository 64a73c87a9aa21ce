"""A connection to a BuildKit daemon: gRPC channel, Control stub, session attachment."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import grpc

from tui.buildkit.address import Endpoint
from tui.buildkit.gateway import Gateway
from tui.buildkit.proto import control_pb2, control_pb2_grpc
from tui.buildkit.relay import (
    DaemonUnreachable,
    PrivateDir,
    Splice,
    UpgradeRelay,
    connect,
    http_upgrade,
    ping_docker,
)
from tui.buildkit.session.server import SessionServer

MAX_MESSAGE = 16 * 1024 * 1024
CHANNEL_OPTIONS: list[tuple[str, str | int]] = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.max_metadata_size", MAX_MESSAGE),
    ("grpc.absolute_max_metadata_size", MAX_MESSAGE),
    ("grpc.enable_http_proxy", 0),
    ("grpc.enable_retries", 0),
]
REACH_TIMEOUT = 2.0


class SessionLink:
    """An attached session: the daemon's connection to our session server."""

    def __init__(self, splice: Splice | None = None, task: asyncio.Task[None] | None = None):
        self._splice = splice
        self._task = task

    async def close(self) -> None:
        """Detach: the daemon sees the session end."""
        if self._splice is not None:
            self._splice.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, grpc.RpcError):
                await self._task


class BuildkitClient:
    """Talks to one builder; create with :meth:`open`, release with :meth:`close`."""

    def __init__(self, endpoint: Endpoint, channel: grpc.aio.Channel, private: PrivateDir,
                 relay: UpgradeRelay | None) -> None:
        self.endpoint = endpoint
        self.channel = channel
        self.private = private
        self._relay = relay
        self.control = control_pb2_grpc.ControlStub(channel)

    @classmethod
    async def open(cls, endpoint: Endpoint) -> BuildkitClient:
        """Connect, failing within ~2 s with DaemonUnreachable naming the address."""
        private = PrivateDir()
        relay: UpgradeRelay | None = None
        try:
            if endpoint.kind == "docker":
                await asyncio.to_thread(ping_docker, endpoint, REACH_TIMEOUT)
                relay = UpgradeRelay(endpoint, "/grpc", private.socket_path("grpc.sock"))
                channel = grpc.aio.insecure_channel(f"unix:{relay.sock_path}", CHANNEL_OPTIONS)
            elif endpoint.scheme == "unix":
                sock = await asyncio.to_thread(connect, endpoint, REACH_TIMEOUT)
                sock.close()
                channel = grpc.aio.insecure_channel(f"unix:{endpoint.location}", CHANNEL_OPTIONS)
            else:
                channel = cls._tcp_channel(endpoint)
            client = cls(endpoint, channel, private, relay)
            if endpoint.kind != "docker":
                await client._check_reachable()
            return client
        except BaseException:
            if relay is not None:
                relay.close()
            private.cleanup()
            raise

    @staticmethod
    def _tcp_channel(endpoint: Endpoint) -> grpc.aio.Channel:
        if endpoint.tls is None:
            return grpc.aio.insecure_channel(endpoint.location, CHANNEL_OPTIONS)
        ca, key, cert = endpoint.tls.read()
        creds = grpc.ssl_channel_credentials(ca, key, cert)
        options = list(CHANNEL_OPTIONS)
        if endpoint.tls.server_name:
            options.append(("grpc.ssl_target_name_override", endpoint.tls.server_name))
        return grpc.aio.secure_channel(endpoint.location, creds, options)

    async def _check_reachable(self) -> None:
        try:
            await self.control.ListWorkers(
                control_pb2.ListWorkersRequest(), timeout=REACH_TIMEOUT
            )
        except grpc.aio.AioRpcError as exc:
            raise DaemonUnreachable(
                f"cannot reach {self.endpoint.describe()}: {exc.details() or exc.code().name}"
            ) from None

    async def active_builds(self) -> list[str]:
        """Refs of the builds the daemon's build history lists as still running."""
        req = control_pb2.BuildHistoryRequest(ActiveOnly=True, EarlyExit=True)
        refs: list[str] = []
        event: control_pb2.BuildHistoryEvent
        async for event in self.control.ListenBuildHistory(req):
            if event.record.Ref and not event.record.HasField("CompletedAt"):
                refs.append(event.record.Ref)
        return refs

    def gateway(self, build_ref: str) -> Gateway:
        """An LLBBridge client bound to the build job ``build_ref``."""
        return Gateway(self.channel, build_ref)

    async def attach_session(self, session: SessionServer) -> SessionLink:
        """Connect the daemon to our session server (Docker ``/session`` or Control.Session)."""
        if self.endpoint.kind == "docker":
            return await asyncio.to_thread(self._attach_docker, session)
        return await self._attach_grpc(session)

    def _attach_docker(self, session: SessionServer) -> SessionLink:
        upstream = connect(self.endpoint)
        try:
            leftover = http_upgrade(upstream, "/session", session.headers())
            local = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            local.connect(session.sock_path)
        except BaseException:
            upstream.close()
            raise
        return SessionLink(splice=Splice(local, upstream, leftover))

    async def _attach_grpc(self, session: SessionServer) -> SessionLink:
        md = [(k.lower(), v) for k, v in session.headers()]
        call = self.control.Session(metadata=md)
        reader, writer = await asyncio.open_unix_connection(session.sock_path)

        async def upstream() -> None:
            while data := await reader.read(256 * 1024):
                await call.write(control_pb2.BytesMessage(data=data))
            await call.done_writing()

        async def downstream() -> None:
            msg: control_pb2.BytesMessage
            async for msg in _iter_call(call):
                writer.write(msg.data)
                await writer.drain()

        async def pump() -> None:
            try:
                await asyncio.gather(upstream(), downstream())
            finally:
                call.cancel()
                writer.close()

        return SessionLink(task=asyncio.create_task(pump()))

    async def close(self) -> None:
        """Close the channel, the relay and the private directory."""
        try:
            await self.channel.close(grace=None)
        finally:
            if self._relay is not None:
                self._relay.close()
            self.private.cleanup()


async def _iter_call(call: grpc.aio.StreamStreamCall) -> AsyncIterator[control_pb2.BytesMessage]:
    while True:
        msg = await call.read()
        if msg is grpc.aio.EOF:
            return
        yield msg
