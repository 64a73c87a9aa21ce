"""The client-side session: a local gRPC server the daemon calls back into."""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import grpc

from tui.buildkit.proto import (
    auth_pb2_grpc,
    filesync_pb2_grpc,
    health_pb2_grpc,
    secrets_pb2_grpc,
)
from tui.buildkit.session.auth import AuthService
from tui.buildkit.session.filesync import ExportTarget, FileSendHandler, FileSyncService
from tui.buildkit.session.health import HealthService
from tui.buildkit.session.secrets import SecretSource, SecretsService

MAX_MESSAGE = 16 * 1024 * 1024

SERVED_METHODS = (
    "/grpc.health.v1.Health/Check",
    "/moby.filesync.v1.FileSync/DiffCopy",
    "/moby.filesync.v1.Auth/Credentials",
    "/moby.filesync.v1.Auth/FetchToken",
    "/moby.filesync.v1.Auth/GetTokenAuthority",
    "/moby.filesync.v1.Auth/VerifyTokenAuthority",
    "/moby.buildkit.secrets.v1.Secrets/GetSecret",
)
FILESEND_METHOD = "/moby.filesync.v1.FileSend/DiffCopy"

SERVER_OPTIONS: list[tuple[str, str | int]] = [
    ("grpc.max_receive_message_length", MAX_MESSAGE),
    ("grpc.max_send_message_length", MAX_MESSAGE),
    ("grpc.max_metadata_size", MAX_MESSAGE),
    ("grpc.absolute_max_metadata_size", MAX_MESSAGE),
    ("grpc.so_reuseport", 0),
]


def shared_key(paths: Sequence[str]) -> str:
    """A key stable per machine and directories, so unchanged files are not sent again."""
    machine = ""
    for candidate in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        with contextlib.suppress(OSError):
            machine = Path(candidate).read_text().strip()
            break
    h = hashlib.sha256(f"{machine or socket.gethostname()}\0".encode())
    for p in paths:
        h.update(os.path.abspath(p).encode() + b"\0")
    return h.hexdigest()


class SessionServer:
    """Serves FileSync, FileSend, Auth, Secrets and Health for one build session.

    ``dirs`` maps the frontend's local names (``context``, ``dockerfile``, named contexts) to
    directories; ``exports`` lists session-backed exporter targets by exporter index.
    """

    def __init__(
        self,
        sock_path: str,
        *,
        dirs: Mapping[str, str] | None = None,
        exports: Sequence[ExportTarget] = (),
        secrets: Mapping[str, SecretSource] | None = None,
        environ: Mapping[str, str] | None = None,
        name: str = "bxtui",
        on_bytes: Callable[[str, int], None] | None = None,
    ) -> None:
        self.sock_path = sock_path
        self.id = uuid.uuid4().hex
        self.name = name
        env = os.environ if environ is None else environ
        self.dirs = dict(dirs or {})
        self.shared_key = shared_key(sorted(self.dirs.values()))
        self.health = HealthService()
        self.filesync = FileSyncService(self.dirs, on_bytes)
        self._exports = list(exports)
        self._server = grpc.aio.server(options=SERVER_OPTIONS)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self._server)
        filesync_pb2_grpc.add_FileSyncServicer_to_server(self.filesync, self._server)
        auth_pb2_grpc.add_AuthServicer_to_server(AuthService(env), self._server)
        secrets_pb2_grpc.add_SecretsServicer_to_server(
            SecretsService(secrets or {}, env), self._server
        )
        if self._exports:
            self._server.add_generic_rpc_handlers((FileSendHandler(self._exports).generic_handler(),))
        self._server.add_insecure_port(f"unix:{sock_path}")
        self._started = False

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

    async def start(self) -> None:
        """Start serving on the unix socket."""
        await self._server.start()
        self._started = True

    async def stop(self) -> None:
        """Stop serving and remove the socket file."""
        if self._started:
            await self._server.stop(grace=0.5)
            self._started = False
        with contextlib.suppress(OSError):
            os.unlink(self.sock_path)
