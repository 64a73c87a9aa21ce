"""The session's HTTP/2 gRPC server, driven by a real grpcio (grpc.aio) client.

No daemon needed: the server runs on a private unix socket here (one GrpcConnection per
accepted connection), which is byte for byte what it does on a hijacked /session connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import pytest
from h2served import Served

from tui.buildkit.proto import auth_pb2, health_pb2, health_pb2_grpc, secrets_pb2
from tui.buildkit.relay import upgrade_stream
from tui.buildkit.session import status
from tui.buildkit.session.methods import RpcMethod, bidi, method_table, unary
from tui.buildkit.session.rpc import abort
from tui.buildkit.session.server import FILESEND_METHOD, SERVED_METHODS, SessionServer
from tui.buildkit.session.status import percent_encode

BIG = 4 * 1024 * 1024

pytestmark = pytest.mark.timeout(120)


class Echo:
    """Test services with raw-bytes messages, recording what the server saw."""

    def __init__(self) -> None:
        self.hang_started = asyncio.Event()
        self.hang_cancelled = asyncio.Event()
        self.stream_ids: list[int] = []

    async def unary(self, request: bytes, context: Any) -> bytes:
        return request[::-1]

    async def meta(self, request: bytes, context: Any) -> bytes:
        md = [
            [k, v.hex() if isinstance(v, bytes) else v, isinstance(v, bytes)]
            for k, v in context.invocation_metadata()
        ]
        return json.dumps(md).encode()

    async def abort(self, request: bytes, context: Any) -> bytes:
        code = grpc.StatusCode[request.decode()]
        await abort(context, code, "nope: ü 100% \n done")

    async def fail(self, request: bytes, context: Any) -> bytes:
        raise ValueError("boom")

    def sync_unimplemented(self, request: bytes, context: Any) -> bytes:
        context.set_code(grpc.StatusCode.UNIMPLEMENTED)
        context.set_details("Method not implemented!")
        raise NotImplementedError("Method not implemented!")

    async def none(self, request: bytes, context: Any) -> None:
        return None

    async def echo(self, requests: AsyncIterator[bytes], context: Any) -> None:
        async for msg in requests:
            await context.write(msg)

    async def flood(self, requests: AsyncIterator[bytes], context: Any) -> None:
        """First request: b"<count> <size>"; sends that many messages, then counts requests."""
        first = await requests.__anext__()
        count, size = map(int, first.split())
        rnd = random.Random(count)
        for i in range(count):
            await context.write(i.to_bytes(4, "big") + rnd.randbytes(size))
        n = 0
        async for _ in requests:
            n += 1
        await context.write(f"got {n}".encode())

    async def hang(self, requests: AsyncIterator[bytes], context: Any) -> None:
        self.hang_started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            self.hang_cancelled.set()
            raise

    async def slow_unary(self, request: bytes, context: Any) -> bytes:
        await asyncio.sleep(5)
        return b"late"

    def methods(self) -> dict[str, RpcMethod]:
        return method_table([
            ("/test.Echo/Unary", unary(self.unary, None, None)),
            ("/test.Echo/Meta", unary(self.meta, None, None)),
            ("/test.Echo/Abort", unary(self.abort, None, None)),
            ("/test.Echo/Fail", unary(self.fail, None, None)),
            ("/test.Echo/SyncUnimplemented", unary(self.sync_unimplemented, None, None)),
            ("/test.Echo/None", unary(self.none, None, None)),
            ("/test.Echo/SlowUnary", unary(self.slow_unary, None, None)),
            ("/test.Echo/Echo", bidi(self.echo, None, None)),
            ("/test.Echo/Flood", bidi(self.flood, None, None)),
            ("/test.Echo/Hang", bidi(self.hang, None, None)),
        ])


@contextlib.asynccontextmanager
async def echo_server() -> AsyncIterator[tuple[Echo, grpc.aio.Channel]]:
    svc = Echo()
    async with Served(svc.methods()) as served:
        channel = served.channel()
        try:
            yield svc, channel
        finally:
            await channel.close()


def _unary(channel: grpc.aio.Channel, name: str) -> Callable[..., Any]:
    return channel.unary_unary(f"/test.Echo/{name}")


def _stream(channel: grpc.aio.Channel, name: str) -> Callable[..., Any]:
    return channel.stream_stream(f"/test.Echo/{name}")


async def test_unary_call() -> None:
    async with echo_server() as (_, ch):
        assert await _unary(ch, "Unary")(b"hello") == b"olleh"
        assert await _unary(ch, "Unary")(b"") == b""
        big = os.urandom(BIG)
        assert await _unary(ch, "Unary")(big) == big[::-1]
        # many concurrent calls on one connection
        got = await asyncio.gather(*(_unary(ch, "Unary")(b"%d" % i) for i in range(200)))
        assert got == [(b"%d" % i)[::-1] for i in range(200)]


async def test_metadata_bin_and_multi_value() -> None:
    async with echo_server() as (_, ch):
        md = (
            ("multi", "a"),
            ("multi", "b, c"),
            ("blob-bin", b"\x00\xff\x01"),
            ("blob-bin", b""),
            ("blob-bin", b"\xfe"),
            ("plain", "x y"),
        )
        raw = await _unary(ch, "Meta")(b"", metadata=md)
        got = json.loads(raw)
        seen = [[k, v, isbin] for k, v, isbin in got if k in ("multi", "blob-bin", "plain")]
        assert [x for x in seen if x[0] == "multi"] == [["multi", "a", False],
                                                         ["multi", "b, c", False]]
        assert [x[1] for x in seen if x[0] == "blob-bin"] == ["00ff01", "", "fe"]
        assert all(x[2] for x in seen if x[0] == "blob-bin")
        assert ["plain", "x y", False] in seen
        keys = {k for k, _, _ in got}
        assert not any(k.startswith(":") for k in keys)
        assert not keys & {"content-type", "te", "grpc-timeout"}


@pytest.mark.parametrize("code", ["NOT_FOUND", "UNIMPLEMENTED", "PERMISSION_DENIED", "INTERNAL"])
async def test_abort_codes(code: str) -> None:
    async with echo_server() as (_, ch):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _unary(ch, "Abort")(code.encode())
        assert err.value.code() == grpc.StatusCode[code]
        assert err.value.details() == "nope: ü 100% \n done"


async def test_handler_errors() -> None:
    async with echo_server() as (_, ch):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _unary(ch, "Fail")(b"")
        assert err.value.code() == grpc.StatusCode.UNKNOWN
        assert "boom" in (err.value.details() or "")
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _unary(ch, "SyncUnimplemented")(b"")
        assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert err.value.details() == "Method not implemented!"
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _unary(ch, "None")(b"")
        assert err.value.code() == grpc.StatusCode.INTERNAL
        # the connection still works
        assert await _unary(ch, "Unary")(b"ab") == b"ba"


async def test_unknown_method() -> None:
    async with echo_server() as (_, ch):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await ch.unary_unary("/no.Such/Method")(b"x")
        assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
        # (no write: grpcio's client fails a write racing the early status with INTERNAL)
        call = ch.stream_stream("/no.Such/Stream")()
        assert await call.code() == grpc.StatusCode.UNIMPLEMENTED
        assert await _unary(ch, "Unary")(b"ok") == b"ko"


async def test_stream_echo_many_and_large_messages() -> None:
    """Thousands of messages both ways, with 4 MiB ones in between (flow control)."""
    rnd = random.Random(7)
    msgs = [rnd.randbytes(rnd.randrange(0, 300)) for _ in range(5000)]
    for i in range(12):
        msgs.insert(400 * i + 17, rnd.randbytes(BIG))
    async with echo_server() as (_, ch):
        call = _stream(ch, "Echo")()

        async def send() -> None:
            for m in msgs:
                await call.write(m)
            await call.done_writing()

        sender = asyncio.create_task(send())
        got = [m async for m in call]
        await sender
        assert await call.code() == grpc.StatusCode.OK
        assert len(got) == len(msgs)
        assert hashlib.sha256(b"".join(got)).digest() == hashlib.sha256(b"".join(msgs)).digest()
        assert got == msgs


async def test_server_flood_while_client_streams() -> None:
    """The server writes far past every window while the client also streams to it."""
    count, size = 3000, 40_000  # ~120 MB from the server
    async with echo_server() as (_, ch):
        call = _stream(ch, "Flood")()
        await call.write(f"{count} {size}".encode())

        async def send() -> None:
            for i in range(2000):
                await call.write(i.to_bytes(4, "big") * 8)
            await call.done_writing()

        sender = asyncio.create_task(send())
        n = 0
        last = b""
        async for m in call:
            if n < count:
                assert int.from_bytes(m[:4], "big") == n
                assert len(m) == size + 4
            last = m
            n += 1
        await sender
        assert n == count + 1
        assert last == b"got 2000"


async def test_health_prompt_during_large_stream() -> None:
    server = SessionServer(dirs={})
    svc = Echo()
    methods = dict(server.rpc_methods) | svc.methods()
    async with Served(methods) as served:
        ch = served.channel()
        try:
            health = health_pb2_grpc.HealthStub(ch)
            call = _stream(ch, "Flood")()
            await call.write(b"4000 250000")  # ~1 GB, read slowly below
            await call.read()
            latencies = []
            for _ in range(5):
                t0 = asyncio.get_running_loop().time()
                resp = await health.Check(health_pb2.HealthCheckRequest(), timeout=5)
                latencies.append(asyncio.get_running_loop().time() - t0)
                assert resp.status == health_pb2.HealthCheckResponse.SERVING
                for _ in range(20):
                    await call.read()
            assert max(latencies) < 1.0, latencies
            call.cancel()
        finally:
            await ch.close()


async def test_client_cancel_resets_stream() -> None:
    async with echo_server() as (svc, ch):
        call = _stream(ch, "Hang")()
        await call.write(b"x")
        await asyncio.wait_for(svc.hang_started.wait(), 5)
        call.cancel()
        await asyncio.wait_for(svc.hang_cancelled.wait(), 5)
        assert await _unary(ch, "Unary")(b"still") == b"llits"


async def test_client_deadline() -> None:
    async with echo_server() as (_, ch):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _unary(ch, "SlowUnary")(b"", timeout=0.3)
        assert err.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        assert await _unary(ch, "Unary")(b"12") == b"21"


async def test_connection_close_cancels_handlers() -> None:
    svc = Echo()
    async with Served(svc.methods()) as served:
        ch = served.channel()
        try:
            call = _stream(ch, "Hang")()
            await call.write(b"x")
            await asyncio.wait_for(svc.hang_started.wait(), 5)
            for conn in served.conns:
                conn.close()
            await asyncio.wait_for(svc.hang_cancelled.wait(), 5)
            await asyncio.wait_for(asyncio.gather(*served.tasks), 5)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await call.read()
            assert err.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.CANCELLED,
                                        grpc.StatusCode.INTERNAL)
        finally:
            await ch.close()


async def test_session_server_services() -> None:
    server = SessionServer(dirs={}, exports=[])
    assert set(SERVED_METHODS) <= set(server.rpc_methods)
    assert FILESEND_METHOD not in server.rpc_methods
    assert server.methods == list(SERVED_METHODS)
    async with Served(server.rpc_methods) as served:
        ch = served.channel()
        try:
            resp = await health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest())
            assert resp.status == health_pb2.HealthCheckResponse.SERVING
            assert server.health.checks == 1
            verify = ch.unary_unary(
                "/moby.filesync.v1.Auth/VerifyTokenAuthority",
                request_serializer=auth_pb2.VerifyTokenAuthorityRequest.SerializeToString,
                response_deserializer=auth_pb2.VerifyTokenAuthorityResponse.FromString,
            )
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await verify(auth_pb2.VerifyTokenAuthorityRequest(Host="x"))
            assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
            token = ch.unary_unary(
                "/moby.filesync.v1.Auth/GetTokenAuthority",
                request_serializer=auth_pb2.GetTokenAuthorityRequest.SerializeToString,
                response_deserializer=auth_pb2.GetTokenAuthorityResponse.FromString,
            )
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await token(auth_pb2.GetTokenAuthorityRequest(Host="x"))
            assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
            secret = ch.unary_unary(
                "/moby.buildkit.secrets.v1.Secrets/GetSecret",
                request_serializer=secrets_pb2.GetSecretRequest.SerializeToString,
                response_deserializer=secrets_pb2.GetSecretResponse.FromString,
            )
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await secret(secrets_pb2.GetSecretRequest(ID="nope"))
            assert err.value.code() == grpc.StatusCode.NOT_FOUND
            assert "nope" in (err.value.details() or "")
        finally:
            await ch.close()


async def test_session_server_filesend_listed() -> None:
    from tui.buildkit.session.filesync import ExportTarget

    server = SessionServer(dirs={"context": "."}, exports=[ExportTarget("tar", "/tmp/x.tar")])
    assert server.methods == [*SERVED_METHODS, FILESEND_METHOD]
    assert server.rpc_methods[FILESEND_METHOD].streaming
    assert server.rpc_methods[FILESEND_METHOD].decode is None
    headers = server.headers()
    assert [v for k, v in headers if k == "X-Docker-Expose-Session-Grpc-Method"] == (
        server.methods
    )


def test_percent_encode() -> None:
    assert percent_encode("plain text") == b"plain text"
    assert percent_encode("100%") == b"100%25"
    assert percent_encode("a\nb") == b"a%0Ab"
    assert percent_encode("ü") == b"%C3%BC"


def test_status_code() -> None:
    assert status.status_code(grpc.StatusCode.NOT_FOUND) == 5
    assert status.status_code(12) == 12


async def test_upgrade_refused_and_leftover() -> None:
    """The /session upgrade: errors carry the daemon's body; bytes past the 101 stay readable."""
    replies = [
        b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
        b"Content-Length: 39\r\n\r\n{\"message\":\"session x already exists\"}\n",
        b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\nPRI * HTTP/2.0",
    ]
    requests: list[bytes] = []
    tmp = tempfile.mkdtemp(prefix="h2up-", dir="/tmp")
    path = os.path.join(tmp, "d.sock")

    handlers: list[asyncio.Task[object]] = []

    async def on_conn(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        handlers.append(asyncio.current_task())  # type: ignore[arg-type]
        requests.append(await r.readuntil(b"\r\n\r\n"))
        w.write(replies[len(requests) - 1])
        await w.drain()
        await r.read()  # until the client hangs up
        w.close()

    server = await asyncio.start_unix_server(on_conn, path)
    try:
        r, w = await asyncio.open_unix_connection(path)
        with pytest.raises(ConnectionError, match=r"400 Bad Request .*already exists"):
            await upgrade_stream(r, w, "/session", [("X-Docker-Expose-Session-Uuid", "x")])
        w.close()
        r, w = await asyncio.open_unix_connection(path)
        await upgrade_stream(r, w, "/session", [("X-Docker-Expose-Session-Uuid", "y")])
        assert await r.readexactly(14) == b"PRI * HTTP/2.0"
        w.close()
        assert requests[1].startswith(b"POST /session HTTP/1.1\r\n")
        assert b"\r\nUpgrade: h2c\r\n" in requests[1]
        assert b"\r\nX-Docker-Expose-Session-Uuid: y\r\n" in requests[1]
        await asyncio.wait_for(asyncio.gather(*handlers), 10)
    finally:
        server.close()
        shutil.rmtree(tmp, ignore_errors=True)
