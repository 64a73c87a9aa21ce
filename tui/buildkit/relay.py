"""Byte relays: Docker's HTTP upgrade (hijack) and splicing sockets in threads.

grpcio can neither dial over an existing socket nor serve an accepted one, so the Docker
``/grpc`` and ``/session`` endpoints are reached through local unix sockets whose connections
are spliced, byte for byte, to hijacked daemon connections.  Splicing runs in plain threads on
blocking sockets (the copy loops release the GIL in their system calls), so a 1 GB context
upload never touches the asyncio event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tui.buildkit.address import Endpoint

if TYPE_CHECKING:
    import ssl

CHUNK = 256 * 1024
CONNECT_TIMEOUT = 2.0


class DaemonUnreachable(ConnectionError):
    """The builder's address does not answer."""


class PrivateDir:
    """A 0700 directory for local sockets; removed by :meth:`cleanup`."""

    def __init__(self) -> None:
        base = Path(os.environ.get("TMPDIR") or "/tmp")
        while True:
            path = base / f"bxtui-{os.urandom(6).hex()}"
            try:
                path.mkdir(mode=0o700)
                break
            except FileExistsError:
                continue
        path.chmod(0o700)  # whatever the umask
        self.path = path

    def socket_path(self, name: str) -> str:
        """Path of a socket named ``name`` inside the directory."""
        return str(self.path / name)

    def cleanup(self) -> None:
        """Remove the directory and everything in it."""
        shutil.rmtree(self.path, ignore_errors=True)


def tls_context(endpoint: Endpoint) -> ssl.SSLContext | None:
    """A client TLS context for the endpoint's TLS files, or None without TLS."""
    tls = endpoint.tls
    if tls is None:
        return None
    import ssl  # only for TLS endpoints; slow to import

    for path in (tls.ca, tls.cert, tls.key):
        if path is not None and not os.access(path, os.R_OK):
            raise OSError(f"cannot read TLS file {path}")
    ctx = ssl.create_default_context(cafile=tls.ca) if tls.ca else ssl.create_default_context()
    if tls.cert and tls.key:
        ctx.load_cert_chain(tls.cert, tls.key)
    if not tls.verify:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


#: What a TLS alert from the daemon means for the client (OpenSSL's reason codes).
_TLS_ALERTS = {
    "TLSV13_ALERT_CERTIFICATE_REQUIRED": "the daemon requires a client certificate (none sent)",
    "SSLV3_ALERT_BAD_CERTIFICATE": "the daemon rejected the client certificate (bad certificate)",
    "TLSV1_ALERT_UNKNOWN_CA": "the daemon does not trust the client certificate's CA (unknown ca)",
    "SSLV3_ALERT_CERTIFICATE_EXPIRED": "the daemon rejected the client certificate (expired)",
    "WRONG_VERSION_NUMBER": "the address does not speak TLS",
}


def failure_reason(exc: OSError, endpoint: Endpoint) -> str:
    """One short phrase for a failed connection; for TLS, what failed, not OpenSSL's codes."""
    if endpoint.tls is not None:
        import ssl

        if isinstance(exc, ssl.SSLCertVerificationError):
            return f"TLS: server certificate verify failed: {exc.verify_message}"
        if isinstance(exc, ssl.SSLError):
            reason = exc.reason or ""
            return "TLS: " + _TLS_ALERTS.get(reason, reason.lower().replace("_", " ") or str(exc))
    return exc.strerror or str(exc)


def connect(endpoint: Endpoint, timeout: float = CONNECT_TIMEOUT) -> socket.socket:
    """Open a blocking socket to the endpoint (TLS-wrapped when it has TLS files)."""
    try:
        if endpoint.scheme == "unix":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(timeout)
            try:
                sock.connect(endpoint.location)
            except BaseException:
                sock.close()
                raise
        else:
            host, _, port = endpoint.location.rpartition(":")
            sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
            ctx = tls_context(endpoint)
            if ctx is not None:
                name = (endpoint.tls.server_name if endpoint.tls else None) or host.strip("[]")
                sock = ctx.wrap_socket(sock, server_hostname=name)
    except OSError as exc:  # ssl.SSLError is an OSError
        reason = failure_reason(exc, endpoint)
        raise DaemonUnreachable(f"cannot reach {endpoint.describe()}: {reason}") from None
    sock.settimeout(None)
    return sock


