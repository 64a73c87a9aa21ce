"""A connection to a BuildKit daemon: gRPC channel, Control stub, session attachment."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import grpc

from tui.buildkit import debuglog
from tui.buildkit.address import Endpoint
from tui.buildkit.aio import cancel_child
from tui.buildkit.dialstdio import StdioRelay
from tui.buildkit.gateway import Gateway
from tui.buildkit.proto import control_pb2, control_pb2_grpc
from tui.buildkit.relay import (
    DaemonUnreachable,
    PrivateDir,
    UpgradeRelay,
    connect,
    open_stream,
    ping_docker,
    upgrade_stream,
)
from tui.buildkit.session.pipe import Pipe, StreamPipe
from tui.buildkit.session.server import SessionServer
from tui.buildkit.session.tunnel import TunnelPipe

log = logging.getLogger(__name__)

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
UPGRADE_TIMEOUT = 10.0
STREAM_LIMIT = 1024 * 1024
"""asyncio stream buffer for a hijacked session connection."""
SEND_BUFFER = 4 * 1024 * 1024
"""SO_SNDBUF asked for on the session connection (the kernel caps it at wmem_max)."""


class SessionLink:
    """An attached session: the daemon's connection to our session server."""

    def __init__(self, task: asyncio.Task[None]) -> None:
        self._task = task

    @property
    def closed(self) -> bool:
        """Whether the connection has ended (detached, or dropped by the daemon)."""
        return self._task.done()

    async def wait_closed(self) -> None:
        """Return once the connection has ended, however it ended."""
        await asyncio.wait({self._task})

    async def close(self) -> None:
        """Detach: the daemon sees the session end."""
        try:
            await cancel_child(self._task)
        except Exception:  # the connection failed on its own: nothing left to detach
            log.debug("session connection ended with an error", exc_info=True)


class BuildkitClient:
    """Talks to one builder; create with :meth:`open`, release with :meth:`close`."""

    def __init__(self, endpoint: Endpoint, channel: grpc.aio.Channel, private: PrivateDir,
                 relay: UpgradeRelay | StdioRelay | None) -> None:
        self.endpoint = endpoint
        self._streams = endpoint
        """Where :meth:`connect_h2` connects (a dial-stdio builder: its local relay socket)."""
        if isinstance(relay, StdioRelay):
            self._streams = Endpoint("buildkitd", "unix", relay.sock_path, endpoint.source)
        self.channel = channel
        self.private = private
        self._relay = relay
        self.control = control_pb2_grpc.ControlStub(channel)

    @classmethod
    async def open(cls, endpoint: Endpoint) -> BuildkitClient:
        """Connect, failing within ~2 s with DaemonUnreachable naming the address."""
        debuglog.LOG.debug("connecting to %s", endpoint.describe())
        private = PrivateDir()
        relay: UpgradeRelay | StdioRelay | None = None
        try:
            if endpoint.dial is not None:
                relay = StdioRelay(endpoint.dial, private.socket_path("dial.sock"))
                await asyncio.to_thread(relay.start)
                channel = grpc.aio.insecure_channel(f"unix:{relay.sock_path}", CHANNEL_OPTIONS,
                                                    interceptors=debuglog.interceptors())
            elif endpoint.kind == "docker":
                await asyncio.to_thread(ping_docker, endpoint, REACH_TIMEOUT)
                relay = UpgradeRelay(endpoint, "/grpc", private.socket_path("grpc.sock"))
                channel = grpc.aio.insecure_channel(f"unix:{relay.sock_path}", CHANNEL_OPTIONS,
                                                    interceptors=debuglog.interceptors())
            elif endpoint.scheme == "unix":
                sock = await asyncio.to_thread(connect, endpoint, REACH_TIMEOUT)
                sock.close()
                channel = grpc.aio.insecure_channel(f"unix:{endpoint.location}", CHANNEL_OPTIONS,
                                                    interceptors=debuglog.interceptors())
            else:
                channel = cls._tcp_channel(endpoint)
            client = cls(endpoint, channel, private, relay)
            if endpoint.kind != "docker":
                await client._check_reachable()
            debuglog.LOG.debug("connected (%s, private dir %s)", endpoint.kind, private.path)
            return client
        except BaseException:
            if relay is not None:
                relay.close()
            private.cleanup()
            raise

    @staticmethod
    def _tcp_channel(endpoint: Endpoint) -> grpc.aio.Channel:
        if endpoint.tls is None:
            return grpc.aio.insecure_channel(endpoint.location, CHANNEL_OPTIONS,
                                             interceptors=debuglog.interceptors())
        ca, key, cert = endpoint.tls.read()
        creds = grpc.ssl_channel_credentials(ca, key, cert)
        options = list(CHANNEL_OPTIONS)
        if endpoint.tls.server_name:
            options.append(("grpc.ssl_target_name_override", endpoint.tls.server_name))
        return grpc.aio.secure_channel(endpoint.location, creds, options,
                                       interceptors=debuglog.interceptors())

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
        return Gateway(self.channel, build_ref, self.connect_h2)

    async def connect_h2(self) -> Pipe:
        """A new HTTP/2 connection to the builder's gRPC server (for a process stream)."""
        if self.endpoint.kind == "docker":
            reader, writer = await open_stream(self.endpoint, REACH_TIMEOUT, limit=STREAM_LIMIT)
            try:
                async with asyncio.timeout(UPGRADE_TIMEOUT):
                    await upgrade_stream(reader, writer, "/grpc")
            except BaseException:
                writer.close()
                raise
        else:
            reader, writer = await open_stream(self._streams, REACH_TIMEOUT, limit=STREAM_LIMIT,
                                               alpn=("h2",))
        return StreamPipe(reader, writer)

    async def attach_session(self, session: SessionServer) -> SessionLink:
        """Connect the daemon to our session server (Docker ``/session`` or Control.Session).

        The session is served on that connection until :meth:`SessionLink.close`.
        """
        if self.endpoint.kind == "docker":
            pipe = await self._attach_docker(session)
        else:
            pipe = self._attach_grpc(session)
        return SessionLink(asyncio.create_task(session.serve(pipe)))

    async def _attach_docker(self, session: SessionServer) -> Pipe:
        reader, writer = await open_stream(self.endpoint, REACH_TIMEOUT, limit=STREAM_LIMIT)
        try:
            async with asyncio.timeout(UPGRADE_TIMEOUT):
                await upgrade_stream(reader, writer, "/session", session.headers())
        except TimeoutError:
            writer.close()
            raise ConnectionError("no answer to the /session upgrade") from None
        except BaseException:
            writer.close()
            raise
        sock = writer.get_extra_info("socket")
        if sock is not None:  # fewer partial writes and wake-ups for a context upload
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        return StreamPipe(reader, writer)  # bytes past the 101 stay in ``reader``

    def _attach_grpc(self, session: SessionServer) -> Pipe:
        md = [(k.lower(), v) for k, v in session.headers()]
        return TunnelPipe(self.control.Session(metadata=md))

    async def close(self) -> None:
        """Close the channel, the relay and the private directory."""
        try:
            await self.channel.close(grace=None)
        finally:
            if self._relay is not None:
                self._relay.close()
            self.private.cleanup()
