"""Test-only stand-ins for a buildkitd: the engine's /grpc endpoint behind unix or TCP+TLS.

No standalone buildkitd can be installed here, but Docker Engine's ``/grpc`` endpoint serves
the same Control and LLBBridge services (and Control.Session).  These relays let tests drive
bxtui's ``unix://`` and ``tcp://`` (+mTLS) code paths against the real BuildKit.
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tui.buildkit.address import Endpoint
from tui.buildkit.relay import UpgradeRelay, pipe_streams, upgrade_stream


def unix_relay(docker: Endpoint, sock_path: str) -> UpgradeRelay:
    """A buildkitd-like unix socket."""
    return UpgradeRelay(docker, "/grpc", sock_path)


@dataclass
class Certs:
    ca: str
    server_cert: str
    server_key: str
    client_cert: str
    client_key: str
    other_ca: str


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
          issuer_key: ec.EllipticCurvePrivateKey, ca: bool, server: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        b = b.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return b.sign(issuer_key, hashes.SHA256())


def make_certs(d: Path) -> Certs:
    """A CA, a server cert for 127.0.0.1/localhost, a client cert, and an unrelated CA."""
    def write(name: str, data: bytes) -> str:
        p = d / name
        p.write_bytes(data)
        return str(p)

    pem = serialization.Encoding.PEM
    out: dict[str, str] = {}
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bxtui test CA")])
    ca = _cert("bxtui test CA", ca_key, ca_name, ca_key, True, False)
    out["ca"] = write("ca.pem", ca.public_bytes(pem))
    for who, server in (("server", True), ("client", False)):
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _cert(f"bxtui {who}", key, ca_name, ca_key, False, server)
        out[f"{who}_cert"] = write(f"{who}.pem", cert.public_bytes(pem))
        out[f"{who}_key"] = write(f"{who}-key.pem", _key_pem(key))
    other_key = ec.generate_private_key(ec.SECP256R1())
    other_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "other CA")])
    other = _cert("other CA", other_key, other_name, other_key, True, False)
    out["other_ca"] = write("other-ca.pem", other.public_bytes(pem))
    return Certs(**out)


class _TLSServer:
    """127.0.0.1:PORT serving TLS on its own asyncio loop in a thread (one TLS object is
    never used by two threads); each connection is piped to what :meth:`_upstream` opens."""

    def __init__(self, docker: Endpoint, ctx: ssl.SSLContext) -> None:
        self.docker = docker
        self.ctx = ctx
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._server: asyncio.AbstractServer | None = None
        self.port = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("TLS server did not start")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def start() -> None:
            self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ctx)
            self.port = self._server.sockets[0].getsockname()[1]
            self._ready.set()

        try:
            self._loop.run_until_complete(start())
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_unix_connection(self.docker.location)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            ur, uw = await self._upstream()
        except (OSError, ConnectionError, asyncio.IncompleteReadError):
            writer.close()
            return
        await asyncio.gather(pipe_streams(reader, uw), pipe_streams(ur, writer))

    def close(self) -> None:
        """Stop listening, end every connection's piping, stop the loop and its thread."""
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            serving = asyncio.all_tasks() - {asyncio.current_task()}
            for task in serving:
                task.cancel()
            if serving:
                await asyncio.wait(serving, timeout=5)

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


class TLSRelay(_TLSServer):
    """A buildkitd stand-in: mutual TLS (ALPN h2), spliced to the engine's /grpc."""

    def __init__(self, docker: Endpoint, certs: Certs) -> None:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=certs.ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_cert_chain(certs.server_cert, certs.server_key)
        ctx.set_alpn_protocols(["h2"])
        super().__init__(docker, ctx)

    async def _upstream(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        ur, uw = await super()._upstream()
        await upgrade_stream(ur, uw, "/grpc")
        return ur, uw


class DockerTLSProxy(_TLSServer):
    """A Docker Engine reached as ``tcp://`` with ``DOCKER_TLS_VERIFY``: TLS (server cert
    only) in front of the engine's unix socket."""

    def __init__(self, docker: Endpoint, certs: Certs) -> None:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(certs.server_cert, certs.server_key)
        super().__init__(docker, ctx)
