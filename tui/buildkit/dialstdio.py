"""Reaching a buildkitd through ``buildctl dial-stdio``: the Engine exec API, or ``kubectl exec``.

``buildctl dial-stdio`` copies its stdin to buildkitd's socket and the socket to its stdout, so
its stdio *is* the h2c gRPC connection.  grpcio cannot dial over such a pipe, so a local unix
socket is served whose every accepted connection starts one ``dial-stdio`` process (one process
= one connection) and is spliced to it in threads:

* buildx's ``docker-container`` driver: ``POST /containers/<c>/exec`` then ``POST
  /exec/<id>/start`` hijacked (``Upgrade: tcp``, no TTY), so stdout arrives in frames of an
  8-byte header (stream, 0, 0, 0, big-endian length) and a payload; stream 1 is gRPC, stream 2
  (stderr) goes to the debug log.
* buildx's ``kubernetes`` driver: ``kubectl exec -i <pod> -c buildkitd -- buildctl dial-stdio``
  in the first running pod of the deployment (by name; buildx's sticky hashing is not done).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import struct
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO
from urllib.parse import quote

from tui.buildkit import debuglog
from tui.buildkit.address import ContainerDial, Endpoint, KubectlDial
from tui.buildkit.relay import CHUNK, DaemonUnreachable, accept_loop, connect

__all__ = ["DIAL_CMD", "FrameReader", "StdioRelay", "kubectl_exec_args"]

DIAL_CMD = ["buildctl", "dial-stdio"]
_HEADER = struct.Struct(">BxxxI")
API_TIMEOUT = 10.0


class FrameReader:
    """Splits Docker's multiplexed stream (8-byte headers) into (stream, payload) pieces."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Add received bytes; return every complete frame's (stream, payload)."""
        self._buf += data
        out: list[tuple[int, bytes]] = []
        while len(self._buf) >= _HEADER.size:
            stream, size = _HEADER.unpack_from(self._buf)
            end = _HEADER.size + size
            if len(self._buf) < end:
                break
            out.append((stream, bytes(self._buf[_HEADER.size:end])))
            del self._buf[:end]
        return out

    @property
    def pending(self) -> int:
        """Bytes of an incomplete frame held back."""
        return len(self._buf)


def _read_head(sock: socket.socket) -> tuple[int, bytes, bytes]:
    """Read an HTTP response's status and headers; return (status, head, bytes after them)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("the daemon closed the connection")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    return (int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0), head, rest


def _api(docker: Endpoint, method: str, path: str, body: object = None) -> tuple[int, bytes]:
    """One Engine API request on a connection of its own; return (status, body)."""
    data = b"" if body is None else json.dumps(body).encode()
    sock = connect(docker, API_TIMEOUT)
    try:
        sock.settimeout(API_TIMEOUT)
        sock.sendall(f"{method} {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
                     .encode() + data)
        status, _, rest = _read_head(sock)
        while chunk := sock.recv(65536):
            rest += chunk
    finally:
        sock.close()
    return status, rest


def _message(body: bytes) -> str:
    with contextlib.suppress(ValueError, AttributeError):
        return str(json.loads(body.split(b"\r\n", 1)[-1] if body[:1] != b"{" else body)
                   .get("message", ""))
    return body.decode("utf-8", "replace").strip()


def _shut_wr(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_WR)


