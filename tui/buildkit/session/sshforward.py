"""SSH agent forwarding (``--ssh ID[=PATH[,PATH...]]``) served to the daemon on request.

The daemon mounts a socket in ``RUN --mount=type=ssh`` containers; each connection a process
makes to it becomes one ``ForwardAgent`` stream carrying raw ssh-agent protocol, the agent's
ID in the ``buildkit.ssh.id`` request metadata.  As BuildKit's Go client does, the agent is
exposed read-only: only identity listing and signing reach the local agent, every other
request (add, remove, lock, extensions) is answered ``SSH_AGENT_FAILURE`` here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import stat
import struct
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc

from tui.buildkit import debuglog
from tui.buildkit.proto import ssh_pb2, ssh_pb2_grpc
from tui.buildkit.session.filesync import decode_metadata
from tui.buildkit.session.rpc import abort

if TYPE_CHECKING:
    from tui.buildkit.session.sshkeys import KeyAgent, SigningKey

DEFAULT_ID = "default"
SSH_ID_KEY = "buildkit.ssh.id"
CONNECT_TIMEOUT = 2.0
MAX_MESSAGE = 256 * 1024
"""OpenSSH's own limit on one agent message."""
KEY_FILE_LIMIT = 100 * 1024

REQUEST_IDENTITIES = 11
SIGN_REQUEST = 13
AGENT_FAILURE = 5
READ_ONLY_REQUESTS = frozenset({REQUEST_IDENTITIES, SIGN_REQUEST})
FAILURE_REPLY = struct.pack(">IB", 1, AGENT_FAILURE)


class SSHSpecError(ValueError):
    """A malformed or unusable ``--ssh`` value (the message is buildx's where it has one)."""


@dataclass(frozen=True)
class AgentSource:
    """One forwarded agent: its ID and the local agent socket it reaches.

    For key files (``--ssh ID=KEY[,KEY...]``) ``socket`` is empty and ``keys`` is the
    in-memory agent serving them.
    """

    id: str
    socket: str
    keys: KeyAgent | None = None


def parse_ssh(specs: Sequence[str], environ: Mapping[str, str]) -> dict[str, AgentSource]:
    """Resolve buildx's ``--ssh ID[=PATH[,PATH...]]`` values to agents by ID.

    ``default`` (or no PATH) is ``$SSH_AUTH_SOCK``; a PATH is one agent socket or one or
    more unencrypted private key files, served by an in-memory agent as buildx does.
    """
    agents: dict[str, AgentSource] = {}
    for spec in specs:
        sid, sep, rest = spec.partition("=")
        paths = rest.split(",") if sep else []
        if not paths or paths == [""]:
            paths = [environ.get("SSH_AUTH_SOCK", "")]
        if not paths[0]:
            raise SSHSpecError("invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set")
        socket, keys = _agent_of(paths)
        sid = sid or DEFAULT_ID
        if sid in agents:
            raise SSHSpecError(f"invalid duplicate ID {sid}")
        agents[sid] = AgentSource(sid, socket, keys)
    return agents


def _go_error(exc: OSError) -> str:
    """An OSError's reason as Go's syscall errors spell it (lower case)."""
    reason = os.strerror(exc.errno) if exc.errno else str(exc)
    return reason[:1].lower() + reason[1:]


def _agent_of(paths: Sequence[str]) -> tuple[str, KeyAgent | None]:
    """The one agent socket, or an agent over the key files, among ``paths``.

    buildx's checks and messages, in its order.
    """
    from tui.buildkit.session.sshkeys import KeyAgent, KeyFileError, load_key_file

    socket = ""
    keys: list[SigningKey] = []
    for p in paths:
        if socket:
            raise SSHSpecError("only single socket allowed")
        try:
            mode = os.stat(p).st_mode
        except OSError as exc:
            raise SSHSpecError(f"stat {p}: {_go_error(exc)}") from None
        if stat.S_ISSOCK(mode):
            socket = p
            continue
        try:
            with open(p, "rb") as fh:
                head = fh.read(KEY_FILE_LIMIT)
        except OSError as exc:
            raise SSHSpecError(f"failed to open {p}: {_go_error(exc)}") from None
        try:
            keys.append(load_key_file(p, head))
        except KeyFileError as exc:
            raise SSHSpecError(str(exc)) from None
    if socket and keys:
        raise SSHSpecError("invalid combination of keys and sockets")
    return socket, KeyAgent(keys) if keys else None


