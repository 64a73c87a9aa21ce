"""Debug containers and their processes, over LLBBridge NewContainer / ExecProcess."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from tui.buildkit.aio import wait_child
from tui.buildkit.debuglog import LOG
from tui.buildkit.errors import BuildError, error_from_status
from tui.buildkit.execstream import ExecStream
from tui.buildkit.gateway import Gateway
from tui.buildkit.proto import gateway_pb2, ops_pb2
from tui.debug.model.invoke import ProcessSpec

OutputFn = Callable[[int, bytes], None]
#: Awaited after each output chunk: lets a slow consumer hold the stream (flow control).
Drain = Callable[[], Awaitable[None]]
RELEASE_TIMEOUT = 20.0


class ProcessError(RuntimeError):
    """A process could not be started or its stream broke."""


class Process(Protocol):
    """A debug process as its users drive it: stdin, resize, signals, flow control, exit."""

    @property
    def exit_code(self) -> int | None:
        """The exit status once it has exited (255 when unknown), else None."""

    @property
    def error(self) -> str | None:
        """The daemon's message for a non-zero exit."""

    @property
    def finished(self) -> bool:
        """True once the process's stream has ended."""

    def set_drain(self, drain: Drain | None) -> None:
        """Await ``drain`` after each output chunk (None: no flow control)."""

    async def write(self, data: bytes) -> None:
        """Send bytes to stdin."""

    async def close_stdin(self) -> None:
        """Send EOF on stdin."""

    async def resize(self, rows: int, cols: int) -> None:
        """Tell the process's terminal its size."""

    async def signal(self, name: str) -> None:
        """Send a signal by name."""

    async def abort(self) -> None:
        """Cancel the process's stream."""

    async def wait(self) -> int:
        """The exit code, once the process has exited and its output is drained."""


class ContainerProcess:
    """One process in a container: stdin, output callback, resize, signals, exit status.

    Exit codes follow BuildKit: 0 for success, the process's code otherwise, 255 when
    unknown; ``error`` holds the daemon's message for a non-zero exit.  Without a tty the
    daemon reports the exit only after stdin's EOF: call :meth:`close_stdin` when no more
    input follows.
    """

    def __init__(self, gateway: Gateway, container_id: str, spec: ProcessSpec,
                 on_output: OutputFn) -> None:
        self.id = f"{container_id}:{secrets.token_hex(6)}"
        self.container_id = container_id
        self.spec = spec
        self._on_output = on_output
        self._gateway = gateway
        self._call: ExecStream | None = None
        self._started = asyncio.Event()
        self._exited = asyncio.Event()
        self._done = asyncio.Event()
        self._stdin_closed = False
        self._write_lock = asyncio.Lock()
        self.exit_code: int | None = None
        self.error: str | None = None
        self._reader: asyncio.Task[None] | None = None
        self._drain: Drain | None = None

    def set_drain(self, drain: Drain | None) -> None:
        """Await ``drain`` after each output chunk: a slow consumer holds the stream."""
        self._drain = drain

    async def start(self, rows: int = 24, cols: int = 80) -> None:
        """Send Init and wait for Started (raises ProcessError when it cannot start)."""
        init = gateway_pb2.InitMessage(
            ContainerID=self.container_id, Meta=self.spec.meta(), Fds=[0, 1, 2],
            Tty=self.spec.tty, secretenv=list(self.spec.secretenv),
        )
        try:
            self._call = await self._gateway.exec_process()
        except (OSError, ConnectionError, TimeoutError) as exc:
            raise ProcessError(f"cannot reach the builder: {exc}") from None
        await self._send(gateway_pb2.ExecMessage(ProcessID=self.id, Init=init))
        self._reader = asyncio.create_task(self._read(self._call))
        started = asyncio.create_task(self._started.wait())
        finished = asyncio.create_task(self._done.wait())
        await asyncio.wait({started, finished}, return_when=asyncio.FIRST_COMPLETED)
        started.cancel()
        finished.cancel()
        if not self._started.is_set():
            raise ProcessError(self.error or "the process did not start")
        if self.spec.tty:
            await self.resize(rows, cols)

    async def _send(self, msg: gateway_pb2.ExecMessage) -> None:
        if self._call is None:
            raise ProcessError("the process has not been started")
        async with self._write_lock:
            await self._call.write(msg)

    async def _read(self, call: ExecStream) -> None:
        output_done = False
        try:
            while True:
                msg = await call.read()
                if msg is None:
                    break
                kind = msg.WhichOneof("Input")
                if kind == "File":
                    if msg.File.Data:
                        self._on_output(msg.File.Fd, msg.File.Data)
                        if self._drain is not None:
                            await self._drain()
                elif kind == "Started":
                    self._started.set()
                elif kind == "Exit":
                    self._record_exit(msg.Exit)
                    await self.close_stdin()
                    if output_done:
                        break
                elif kind == "Done":
                    # the daemon sends Done (all output delivered) and Exit from separate
                    # goroutines, in either order: the stream is over once both are here
                    output_done = True
                    if self.exit_code is not None:
                        break
        except BuildError as exc:
            if self.exit_code is None:
                self.error = exc.message
        finally:
            if self.exit_code is None:
                self.exit_code = 255
                self.error = self.error or "the process stream ended without an exit status"
            self._exited.set()
            self._done.set()
            await call.done_writing()

    def _record_exit(self, exit_msg: gateway_pb2.ExitMessage) -> None:
        self.exit_code = int(exit_msg.Code)
        if exit_msg.HasField("Error") and exit_msg.Error.code:
            self.error = error_from_status(exit_msg.Error).message
        LOG.debug("process %s exited: %s%s", self.id, self.exit_code,
                  f" ({self.error})" if self.error else "")
        self._exited.set()

    async def write(self, data: bytes) -> None:
        """Send bytes to the process's stdin (dropped once it has exited)."""
        if self._exited.is_set() or self._stdin_closed or not data:
            return
        fd = gateway_pb2.FdMessage(Fd=0, Data=data)
        await self._send(gateway_pb2.ExecMessage(ProcessID=self.id, File=fd))

    async def close_stdin(self) -> None:
        """Send EOF on stdin (required before the daemon reports Done)."""
        if self._stdin_closed:
            return
        self._stdin_closed = True
        fd = gateway_pb2.FdMessage(Fd=0, EOF=True)
        with contextlib.suppress(BuildError, ProcessError):
            await self._send(gateway_pb2.ExecMessage(ProcessID=self.id, File=fd))

    async def resize(self, rows: int, cols: int) -> None:
        """Tell the process's terminal its size."""
        if self._exited.is_set():
            return
        msg = gateway_pb2.ResizeMessage(Rows=rows, Cols=cols)
        await self._send(gateway_pb2.ExecMessage(ProcessID=self.id, Resize=msg))

    async def signal(self, name: str) -> None:
        """Send a signal by name (``TERM``, ``INT``, ``KILL``; a ``SIG`` prefix is removed)."""
        if self._exited.is_set():
            return
        sig = gateway_pb2.SignalMessage(Name=name.upper().removeprefix("SIG"))
        await self._send(gateway_pb2.ExecMessage(ProcessID=self.id, Signal=sig))

    @property
    def finished(self) -> bool:
        """True once the process's stream has ended."""
        return self._done.is_set()

    async def wait(self) -> int:
        """Wait until the process has exited and its output is drained; the exit code."""
        await self._done.wait()
        assert self.exit_code is not None
        return self.exit_code

    async def abort(self) -> None:
        """Cancel the stream (the container's release kills the process)."""
        if self._call is not None:
            self._call.cancel()
        if self._reader is not None:
            await wait_child(self._reader)


