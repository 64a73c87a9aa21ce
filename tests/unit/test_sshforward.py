"""``--ssh`` specs (buildx's messages) and the read-only agent relay, against a fake agent."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from tui.buildkit.proto import ssh_pb2
from tui.buildkit.session.sshforward import (
    FAILURE_REPLY,
    AgentFrames,
    AgentSource,
    SSHService,
    SSHSpecError,
    parse_ssh,
)

KEY = b"-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n"


@pytest.fixture
def sock(tmp_path: Path) -> Iterator[str]:
    """A bound unix socket path (a stand-in agent socket for spec checks)."""
    path = str(tmp_path / "agent.sock")
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    yield path
    s.close()


def test_default_is_ssh_auth_sock(sock: str) -> None:
    assert parse_ssh(["default"], {"SSH_AUTH_SOCK": sock}) == {
        "default": AgentSource("default", sock)}
    assert parse_ssh([""], {"SSH_AUTH_SOCK": sock})["default"].socket == sock
    assert parse_ssh([f"a={sock}", "b"], {"SSH_AUTH_SOCK": sock}).keys() == {"a", "b"}


@pytest.mark.parametrize("specs,message", [
    (["default"], "invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set"),
    (["x="], "invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set"),
    (["x=/nonexistent/agent"], "stat /nonexistent/agent: no such file or directory"),
    (["x={sock}", "x={sock}"], "invalid duplicate ID x"),
    (["default={sock}", "={sock}"], "invalid duplicate ID default"),
    (["x={sock},{sock}"], "only single socket allowed"),
    (["x={key},{sock}"], "invalid combination of keys and sockets"),
    (["x={junk}"], "failed to parse {junk}: ssh: no key found"),
    (["x={fake}"], "failed to parse {fake}: ssh: "),
    (["x={key},{sock},{key}"], "only single socket allowed"),
])
def test_bad_specs(tmp_path: Path, sock: str, specs: list[str], message: str) -> None:
    key, junk, fake = tmp_path / "id", tmp_path / "junk", tmp_path / "fake"
    key.write_bytes(Ed25519PrivateKey.generate().private_bytes(
        Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption()))
    fake.write_bytes(KEY)
    junk.write_text("not a key\n")
    names = {"sock": sock, "key": str(key), "junk": str(junk), "fake": str(fake)}
    with pytest.raises(SSHSpecError) as exc:
        parse_ssh([s.format(**names) for s in specs], {})
    assert str(exc.value).startswith(message.format(**names))


def msg(kind: int, body: bytes = b"") -> bytes:
    return struct.pack(">IB", 1 + len(body), kind) + body


def test_frames_split_and_joined() -> None:
    frames = AgentFrames()
    data = msg(11) + msg(13, b"x" * 10)
    assert list(frames.feed(data[:3])) == []
    assert list(frames.feed(data[3:7])) == [msg(11)]
    assert list(frames.feed(data[7:])) == [msg(13, b"x" * 10)]
    with pytest.raises(ValueError):
        list(frames.feed(struct.pack(">I", 10**7)))


class FakeContext:
    """What the relay uses of a servicer context: metadata, write, abort."""

    def __init__(self, sid: str) -> None:
        self.metadata = (("buildkit.ssh.id", sid),)
        self.written: list[bytes] = []

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self.metadata

    async def write(self, message: ssh_pb2.BytesMessage) -> None:
        self.written.append(message.data)

    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        raise RuntimeError(f"{code.name}: {details}")


async def fake_agent(path: str, seen: list[bytes]) -> asyncio.Server:
    """Answers every request with IDENTITIES_ANSWER (12) holding no keys; records requests."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readexactly(4)
                seen.append(head + await reader.readexactly(struct.unpack(">I", head)[0]))
                writer.write(msg(12, b"\0\0\0\0"))
                await writer.drain()
        except asyncio.IncompleteReadError:
            writer.close()

    return await asyncio.start_unix_server(serve, path)


async def stream(*chunks: bytes) -> AsyncIterator[ssh_pb2.BytesMessage]:
    for c in chunks:
        yield ssh_pb2.BytesMessage(data=c)


async def test_relay_is_read_only(tmp_path: Path) -> None:
    path = str(tmp_path / "a.sock")
    seen: list[bytes] = []
    server = await fake_agent(path, seen)
    try:
        svc = SSHService({"k": AgentSource("k", path)})
        ctx: Any = FakeContext("k")
        add, remove_all, lock = msg(17, b"key"), msg(19), msg(22, b"pw")
        listing = msg(11)
        data = add + listing + remove_all + lock + listing
        async with asyncio.timeout(10):
            await svc.ForwardAgent(stream(data[:2], data[2:9], data[9:]), ctx)
        answer = msg(12, b"\0\0\0\0")
        assert ctx.written == [FAILURE_REPLY, answer, FAILURE_REPLY, FAILURE_REPLY, answer]
        assert seen == [listing, listing]  # nothing else reached the agent
    finally:
        server.close()
        await server.wait_closed()


async def test_unknown_id_and_dead_socket(tmp_path: Path) -> None:
    svc = SSHService({"default": AgentSource("default", str(tmp_path / "gone.sock"))})
    with pytest.raises(RuntimeError, match="UNKNOWN: unset ssh forward key other"):
        await svc.CheckAgent(ssh_pb2.CheckAgentRequest(ID="other"), FakeContext("other"))
    assert await svc.CheckAgent(ssh_pb2.CheckAgentRequest(), FakeContext("")) == \
        ssh_pb2.CheckAgentResponse()
    ctx: Any = FakeContext("")
    with pytest.raises(RuntimeError, match=r"failed to connect to .*gone\.sock: no such file"):
        await svc.ForwardAgent(stream(msg(11)), ctx)