class AgentFrames:
    """Splits a byte stream into whole ssh-agent messages (4-byte length, then the body)."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Add ``data``; yield each message completed so far (length prefix included)."""
        self._buf += data
        while len(self._buf) >= 4:
            (size,) = struct.unpack_from(">I", self._buf)
            if size == 0 or size > MAX_MESSAGE:
                raise ValueError(f"bad ssh-agent message length {size}")
            if len(self._buf) < 4 + size:
                return
            frame = bytes(self._buf[:4 + size])
            del self._buf[:4 + size]
            yield frame


async def _read_reply(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readexactly(4)
    (size,) = struct.unpack(">I", head)
    if size == 0 or size > MAX_MESSAGE:
        raise ValueError(f"bad ssh-agent reply length {size}")
    return head + await reader.readexactly(size)


class SSHService(ssh_pb2_grpc.SSHServicer):
    """Serves CheckAgent and ForwardAgent for the configured agents; unknown IDs fail."""

    def __init__(self, agents: Mapping[str, AgentSource]) -> None:
        self._agents = dict(agents)

    async def _source(self, sid: str, context: grpc.aio.ServicerContext) -> AgentSource:
        sid = sid or DEFAULT_ID
        src = self._agents.get(sid)
        if src is None:
            await abort(context, grpc.StatusCode.UNKNOWN, f"unset ssh forward key {sid}")
        return src

    async def CheckAgent(
        self, request: ssh_pb2.CheckAgentRequest, context: grpc.aio.ServicerContext
    ) -> ssh_pb2.CheckAgentResponse:
        """Succeed when an agent of that ID (empty: ``default``) is forwarded."""
        await self._source(request.ID, context)
        return ssh_pb2.CheckAgentResponse()

    async def ForwardAgent(
        self, request_iterator: AsyncIterator[ssh_pb2.BytesMessage],
        context: grpc.aio.ServicerContext,
    ) -> None:
        """Relay one agent connection: read-only requests go to the agent, replies come back."""
        md = decode_metadata(context.invocation_metadata() or ())
        src = await self._source((md.get(SSH_ID_KEY) or [""])[0], context)
        if src.keys is not None:
            await _serve_keys(src, src.keys, request_iterator, context)
            return
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                reader, writer = await asyncio.open_unix_connection(src.socket)
        except (OSError, TimeoutError) as exc:
            reason = _go_error(exc) if isinstance(exc, OSError) else "i/o timeout"
            await abort(context, grpc.StatusCode.UNKNOWN,
                        f"failed to connect to {src.socket}: {reason}")
        debuglog.LOG.debug("session: ssh agent %r connected", src.id)
        frames = AgentFrames()
        try:
            async for msg in request_iterator:
                for request in frames.feed(msg.data):
                    if request[4] in READ_ONLY_REQUESTS:
                        writer.write(request)
                        await writer.drain()
                        reply = await _read_reply(reader)
                    else:
                        reply = FAILURE_REPLY
                    await context.write(ssh_pb2.BytesMessage(data=reply))
        except (ValueError, asyncio.IncompleteReadError, OSError) as exc:
            debuglog.LOG.debug("session: ssh agent %r connection ended: %s", src.id, exc)
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


async def _serve_keys(
    src: AgentSource, agent: KeyAgent, request_iterator: AsyncIterator[ssh_pb2.BytesMessage],
    context: grpc.aio.ServicerContext,
) -> None:
    """Answer one agent connection from the in-memory key agent."""
    debuglog.LOG.debug("session: ssh keys %r connected", src.id)
    frames = AgentFrames()
    try:
        async for msg in request_iterator:
            for request in frames.feed(msg.data):
                await context.write(ssh_pb2.BytesMessage(data=agent.answer(request)))
    except ValueError as exc:
        debuglog.LOG.debug("session: ssh keys %r connection ended: %s", src.id, exc)