class Container:
    """A debug container created through the gateway; release it when done."""

    def __init__(self, gateway: Gateway, request: gateway_pb2.NewContainerRequest) -> None:
        self.gateway = gateway
        self.request = request
        self.id = request.ContainerID
        self.released = False
        self.processes: list[ContainerProcess] = []

    @classmethod
    async def create(
        cls,
        gateway: Gateway,
        mounts: list[ops_pb2.Mount],
        *,
        network: ops_pb2.NetMode = ops_pb2.UNSET,
        platform: ops_pb2.Platform | None = None,
        extra_hosts: list[ops_pb2.HostIP] | None = None,
        hostname: str = "",
    ) -> Container:
        """NewContainer with a fresh id."""
        req = gateway_pb2.NewContainerRequest(
            ContainerID=f"bxtui{secrets.token_hex(8)}", Mounts=mounts, Network=network,
            extraHosts=extra_hosts or [], hostname=hostname,
        )
        if platform is not None:
            req.platform.CopyFrom(platform)
        t0 = time.perf_counter()
        await gateway.new_container(req)
        LOG.debug("container %s created in %.1f ms: mounts %s", req.ContainerID,
                  (time.perf_counter() - t0) * 1e3,
                  [(m.dest, m.resultID, "ro" if m.readonly else "rw") for m in mounts])
        return cls(gateway, req)

    async def start(self, spec: ProcessSpec, on_output: OutputFn, rows: int = 24,
                    cols: int = 80) -> ContainerProcess:
        """Start a process (the first one is the container's init)."""
        proc = ContainerProcess(self.gateway, self.id, spec, on_output)
        self.processes.append(proc)
        t0 = time.perf_counter()
        try:
            await proc.start(rows, cols)
        except ProcessError as exc:
            LOG.debug("process %s did not start: %s", proc.id, exc)
            raise
        LOG.debug("process %s started in %.1f ms: %s (user %r, cwd %r, tty %s)", proc.id,
                  (time.perf_counter() - t0) * 1e3, spec.args, spec.user, spec.cwd, spec.tty)
        return proc

    async def release(self) -> str | None:
        """Release the container; returns the daemon's (informational) error text, if any."""
        if self.released:
            return None
        self.released = True
        # The daemon finishes a process's I/O only after stdin's EOF; close them first so
        # the release is not held up by a process nobody types into any more.
        for p in self.processes:
            await p.close_stdin()
        LOG.debug("releasing container %s", self.id)
        try:
            async with asyncio.timeout(RELEASE_TIMEOUT):
                await self.gateway.release_container(self.id)
        except BuildError as err:
            return err.message
        except TimeoutError:
            return f"releasing container {self.id} timed out"
        finally:
            for p in self.processes:
                if not p.finished:
                    await p.abort()
        return None
