"""A throw-away dockerd for fault tests: killed, restarted and cut off at will.

It runs the same engine as the test daemon (``BXTUI_DOCKERD`` from ``scripts/daemon.sh env``)
beside it, with its own data root, exec root, socket directory (0700) and bridge; the bridge
is never the other daemon's. The base image is copied over from the test daemon once
(``GET /images/.../get`` → ``POST /images/load``); the data root is kept between runs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

from dockerapi import DockerAPI, _UnixHTTPConnection

from tui.buildkit.relay import Splice

BASE_IMAGE = "busybox:local"


def _engine() -> str:
    return os.environ.get("BXTUI_ENGINE", "26")


class FaultDaemon:
    """A private dockerd that tests may kill (SIGKILL), restart and ping."""

    def __init__(self, source_host: str) -> None:
        engine = _engine()
        self.dockerd = os.environ.get("BXTUI_DOCKERD") or shutil.which("dockerd") or "dockerd"
        self.dir = Path(f"/var/lib/bxtui-fault-{engine}")
        self.run = Path(f"/run/bxtui-fault-{engine}")
        self.sock = self.run / "docker.sock"
        self.host = f"unix://{self.sock}"
        self.bridge = f"br-bxtuif{engine}"
        self.bridge_addr = f"172.30.{100 + int(engine)}.1/24"
        self.source_host = source_host
        self.proc: subprocess.Popen[bytes] | None = None
        self.orphans: list[tuple[int, str]] = []

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, timeout: float = 60) -> None:
        """Start dockerd (if not running) and wait until it answers ``/_ping``."""
        if self.proc is not None and self.proc.poll() is None and self.ping():
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "data").mkdir(exist_ok=True)
        (self.dir / "exec").mkdir(exist_ok=True)
        self.run.mkdir(mode=0o700, exist_ok=True)
        self.run.chmod(0o700)
        self._bridge()
        self._stop_stale()
        with contextlib.suppress(FileNotFoundError):
            self.sock.unlink()
        bindir = Path(self.dockerd).parent
        env = dict(os.environ)
        env["PATH"] = f"{bindir}:{bindir.parent / 'bin'}:{env.get('PATH', '')}"
        log = (self.dir / "dockerd.log").open("ab")
        self.proc = subprocess.Popen(
            [self.dockerd, "--host", self.host, "--data-root", str(self.dir / "data"),
             "--exec-root", str(self.dir / "exec"), "--pidfile", str(self.run / "dockerd.pid"),
             f"--bridge={self.bridge}", "--iptables=false", "--ip6tables=false"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self.proc.poll() is not None:
                raise RuntimeError(f"fault dockerd exited: see {self.dir / 'dockerd.log'}")
            if time.monotonic() > deadline:
                raise RuntimeError("fault dockerd did not answer")
            time.sleep(0.05)  # polling a starting process: nothing to wait on but its socket
        self._base_image()

    def kill(self) -> None:
        """SIGKILL dockerd, as a crash would, and reap it.

        Its managed containerd is killed too: left alone it would make the next start wait
        10 s for it to go away.
        """
        if self.proc is None:
            return
        managed = [p for p in _children(self.proc.pid) if _comm(p) == "containerd"]
        # A RUN's processes outlive dockerd (runc starts them without a shim): the engine's
        # own behaviour. Remembered, and killed once the test is over (see reap()).
        self.orphans += [(p, _comm(p)) for p in _descendants(self.proc.pid)
                         if p not in managed]
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None
        for pid in managed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for pid in managed:
            deadline = time.monotonic() + 10
            while Path(f"/proc/{pid}").exists() and _comm(pid) == "containerd":
                if time.monotonic() > deadline:
                    raise RuntimeError(f"containerd {pid} survived SIGKILL")
                time.sleep(0.02)  # an orphan is reaped by init: nothing to wait on

    def restart(self) -> None:
        """Kill, then start again on the same socket and data root."""
        self.kill()
        self.start()

    def reap(self) -> None:
        """Kill what earlier kills left running (build steps' processes)."""
        for pid, comm in self.orphans:
            if comm and _comm(pid) == comm:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.orphans.clear()

    def stop(self) -> None:
        """Stop dockerd cleanly (it stops its containerd too)."""
        self.reap()
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def ping(self) -> bool:
        """Whether the daemon answers on its socket."""
        try:
            status, _ = DockerAPI(self.host).request("GET", "/_ping")
        except OSError:
            return False
        return status == 200

    # -- set-up ------------------------------------------------------------------------------
    def _stop_stale(self) -> None:
        """Stop a dockerd an earlier run left on our pidfile (and its containerd)."""
        try:
            pid = int((self.run / "dockerd.pid").read_text().strip())
        except (OSError, ValueError):
            return
        if _comm(pid) != "dockerd":
            return
        managed = [p for p in _children(pid) if _comm(p) == "containerd"]
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 30
        while _comm(pid) == "dockerd" or any(_comm(p) == "containerd" for p in managed):
            if time.monotonic() > deadline:
                raise RuntimeError(f"a stale fault dockerd ({pid}) does not stop")
            time.sleep(0.05)  # not our child: nothing to wait on

    def _bridge(self) -> None:
        if subprocess.run(["ip", "link", "show", self.bridge], capture_output=True).returncode:
            subprocess.run(["ip", "link", "add", self.bridge, "type", "bridge"], check=True)
            subprocess.run(["ip", "addr", "add", self.bridge_addr, "dev", self.bridge], check=True)
        subprocess.run(["ip", "link", "set", self.bridge, "up"], check=True)

    def _base_image(self) -> None:
        if DockerAPI(self.host).image(BASE_IMAGE) is not None:
            return
        src = _UnixHTTPConnection(DockerAPI(self.source_host).path)
        src.request("GET", f"/images/{BASE_IMAGE}/get")
        resp = src.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"cannot export {BASE_IMAGE} from the test daemon: {resp.status}")
        dst = _UnixHTTPConnection(str(self.sock))
        dst.putrequest("POST", "/images/load?quiet=1")
        dst.putheader("Content-Type", "application/x-tar")
        dst.putheader("Transfer-Encoding", "chunked")
        dst.endheaders()
        while chunk := resp.read(1 << 20):
            dst.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        dst.send(b"0\r\n\r\n")
        answer = dst.getresponse()
        answer.read()
        src.close()
        dst.close()
        if answer.status != 200 or DockerAPI(self.host).image(BASE_IMAGE) is None:
            raise RuntimeError(f"cannot load {BASE_IMAGE} into the fault daemon")