def upgrade_request(path: str, headers: Sequence[tuple[str, str]] = ()) -> bytes:
    """The ``POST path`` request asking Docker for an h2c upgrade."""
    lines = [f"POST {path} HTTP/1.1", "Host: docker", "Connection: Upgrade", "Upgrade: h2c"]
    lines += [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def check_upgrade(path: str, head: bytes, rest: bytes = b"") -> None:
    """Raise ConnectionError unless ``head`` (the response headers) is a 101."""
    status_line = head.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or parts[1] != "101":
        body = rest.decode("utf-8", "replace").strip()
        raise ConnectionError(f"{path} upgrade refused: {status_line} {body}".strip())


def http_upgrade(
    sock: socket.socket,
    path: str,
    headers: Sequence[tuple[str, str]] = (),
    timeout: float = 10.0,
) -> bytes:
    """Send ``POST path`` asking for an h2c upgrade; return bytes read past the 101 headers."""
    sock.settimeout(timeout)
    sock.sendall(upgrade_request(path, headers))
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"daemon closed the connection during the {path} upgrade")
        buf += chunk
        if len(buf) > 65536:
            raise ConnectionError(f"oversized response to the {path} upgrade")
    head, _, rest = buf.partition(b"\r\n\r\n")
    check_upgrade(path, head, rest)
    sock.settimeout(None)
    return rest


def _pump(src: socket.socket, dst: socket.socket, done: Callable[[], None]) -> None:
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    try:
        while True:
            n = src.recv_into(buf)
            if n == 0:
                break
            dst.sendall(view[:n])
    except (OSError, ValueError):
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)
        done()


def accept_loop(listener: socket.socket, serve: Callable[[socket.socket], None]) -> None:
    """Accept until the listener is closed, serving each connection in a thread of its own."""
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


class Splice:
    """Copy bytes both ways between two sockets until both directions end."""

    def __init__(self, a: socket.socket, b: socket.socket, b_leftover: bytes = b"") -> None:
        self._socks = (a, b)
        self._lock = threading.Lock()
        self._open = 2
        self.finished = threading.Event()
        if b_leftover:
            a.sendall(b_leftover)
        for src, dst in ((a, b), (b, a)):
            threading.Thread(target=_pump, args=(src, dst, self._one_done), daemon=True).start()

    def _one_done(self) -> None:
        with self._lock:
            self._open -= 1
            last = self._open == 0
        if last:
            self.close()

    def close(self) -> None:
        """Close both sockets (ends both copy threads)."""
        for s in self._socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                s.close()
        self.finished.set()


