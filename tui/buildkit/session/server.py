"""The client-side session: the services the daemon calls back into, served over HTTP/2.

There is no listening socket: each attached connection (Docker's hijacked ``/session``
connection, or the ``Control.Session`` tunnel) is served directly by
:class:`~tui.buildkit.session.h2server.GrpcConnection` on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import os
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from tui.buildkit.proto import auth_pb2, fsutil_types_pb2, health_pb2, secrets_pb2, ssh_pb2
from tui.buildkit.session.filesync import ExportTarget, FileSendHandler, FileSyncService
from tui.buildkit.session.h2server import GrpcConnection
from tui.buildkit.session.health import HealthService
from tui.buildkit.session.methods import RpcMethod, bidi, method_table, unary
from tui.buildkit.session.pipe import Pipe

if TYPE_CHECKING:
    from tui.buildkit.session.auth import AuthService
    from tui.buildkit.session.secrets import SecretSource, SecretsService
    from tui.buildkit.session.sshforward import AgentSource, SSHService

UnaryHandler = Callable[[Any, Any], Awaitable[Any]]

SERVED_METHODS = (
    "/grpc.health.v1.Health/Check",
    "/moby.filesync.v1.FileSync/DiffCopy",
    "/moby.filesync.v1.Auth/Credentials",
    "/moby.filesync.v1.Auth/FetchToken",
    "/moby.filesync.v1.Auth/GetTokenAuthority",
    "/moby.filesync.v1.Auth/VerifyTokenAuthority",
    "/moby.buildkit.secrets.v1.Secrets/GetSecret",
    # Always served, as buildx does: a required ssh mount then fails as it does there.
    "/moby.sshforward.v1.SSH/CheckAgent",
    "/moby.sshforward.v1.SSH/ForwardAgent",
)
FILESEND_METHOD = "/moby.filesync.v1.FileSend/DiffCopy"
TARSTREAM_METHOD = "/moby.filesync.v1.FileSync/TarStream"
STOP_TIMEOUT = 2.0


def shared_key(paths: Sequence[str]) -> str:
    """A key stable per machine and directories, so unchanged files are not sent again."""
    machine = ""
    for candidate in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        with contextlib.suppress(OSError), open(candidate) as fh:
            machine = fh.read().strip()
            break
    h = hashlib.sha256(f"{machine or socket.gethostname()}\0".encode())
    for p in paths:
        h.update(os.path.abspath(p).encode() + b"\0")
    return h.hexdigest()


class _CallDetails(NamedTuple):
    """What a grpc generic handler looks a method up by."""

    method: str
    invocation_metadata: tuple[tuple[str, str], ...] = ()


def _deferred(resolve: Callable[[], UnaryHandler]) -> UnaryHandler:
    """A unary handler looked up on each call: its service is made only when first asked."""

    async def call(request: Any, context: Any) -> Any:
        return await resolve()(request, context)

    return call


def from_generic_handler(handler: Any, path: str) -> RpcMethod:
    """The :class:`RpcMethod` a ``grpc.GenericRpcHandler`` registers for ``path``."""
    rpc = handler.service(_CallDetails(path))
    if rpc is None:
        raise ValueError(f"{path} is not served by {handler!r}")
    if rpc.request_streaming and rpc.response_streaming:
        return RpcMethod(rpc.stream_stream, rpc.request_deserializer, rpc.response_serializer,
                         streaming=True)
    if not rpc.request_streaming and not rpc.response_streaming:
        return RpcMethod(rpc.unary_unary, rpc.request_deserializer, rpc.response_serializer,
                         streaming=False)
    raise ValueError(f"{path}: only unary and stream-stream methods are supported")


class SessionServer:
    """Serves FileSync, FileSend, Auth, Secrets, SSH and Health for one build session.

    ``dirs`` maps the frontend's local names (``context``, ``dockerfile``, named contexts) to
    directories; ``exports`` lists session-backed exporter targets by exporter index.
    The session is served on whatever connection :meth:`serve` is given.
    """

    def __init__(
        self,
        *,
        dirs: Mapping[str, str] | None = None,
        exports: Sequence[ExportTarget] = (),
        secrets: Mapping[str, SecretSource] | None = None,
        ssh: Mapping[str, AgentSource] | None = None,
        environ: Mapping[str, str] | None = None,
        name: str = "bxtui",
        on_bytes: Callable[[str, int], None] | None = None,
    ) -> None:
        self.id = os.urandom(16).hex()
        self.name = name
        self._environ = os.environ if environ is None else environ
        self._secrets = dict(secrets or {})
        self._ssh = dict(ssh or {})
        self.dirs = dict(dirs or {})
        self.shared_key = shared_key(sorted(self.dirs.values()))
        self.health = HealthService()
        self.filesync = FileSyncService(self.dirs, on_bytes)
        self._exports = list(exports)
        packet = fsutil_types_pb2.Packet.FromString
        entries = [
            ("/grpc.health.v1.Health/Check",
             unary(self.health.Check, health_pb2.HealthCheckRequest.FromString)),
            ("/moby.filesync.v1.FileSync/DiffCopy", bidi(self.filesync.DiffCopy, packet)),
            (TARSTREAM_METHOD, bidi(self.filesync.TarStream, packet)),
            ("/moby.filesync.v1.Auth/Credentials",
             unary(_deferred(lambda: self._auth.Credentials),
                   auth_pb2.CredentialsRequest.FromString)),
            ("/moby.filesync.v1.Auth/FetchToken",
             unary(_deferred(lambda: self._auth.FetchToken),
                   auth_pb2.FetchTokenRequest.FromString)),
            ("/moby.filesync.v1.Auth/GetTokenAuthority",
             unary(_deferred(lambda: self._auth.GetTokenAuthority),
                   auth_pb2.GetTokenAuthorityRequest.FromString)),
            ("/moby.filesync.v1.Auth/VerifyTokenAuthority",
             unary(_deferred(lambda: self._auth.VerifyTokenAuthority),
                   auth_pb2.VerifyTokenAuthorityRequest.FromString)),
            ("/moby.buildkit.secrets.v1.Secrets/GetSecret",
             unary(_deferred(lambda: self._secrets_service.GetSecret),
                   secrets_pb2.GetSecretRequest.FromString)),
            ("/moby.sshforward.v1.SSH/CheckAgent",
             unary(_deferred(lambda: self._ssh_service.CheckAgent),
                   ssh_pb2.CheckAgentRequest.FromString)),
            ("/moby.sshforward.v1.SSH/ForwardAgent",
             bidi(self._forward_agent, ssh_pb2.BytesMessage.FromString)),
        ]
        if self._exports:
            handler = FileSendHandler(self._exports).generic_handler()
            entries.append((FILESEND_METHOD, from_generic_handler(handler, FILESEND_METHOD)))
        self.rpc_methods: dict[str, RpcMethod] = method_table(entries)
        """The served methods by full path (what each connection dispatches on)."""
        self._conns: set[GrpcConnection] = set()

    @functools.cached_property
    def _auth(self) -> AuthService:
        from tui.buildkit.session.auth import AuthService

        return AuthService(self._environ)

    @functools.cached_property
    def _secrets_service(self) -> SecretsService:
        from tui.buildkit.session.secrets import SecretsService

        return SecretsService(self._secrets, self._environ)

    @functools.cached_property
    def _ssh_service(self) -> SSHService:
        from tui.buildkit.session.sshforward import SSHService

        return SSHService(self._ssh)

    async def _forward_agent(self, request_iterator: Any, context: Any) -> None:
        await self._ssh_service.ForwardAgent(request_iterator, context)

    @property
    def methods(self) -> list[str]:
        """Full paths of the methods this session serves."""
        return list(SERVED_METHODS) + ([FILESEND_METHOD] if self._exports else [])

    def headers(self) -> list[tuple[str, str]]:
        """Session attach headers (HTTP spelling; lower-case them for gRPC metadata)."""
        out = [
            ("X-Docker-Expose-Session-Uuid", self.id),
            ("X-Docker-Expose-Session-Name", self.name),
            ("X-Docker-Expose-Session-Sharedkey", self.shared_key),
        ]
        out += [("X-Docker-Expose-Session-Grpc-Method", m) for m in self.methods]
        return out

    async def serve(self, pipe: Pipe) -> None:
        """Serve the session on one connection (the daemon is the HTTP/2 client) until it ends.

        Cancelling this detaches: the connection is closed and the daemon sees the session end.
        """
        conn = GrpcConnection(self.rpc_methods, pipe)
        self._conns.add(conn)
        try:
            await conn.run()
        finally:
            self._conns.discard(conn)

    async def stop(self) -> None:
        """Close every attached connection and wait (briefly) for their handlers to end."""
        conns = list(self._conns)
        for conn in conns:
            conn.close()
        if conns:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(STOP_TIMEOUT):
                    await asyncio.gather(*(c.wait_closed() for c in conns))