class SessionCutter:
    """A unix-socket relay to a Docker daemon that can cut its ``/session`` connections.

    Every connection is spliced to the daemon's socket; a connection whose request line is
    ``POST /session`` is remembered, and :meth:`cut` closes those (both directions), as a
    daemon dropping the session would.
    """

    def __init__(self, upstream_sock: str, path: str) -> None:
        self.upstream = upstream_sock
        self.path = path
        self.sessions: list[Splice] = []
        self.seen_session = threading.Event()
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(path)
        os.chmod(path, 0o600)
        self._listener.listen(64)
        self._closing = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closing:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        up = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            up.connect(self.upstream)
            first = conn.recv(65536)
            up.sendall(first)
        except OSError:
            conn.close()
            up.close()
            return
        splice = Splice(conn, up)
        if first.startswith(b"POST /session"):
            with self._lock:
                self.sessions.append(splice)
            self.seen_session.set()

    def cut(self) -> int:
        """Close every ``/session`` connection seen so far; how many."""
        with self._lock:
            cut, self.sessions = self.sessions, []
        for splice in cut:
            splice.close()
        return len(cut)

    def close(self) -> None:
        """Stop accepting and remove the socket."""
        self._closing = True
        self._listener.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            out += [int(x) for x in (task / "children").read_text().split()]
    return out


def _descendants(pid: int) -> list[int]:
    out: list[int] = []
    todo = [pid]
    while todo:
        kids = _children(todo.pop())
        out += kids
        todo += kids
    return out


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""
