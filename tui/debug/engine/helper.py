"""Helper containers: a static toolbox reading build states that need not have any tools.

BuildKit 0.13's gateway can read files only of refs it solved itself, not of the failed
step's mounts; so states are read by the toolbox's ``find``/``stat``/``dd`` in a container
whose root is the toolbox image and where each state is mounted read-only under
:data:`STATES_DIR`.  The same toolbox is mounted at :data:`TOOLBOX_DIR` in shells of
states that have no shell of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import posixpath
import zlib
from collections.abc import Sequence
from dataclasses import dataclass

from tui.buildkit.defs import op_blobs
from tui.buildkit.gateway import Gateway
from tui.buildkit.proto import ops_pb2
from tui.debug.engine.container import Container, ContainerProcess, Drain, OutputFn
from tui.debug.model.fsmodel import LISTER_FORMAT, Snapshot
from tui.debug.model.invoke import ProcessSpec
from tui.debug.model.llbdef import op_digest

#: Where a toolbox is mounted in a shell, and where states are mounted in a helper.
TOOLBOX_DIR = "/.bxtui/toolbox"
STATES_DIR = "/.bxtui/s"
#: The toolbox image when none is given: the busybox-static image the set-up imports.
DEFAULT_TOOLBOX = "busybox:local"
TOOL_PATH = "PATH=/bin:/usr/bin:/sbin:/usr/sbin"
#: Bytes read at most when a whole file is wanted (unified diffs).
WHOLE_FILE_CAP = 4 << 20
_ARGS_CHUNK = 400


def toolbox_path_entries(prefix: str = TOOLBOX_DIR) -> list[str]:
    """The toolbox's directories to put on PATH when it is mounted at ``prefix``."""
    return [f"{prefix}/bin", f"{prefix}/usr/bin", f"{prefix}/sbin", f"{prefix}/usr/sbin"]


def image_identifier(image: str) -> str:
    """A ``docker-image://`` identifier with the reference normalised as BuildKit expects."""
    ref = image.removeprefix("docker-image://")
    name, _, digest = ref.partition("@")
    first = name.split("/", 1)[0]
    if "/" not in name or ("." not in first and ":" not in first and first != "localhost"):
        name = f"docker.io/library/{name}" if "/" not in name else f"docker.io/{name}"
    last = name.rsplit("/", 1)[-1]
    if ":" not in last and not digest:
        name += ":latest"
    return "docker-image://" + name + (f"@{digest}" if digest else "")


def image_definition(image: str, platform: ops_pb2.Platform | None = None) -> ops_pb2.Definition:
    """A definition whose result is ``image``'s root filesystem."""
    op = ops_pb2.Op(source=ops_pb2.SourceOp(identifier=image_identifier(image)))
    if platform is not None:
        op.platform.CopyFrom(platform)
    data = op.SerializeToString()
    terminal = ops_pb2.Op(inputs=[ops_pb2.Input(digest=op_digest(data), index=0)])
    out = ops_pb2.Definition()
    op_blobs(out).extend([data, terminal.SerializeToString()])
    return out


def bind(dest: str, result_id: str, readonly: bool = True) -> ops_pb2.Mount:
    """A container mount of a gateway result id."""
    return ops_pb2.Mount(dest=dest, mountType=ops_pb2.BIND, resultID=result_id,
                         readonly=readonly, input=-1, output=-1)


@dataclass
class Captured:
    """A finished helper process: exit code, output, and the daemon's error text."""

    code: int
    out: bytes
    err: bytes
    error: str | None


class ToolError(RuntimeError):
    """A helper process failed (one line)."""