async def open_stream(
    endpoint: Endpoint, within: float = CONNECT_TIMEOUT, limit: int = 2**16,
    alpn: Sequence[str] = (),
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Open asyncio streams to the endpoint (TLS when it has TLS files) within ``within`` s.

    ``alpn``: the protocols offered in the TLS handshake (``h2`` for a gRPC server).
    """
    try:
        async with asyncio.timeout(within):
            if endpoint.scheme == "unix":
                return await asyncio.open_unix_connection(endpoint.location, limit=limit)
            host, _, port = endpoint.location.rpartition(":")
            host = host.strip("[]")
            ctx = tls_context(endpoint)
            name = None
            if ctx is not None:
                name = (endpoint.tls.server_name if endpoint.tls else None) or host
                if alpn:
                    ctx.set_alpn_protocols(list(alpn))
            return await asyncio.open_connection(
                host, int(port), ssl=ctx, server_hostname=name, limit=limit
            )
    except TimeoutError:
        raise DaemonUnreachable(f"cannot reach {endpoint.describe()}: timed out") from None
    except OSError as exc:
        reason = failure_reason(exc, endpoint)
        raise DaemonUnreachable(f"cannot reach {endpoint.describe()}: {reason}") from None


async def upgrade_stream(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    path: str,
    headers: Sequence[tuple[str, str]] = (),
) -> None:
    """``POST path`` asking for h2c; return after the ``101`` (later bytes stay in ``reader``)."""
    writer.write(upgrade_request(path, headers))
    await writer.drain()
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        raise ConnectionError(f"daemon closed the connection during the {path} upgrade") from None
    except asyncio.LimitOverrunError:
        raise ConnectionError(f"oversized response to the {path} upgrade") from None
    status_line, _, fields = head.decode("latin-1").partition("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) >= 2 and parts[1] == "101":
        return
    body = ""
    for field in fields.split("\r\n"):
        key, _, value = field.partition(":")
        if key.strip().lower() == "content-length" and value.strip().isdigit():
            with contextlib.suppress(OSError, EOFError, TimeoutError):
                async with asyncio.timeout(2.0):
                    raw = await reader.readexactly(min(int(value), 65536))
                    body = raw.decode("utf-8", "replace").strip()
    raise ConnectionError(f"{path} upgrade refused: {status_line} {body}".strip())


async def pipe_streams(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
    """Copy ``r`` to ``w`` until EOF or an error, then close ``w``."""
    try:
        while data := await r.read(CHUNK):
            w.write(data)
            await w.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            w.close()


class UpgradeRelay:
    """A local unix socket whose connections are spliced to hijacked daemon connections.

    Each accepted connection opens a new connection to ``endpoint``, asks for an upgrade of
    ``path`` (Docker's ``/grpc``), and splices the two: with blocking sockets in two threads,
    or, for a TLS endpoint (one TLS object must not be used by two threads at once), on an
    asyncio loop of the connection's own thread.
    """

    def __init__(self, endpoint: Endpoint, path: str, sock_path: str) -> None:
        self.endpoint = endpoint
        self.path = path
        self.sock_path = sock_path
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(sock_path)
        self._listener.listen(16)
        self._splices: list[Splice] = []
        self._tls_conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._closed = False
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self) -> None:
        accept_loop(self._listener, self._serve)

    def _serve(self, conn: socket.socket) -> None:
        if self.endpoint.tls is not None:
            with self._lock:
                self._tls_conns.append(conn)
            try:
                asyncio.run(self._splice_tls(conn))
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                pass  # the daemon refused or went away: the client sees the connection close
            finally:
                conn.close()
            return
        try:
            upstream = connect(self.endpoint)
            leftover = http_upgrade(upstream, self.path)
        except (OSError, ConnectionError):
            conn.close()
            return
        with self._lock:
            if self._closed:
                upstream.close()
                conn.close()
                return
            self._splices = [s for s in self._splices if not s.finished.is_set()]
            try:
                self._splices.append(Splice(conn, upstream, leftover))
            except OSError:  # the client went away before the leftover bytes were passed on
                upstream.close()
                conn.close()

    async def _splice_tls(self, conn: socket.socket) -> None:
        ur, uw = await open_stream(self.endpoint)
        await upgrade_stream(ur, uw, self.path)
        cr, cw = await asyncio.open_connection(sock=conn)
        await asyncio.gather(pipe_streams(cr, uw), pipe_streams(ur, cw))

    def close(self) -> None:
        """Stop accepting, cut every spliced connection, remove the socket file."""
        with self._lock:
            self._closed = True
            splices, self._splices = self._splices, []
            tls_conns, self._tls_conns = self._tls_conns, []
        for c in tls_conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._listener.close()
        for s in splices:
            s.close()
        with contextlib.suppress(OSError):
            Path(self.sock_path).unlink()


def ping_docker(endpoint: Endpoint, timeout: float = CONNECT_TIMEOUT) -> None:
    """GET /_ping on a Docker endpoint; raise DaemonUnreachable unless it answers OK."""
    sock = connect(endpoint, timeout)
    try:
        sock.settimeout(timeout)
        sock.sendall(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
        data = b""
        while b"\r\n" not in data:
            chunk = sock.recv(1024)
            if not chunk:
                break
            data += chunk
    except OSError as exc:
        reason = failure_reason(exc, endpoint)
        raise DaemonUnreachable(f"cannot reach {endpoint.describe()}: {reason}") from None
    finally:
        sock.close()
    status = data.split(b"\r\n", 1)[0].split(b" ")
    if endpoint.tls is None and b"HTTPS server" in data:
        raise DaemonUnreachable(
            f"{endpoint.describe()} speaks TLS: set DOCKER_TLS_VERIFY=1 (and DOCKER_CERT_PATH)"
        )
    if len(status) < 2 or status[1] != b"200":
        raise DaemonUnreachable(
            f"{endpoint.describe()} did not answer the Docker API (got {data[:40]!r})"
        )