class _ExecDialer:
    """``buildctl dial-stdio`` in a container, over the Engine exec API."""

    def __init__(self, dial: ContainerDial) -> None:
        self.dial = dial

    def check(self) -> None:
        """Fail clearly when the container is missing; start it when stopped (as buildx)."""
        name = quote(self.dial.container)
        status, body = _api(self.dial.docker, "GET", f"/containers/{name}/json")
        if status == 404:
            raise DaemonUnreachable(
                f'builder "{self.dial.builder}": container {self.dial.container} not found on '
                f"{self.dial.docker.url} (boot it with docker buildx inspect --bootstrap "
                f"{self.dial.builder})")
        if status != 200:
            raise DaemonUnreachable(f"cannot inspect {self.dial.container}: {_message(body)}")
        with contextlib.suppress(ValueError, AttributeError):
            if json.loads(body).get("State", {}).get("Running") is True:
                return
        status, body = _api(self.dial.docker, "POST", f"/containers/{name}/start")
        if status not in (204, 304):
            raise DaemonUnreachable(f"cannot start {self.dial.container}: {_message(body)}")

    def open(self, conn: socket.socket) -> None:
        """Start one exec and splice it to ``conn`` (returns once both directions end)."""
        name = quote(self.dial.container)
        status, body = _api(self.dial.docker, "POST", f"/containers/{name}/exec", {
            "AttachStdin": True, "AttachStdout": True, "AttachStderr": True, "Tty": False,
            "Cmd": DIAL_CMD})
        if status != 201:
            raise ConnectionError(f"exec in {self.dial.container} refused: {_message(body)}")
        exec_id = json.loads(body)["Id"]
        up = connect(self.dial.docker, API_TIMEOUT)
        try:
            data = b'{"Detach":false,"Tty":false}'
            up.settimeout(API_TIMEOUT)
            up.sendall(f"POST /exec/{exec_id}/start HTTP/1.1\r\nHost: docker\r\n"
                       "Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\n"
                       f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
            status, head, rest = _read_head(up)
            if status != 101:
                line = head.split(b"\r\n", 1)[0].decode("latin-1")
                raise ConnectionError(f"exec start refused: {line}")
            up.settimeout(None)
            _both_ways(lambda: _copy(lambda: conn.recv(CHUNK), up.sendall,
                                     lambda: up.shutdown(socket.SHUT_WR)),
                       lambda: self._demux(up, conn, rest))
        finally:
            up.close()

    def _demux(self, up: socket.socket, conn: socket.socket, first: bytes) -> None:
        frames = FrameReader()
        data = first
        try:
            while True:
                for stream, payload in frames.feed(data):
                    if stream == 1:
                        conn.sendall(payload)
                    else:
                        debuglog.LOG.debug("dial-stdio in %s (stream %d): %s",
                                           self.dial.container, stream,
                                           payload.decode("utf-8", "replace").rstrip())
                data = up.recv(CHUNK)
                if not data:
                    break
        except OSError:
            pass
        finally:
            _shut_wr(conn)


def kubectl_exec_args(dial: KubectlDial, pod: str, kubectl: str = "kubectl") -> list[str]:
    """The command line running ``buildctl dial-stdio`` in ``pod``."""
    return [kubectl, *dial.kubectl_args(), "exec", "-i", pod, f"--container={dial.container}",
            "--", *DIAL_CMD]


class _KubectlDialer:
    """``buildctl dial-stdio`` through ``kubectl exec`` in the deployment's first pod."""

    def __init__(self, dial: KubectlDial) -> None:
        self.dial = dial
        self.kubectl = shutil.which("kubectl") or "kubectl"
        self.pod = ""

    def check(self) -> None:
        """Find the pod (Running, labelled ``app=<deployment>``, first by name)."""
        args = [self.kubectl, *self.dial.kubectl_args(), "get", "pods",
                f"--selector=app={self.dial.deployment}", "--field-selector=status.phase=Running",
                "--output=jsonpath={.items[*].metadata.name}"]
        try:
            done = subprocess.run(args, capture_output=True, text=True, timeout=API_TIMEOUT,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DaemonUnreachable(f"cannot run kubectl: {exc}") from None
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["failed"])[-1]
            raise DaemonUnreachable(f'builder "{self.dial.builder}": kubectl: {last}')
        pods = sorted(done.stdout.split())
        if not pods:
            raise DaemonUnreachable(
                f'builder "{self.dial.builder}": no running pod of deployment '
                f"{self.dial.deployment}")
        self.pod = pods[0]

    def open(self, conn: socket.socket) -> None:
        """Start one kubectl exec and splice it to ``conn``."""
        proc = subprocess.Popen(kubectl_exec_args(self.dial, self.pod, self.kubectl),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, bufsize=0)
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        threading.Thread(target=_log_lines, args=(proc.stderr, self.pod), daemon=True).start()
        try:
            stdin, stdout = proc.stdin, proc.stdout
            _both_ways(lambda: _copy(lambda: conn.recv(CHUNK), stdin.write, stdin.close),
                       lambda: _copy(lambda: stdout.read(CHUNK), conn.sendall,
                                     lambda: conn.shutdown(socket.SHUT_WR)))
        finally:
            with contextlib.suppress(OSError):
                proc.kill()
            proc.wait()


def _log_lines(stream: IO[bytes], who: str) -> None:
    for line in stream:
        debuglog.LOG.debug("dial-stdio in %s: %s", who, line.decode("utf-8", "replace").rstrip())


def _copy(read: Callable[[], bytes], write: Callable[[bytes], object],
          end: Callable[[], object]) -> None:
    """Copy until EOF or an error, then ``end`` (half-close or close the destination)."""
    try:
        while data := read():
            write(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            end()


def _both_ways(there: Callable[[], None], back: Callable[[], None]) -> None:
    """Run ``back`` in a thread and ``there`` here; return when both have ended."""
    t = threading.Thread(target=back, daemon=True)
    t.start()
    there()
    t.join()


class StdioRelay:
    """A local unix socket whose connections each run one ``buildctl dial-stdio``."""

    def __init__(self, dial: ContainerDial | KubectlDial, sock_path: str) -> None:
        self._dialer: _ExecDialer | _KubectlDialer = (
            _ExecDialer(dial) if isinstance(dial, ContainerDial) else _KubectlDialer(dial))
        self.sock_path = sock_path
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(sock_path)
        self._listener.listen(16)

    def start(self) -> None:
        """Check the target (clear DaemonUnreachable), then accept connections in a thread."""
        self._dialer.check()
        threading.Thread(target=accept_loop, args=(self._listener, self._serve),
                         daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with self._lock:
            self._conns.add(conn)
        try:
            self._dialer.open(conn)
        except (OSError, ValueError, KeyError) as exc:  # ConnectionError is an OSError
            debuglog.LOG.debug("dial-stdio connection failed: %s", exc)
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()

    def close(self) -> None:
        """Stop accepting, cut every connection, remove the socket file."""
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            conns, self._conns = self._conns, set()
        for c in conns:
            with contextlib.suppress(OSError):
                c.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            Path(self.sock_path).unlink()