class HelperContainer:
    """A toolbox-rooted container with states mounted read-only at ``STATES_DIR/<key>``.

    Its init sleeps; each read runs one short non-tty process.  Release with :meth:`release`.
    """

    def __init__(self, container: Container, keys: Sequence[str]) -> None:
        self.container = container
        self.keys = list(keys)
        self._init: ContainerProcess | None = None

    @classmethod
    async def create(cls, gateway: Gateway, toolbox_id: str,
                     states: dict[str, str]) -> HelperContainer:
        """A helper with ``states`` (key -> result id; "" mounts nothing) under STATES_DIR."""
        mounts = [bind("/", toolbox_id)]
        mounts += [bind(f"{STATES_DIR}/{key}", rid) for key, rid in states.items() if rid]
        ctr = await Container.create(gateway, mounts, network=ops_pb2.NONE)
        helper = cls(ctr, list(states))
        try:
            helper._init = await ctr.start(
                ProcessSpec(args=["sleep", "2147483647"], env=[TOOL_PATH], user="0:0",
                            cwd="/", tty=False), lambda fd, data: None)
        except BaseException:
            await ctr.release()
            raise
        return helper

    def path(self, key: str, rel: str = "") -> str:
        """Where ``rel`` of the state ``key`` is inside the helper."""
        rel = posixpath.normpath("/" + rel.lstrip("/")).lstrip("/")
        base = f"{STATES_DIR}/{key}"
        return f"{base}/{rel}" if rel else base

    async def run(self, args: list[str], cwd: str = "/") -> Captured:
        """Run one process to its end and capture its output."""
        out = bytearray()
        err = bytearray()

        def sink(fd: int, data: bytes) -> None:
            (out if fd == 1 else err).extend(data)

        proc = await self.spawn(args, sink, cwd=cwd)
        code = await proc.wait()
        return Captured(code, bytes(out), bytes(err), proc.error)

    async def spawn(self, args: list[str], sink: OutputFn, drain: Drain | None = None,
                    cwd: str = "/") -> ContainerProcess:
        """Start one non-tty process (stdin closed) whose output goes to ``sink``."""
        spec = ProcessSpec(args=args, env=[TOOL_PATH], user="0:0", cwd=cwd, tty=False)
        try:
            proc = await self.container.start(spec, sink)
        except Exception as exc:
            raise ToolError(f"the toolbox could not run {args[0]}: {exc}") from None
        proc.set_drain(drain)
        await proc.close_stdin()
        return proc

    async def walk(self, key: str) -> Snapshot:
        """Every path of the state ``key`` (one ``find | stat`` pass, gzipped on the way)."""
        if key not in self.keys:
            raise KeyError(key)
        lister = f"find . -xdev -exec stat -c '{LISTER_FORMAT}' '{{}}' +"
        script = (f'[ -d "$1" ] || exit 0; cd "$1" || exit 2; '
                  f"if command -v gzip >/dev/null; then {lister} | gzip -1; else {lister}; fi")
        res = await self.run(["sh", "-c", script, "walk", self.path(key)])
        if res.code not in (0, 1):
            raise ToolError(_first_line(res.err) or res.error or "listing the state failed")
        return await asyncio.to_thread(_parse_listing, res.out)

    async def read(self, key: str, rel: str, offset: int = 0, length: int = 65536) -> bytes:
        """Up to ``length`` bytes of a file of the state ``key`` from ``offset``."""
        res = await self.run(["dd", f"if={self.path(key, rel)}", "iflag=skip_bytes,count_bytes",
                              f"skip={max(0, offset)}", f"count={max(0, length)}", "bs=65536"])
        if res.code != 0:
            raise ToolError(_first_line(res.err) or res.error or f"cannot read /{rel}")
        return res.out

    async def checksums(self, paths: list[str]) -> dict[str, str]:
        """md5 of each helper path (missing ones are left out)."""
        sums: dict[str, str] = {}
        for i in range(0, len(paths), _ARGS_CHUNK):
            chunk = paths[i:i + _ARGS_CHUNK]
            res = await self.run(["md5sum", "--", *chunk])
            for line in res.out.decode("utf-8", "surrogateescape").splitlines():
                digest, sep, name = line.partition("  ")
                if sep:
                    sums[name] = digest
        return sums

    async def release(self) -> None:
        """Release the container (kills the sleeping init)."""
        with contextlib.suppress(Exception):
            await self.container.release()


def _parse_listing(data: bytes) -> Snapshot:
    if data[:2] == b"\x1f\x8b":
        data = zlib.decompress(data, 16 + zlib.MAX_WBITS)
    return Snapshot.parse(data)


def _first_line(data: bytes) -> str:
    text = data.decode("utf-8", "replace").strip()
    return text.splitlines()[0] if text else ""
