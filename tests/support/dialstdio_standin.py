"""Stand-ins for ``buildctl dial-stdio`` (no BuildKit image, no cluster here).

What is real and what is not:

* :class:`GrpcTCPRelay` is the "buildkitd socket": 127.0.0.1:PORT whose connections are
  spliced to the engine's ``/grpc`` hijack, i.e. the engine's real BuildKit (Control,
  LLBBridge, Control.Session).
* :func:`standin_builder_container` makes a *real* container named as buildx names a
  docker-container builder's (``buildx_buildkit_<node>``), from ``busybox:local``, on the host
  network, whose ``buildctl`` is a shell script: ``buildctl dial-stdio`` = ``exec nc 127.0.0.1
  PORT``, the same byte pipe (stdin → socket, socket → stdout) the real command is.  The
  Engine exec API it is reached through (create, hijacked start, multiplexed frames) is real.
* :func:`write_standin_kubectl` writes a ``kubectl`` that answers ``get pods`` with fixed pod
  names and runs ``exec … -- buildctl dial-stdio`` as the same pipe to PORT, logging argv.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import sys
import textwrap
import threading
from pathlib import Path

from dockerapi import DockerAPI

from tui.buildkit.address import Endpoint
from tui.buildkit.relay import Splice, connect, http_upgrade


class GrpcTCPRelay:
    """127.0.0.1:PORT → the engine's ``/grpc`` (one hijacked connection per connection)."""

    def __init__(self, docker: Endpoint) -> None:
        self.docker = docker
        self.connections = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._splices: list[Splice] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            try:
                up = connect(self.docker)
                rest = http_upgrade(up, "/grpc")
                self._splices.append(Splice(conn, up, rest))
            except (OSError, ConnectionError):
                conn.close()

    def close(self) -> None:
        """Stop listening and cut every connection."""
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for s in self._splices:
            s.close()


def standin_builder_container(docker_host: str, name: str, port: int, bindir: Path) -> str:
    """Create and start container ``name`` whose ``buildctl dial-stdio`` pipes to ``port``."""
    bindir.mkdir(parents=True, exist_ok=True)
    script = bindir / "buildctl"
    script.write_text(textwrap.dedent(f"""\
        #!/bin/sh
        # stand-in for `buildctl dial-stdio`: the same byte pipe, to a buildkitd-like socket
        [ "$1" = dial-stdio ] || {{ echo "stand-in buildctl: only dial-stdio" >&2; exit 2; }}
        echo "stand-in dial-stdio to 127.0.0.1:{port}" >&2
        exec nc 127.0.0.1 {port}
    """))
    script.chmod(0o755)
    api = DockerAPI(docker_host)
    body = {
        "Image": "busybox:local", "Cmd": ["sleep", "600"],
        "Env": ["PATH=/standin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Labels": {"bxtui.test": "dialstdio-standin"},
        "HostConfig": {"NetworkMode": "host", "Binds": [f"{bindir}:/standin:ro"]},
    }
    conn = http.client.HTTPConnection("docker", timeout=30)
    conn.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    conn.sock.connect(api.path)
    try:
        conn.request("POST", f"/containers/create?name={name}", json.dumps(body),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    assert resp.status == 201, data
    status, started = api.request("POST", f"/containers/{name}/start")
    assert status == 204, started
    return str(json.loads(data)["Id"])


def remove_container(api: DockerAPI, name: str) -> None:
    """Remove the container (and its anonymous volumes), running or not."""
    api.request("DELETE", f"/containers/{name}?force=1&v=1")


def write_standin_kubectl(bindir: Path, port: int, argv_log: Path,
                          pods: tuple[str, ...] = ("buildkit-pod-b", "buildkit-pod-a")) -> Path:
    """A ``kubectl`` for PATH: ``get pods`` lists ``pods``; ``exec`` pipes stdio to ``port``."""
    bindir.mkdir(parents=True, exist_ok=True)
    path = bindir / "kubectl"
    path.write_text(f"#!{sys.executable}\n" + textwrap.dedent(f"""\
        import os, socket, sys, threading
        with open({str(argv_log)!r}, "a") as f:
            f.write(" ".join(sys.argv[1:]) + "\\n")
        args = sys.argv[1:]
        if "get" in args:
            print({" ".join(pods)!r})
            sys.exit(0)
        if "exec" not in args or args[-2:] != ["buildctl", "dial-stdio"]:
            sys.exit("stand-in kubectl: unexpected " + " ".join(args))
        s = socket.create_connection(("127.0.0.1", {port}))
        def up():
            while data := os.read(0, 65536):
                s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        threading.Thread(target=up, daemon=True).start()
        while data := s.recv(65536):
            os.write(1, data)
    """))
    path.chmod(0o755)
    return path
