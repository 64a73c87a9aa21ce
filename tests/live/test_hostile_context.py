"""Hostile build contexts, each compared with ``docker buildx build`` on the same daemon.

Symlink loops and links out of the context, fifos and sockets, unreadable entries, many
files, long and non-UTF-8 names, files changing during the upload, ``-f`` outside the
context, and a hand-made peer asking for what it should not get. A canary file outside the
context is watched with inotify (:class:`hostilepeer.OpenWatch`): it must never be opened.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import re
import shutil
import socket
import subprocess
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path

import pytest
from conftest import bxtui_binary, run_cmd
from hostilepeer import FileSyncPeer, OpenWatch, Stat, regular_ids
from plainlog import parse_plain

from tui.buildkit.fsync.diffcopy import (
    DiffCopyError,
    Packet,
    RemoteError,
    parse_packet,
    receive_tree,
    send_tree,
    stat_packet,
)
from tui.buildkit.fsync.entry import Entry
from tui.buildkit.fsync.opener import FileOpener
from tui.buildkit.fsync.walk import walk
from tui.buildkit.session.server import SessionServer

DROP_DAC = [
    "setpriv",
    "--bounding-set=-dac_override,-dac_read_search",
    "--inh-caps=-dac_override,-dac_read_search",
    "--",
]
CANARY = b"CANARY-7f3a9c-never-sent"
# Lists /ctx with every name and link target hex-encoded (names may be any bytes), sorted.
LISTER = (
    "cd /ctx && find . -mindepth 1 -exec sh -c 'for f; do "
    'printf "%s " "$(printf %s "$f" | od -An -v -tx1 | tr -d " \\n")"; '
    'stat -c "%F %A %s" "$f" | tr -d "\\n"; '
    'if [ -L "$f" ]; then printf " -> %s" "$(readlink "$f" | od -An -v -tx1 | tr -d " \\n")"; fi; '
    "echo; done' sh {} + | sort"
)
LIST_DOCKERFILE = (
    "FROM busybox:local\n"
    "COPY . /ctx\n"
    f"RUN echo listing; {LISTER}; "
    f"echo canary-files $(find /ctx -type f -exec cat {{}} + | grep -c {CANARY.decode()})\n"
)
_REF_ID = re.compile(r"[0-9a-z-]+::[0-9a-z]+")


# ---------------------------------------------------------------- helpers


def _env(docker_host: str) -> dict[str, str]:
    return {"DOCKER_HOST": docker_host, "BUILDX_NO_DEFAULT_ATTESTATIONS": "1"}


def _build(
    tool: str, docker_host: str, *args: str, drop_dac: bool = False
) -> subprocess.CompletedProcess[str]:
    """``tool build --progress=plain --no-cache ARGS``; without DAC capabilities if asked."""
    prefix = DROP_DAC if drop_dac else []
    argv = [*prefix, tool, "build", "--progress=plain", "--no-cache", *args]
    return run_cmd(argv, env=_env(docker_host), timeout=240)


def _both(
    docker_host: str, buildx: str, *args: str, drop_dac: bool = False
) -> tuple[subprocess.CompletedProcess[str], subprocess.CompletedProcess[str]]:
    """buildx and bxtui on the same arguments, side by side (they share nothing)."""
    with ThreadPoolExecutor(2) as pool:
        bx_f = pool.submit(_build, buildx, docker_host, *args, drop_dac=drop_dac)
        ours_f = pool.submit(_build, bxtui_binary(), docker_host, *args, drop_dac=drop_dac)
        bx, ours = bx_f.result(), ours_f.result()
    assert "Traceback" not in ours.stderr, ours.stderr
    return bx, ours


def _run_lines(text: str, needle: str) -> list[str]:
    """Output lines of the step whose name contains ``needle`` (prefixes removed)."""
    run = parse_plain(text)
    nums = [n for n, name in run.names.items() if needle in name]
    assert nums, f"no step containing {needle!r} in:\n{text}"
    pat = re.compile(rf"^#{nums[0]} \d+\.\d+ (.*)$")
    return [m.group(1) for line in text.splitlines() if (m := pat.match(line))]


def _listing(text: str) -> dict[bytes, str]:
    """The LISTER output: name bytes -> ``type mode size [-> target bytes]``."""
    out: dict[bytes, str] = {}
    lines = _run_lines(text, "echo listing")
    assert lines and lines[0] == "listing", lines
    for line in lines[1:]:
        if line.startswith("canary-files "):
            continue
        hexname, rest = line.split(" ", 1)
        if " -> " in rest:
            rest, target = rest.split(" -> ")
            rest += " -> " + repr(bytes.fromhex(target).rstrip(b"\n"))
        out[bytes.fromhex(hexname)[2:]] = rest  # strip "./"
    return out


def _canary_files(text: str) -> str:
    return next(x for x in _run_lines(text, "echo listing") if x.startswith("canary-files "))


def _error(proc: subprocess.CompletedProcess[str]) -> str | None:
    err = parse_plain(proc.stderr).final_error
    if err is not None:  # buildx 0.29 (Docker Engine 28's peer) wraps it: "failed to build: "
        err = err.removeprefix("failed to build: ")
    return None if err is None else _REF_ID.sub("<ref>", err)


#: BuildKit 0.25 (Docker Engine 28) refuses non-UTF-8 names in FileSync's STAT packets (its
#: protobuf checks strings): the build fails the same way for buildx and for us.
_UTF8_REFUSED = "string field contains invalid UTF-8"


def _refused_utf8(bx: subprocess.CompletedProcess[str],
                  ours: subprocess.CompletedProcess[str]) -> bool:
    """Whether the daemon refused non-UTF-8 names (BuildKit 0.25), for both clients.

    Both fail, with the refusal (buildx's ``Internal: rpc error: …`` names the code) or,
    when the transfer was torn down under them, ``context canceled``.
    """
    if _UTF8_REFUSED not in bx.stderr + ours.stderr:
        return False
    # the daemon may still be tearing down the refused transfer of the first build when the
    # second asks for the same directory: that one then reads "context canceled" (seen in CI)
    assert ours.returncode == 1, ours.stderr
    assert _UTF8_REFUSED in (_error(ours) or "") or "context canceled" in ours.stderr, \
        ours.stderr
    assert bx.returncode != 0, bx.stderr
    assert _UTF8_REFUSED in bx.stderr or "context canceled" in bx.stderr, bx.stderr
    return True


@pytest.fixture
def canary(tmp_path: Path) -> Iterator[tuple[Path, OpenWatch]]:
    """``tmp_path/outside/canary.txt`` and an inotify watch on its directory."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "canary.txt").write_bytes(CANARY + b"\n")
    with OpenWatch([outside]) as watch:
        assert (outside / "canary.txt").read_bytes().startswith(CANARY)
        assert ("open", outside / "canary.txt") in watch.events()  # the watch works
        yield outside / "canary.txt", watch


def _dockerfile(tmp_path: Path, text: str = LIST_DOCKERFILE) -> Path:
    """A Dockerfile in its own directory (passed with ``-f``: not part of the listing)."""
    df = tmp_path / "df" / "Dockerfile"
    df.parent.mkdir(exist_ok=True)
    df.write_text(text)
    return df


def _unix_socket(path: Path) -> None:
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(path))


# ---------------------------------------------------------------- 1-3, 10: links, fifos, sockets


def _link_tree(root: Path, canary: Path) -> None:
    (root / "d").mkdir(parents=True)
    (root / "deep" / "x" / "y").mkdir(parents=True)
    (root / "file.txt").write_text("inside\n")
    os.symlink("b", root / "a")  # a -> b -> a
    os.symlink("a", root / "b")
    os.symlink("..", root / "d" / "up")  # a directory link to its parent
    os.symlink(".", root / "self")
    os.symlink("/etc/passwd", root / "abs")
    os.symlink("../../outside", root / "rel")
    os.symlink(str(canary), root / "canary-abs")
    os.symlink("../outside/canary.txt", root / "canary-rel")
    os.symlink("../outside", root / "canary-dir")
    os.symlink("../../../../outside/canary.txt", root / "deep" / "x" / "y" / "esc")
    os.mkfifo(root / "fifo")
    _unix_socket(root / "sock")


@pytest.mark.daemon
def test_links_fifos_and_sockets_arrive_as_buildx_sends_them(
    tmp_path: Path, docker_host: str, buildx: str, canary: tuple[Path, OpenWatch]
) -> None:
    canary_file, watch = canary
    ctx = tmp_path / "ctx"
    _link_tree(ctx, canary_file)
    df = _dockerfile(tmp_path)
    bx = _build(buildx, docker_host, "-f", str(df), str(ctx))
    with OpenWatch([ctx]) as ctx_watch:
        watch.events()  # whatever happened before our run is not ours
        ours = _build(bxtui_binary(), docker_host, "-f", str(df), str(ctx))
        ctx_opens = ctx_watch.events()
    assert watch.events() == []  # the canary's directory: not listed, nothing in it opened
    assert ctx / "fifo" not in {p for _, p in ctx_opens}  # the fifo is never opened
    assert bx.returncode == 0, bx.stderr
    assert ours.returncode == 0, ours.stderr
    listing = _listing(ours.stderr)
    assert listing == _listing(bx.stderr)
    assert listing[b"a"].endswith(" -> b'b'") and listing[b"b"].endswith(" -> b'a'")
    assert listing[b"d/up"].startswith("symbolic link") and listing[b"d/up"].endswith("'..'")
    assert listing[b"abs"].endswith(" -> b'/etc/passwd'")
    assert listing[b"rel"].endswith(" -> b'../../outside'")
    assert listing[b"canary-abs"].endswith(f" -> {os.fsencode(canary_file)!r}")
    assert listing[b"fifo"].startswith("fifo ")
    # fsutil clears the socket type bit: buildx sends a socket as an empty regular file
    assert listing[b"sock"].startswith("regular empty file ")
    assert _canary_files(ours.stderr) == _canary_files(bx.stderr) == "canary-files 0"


@pytest.mark.daemon
@pytest.mark.parametrize("source", ["canary-rel", "a", "deep/x/y/esc", "canary-abs"])
def test_copy_through_hostile_links_fails_like_buildx(
    tmp_path: Path, docker_host: str, buildx: str, canary: tuple[Path, OpenWatch], source: str
) -> None:
    """COPY of a link loop or a link out of the context: the same error, nothing read."""
    canary_file, watch = canary
    ctx = tmp_path / "ctx"
    _link_tree(ctx, canary_file)
    df = _dockerfile(tmp_path, f"FROM busybox:local\nCOPY {source} /x\nRUN cat /x\n")
    bx = _build(buildx, docker_host, "-f", str(df), str(ctx))
    watch.events()
    ours = _build(bxtui_binary(), docker_host, "-f", str(df), str(ctx))
    assert watch.events() == []
    assert "Traceback" not in ours.stderr, ours.stderr
    assert bx.returncode == ours.returncode == 1
    assert _error(ours) == _error(bx)
    assert CANARY.decode() not in ours.stderr


# ---------------------------------------------------------------- 4: unreadable entries


def _unreadable(kind: str, ctx: Path) -> Path:
    """Make the unreadable entry of ``kind``; the path the child must fail to read."""
    (ctx / "sub").mkdir(parents=True)
    (ctx / "sub" / "inner").write_text("inner\n")
    (ctx / "fine.txt").write_text("fine\n")
    (ctx / "f000").write_text("secret\n")
    target = {"file": ctx / "f000", "dir": ctx / "sub", "dir-no-x": ctx / "sub",
              "root-x-only": ctx}[kind]
    mode = {"file": 0, "dir": 0, "dir-no-x": 0o400, "root-x-only": 0o100}[kind]
    target.chmod(mode)
    return target


@pytest.fixture
def no_dac() -> None:
    """Needs ``setpriv`` and a root that gets EACCES once DAC capabilities are dropped."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")


@pytest.mark.daemon
@pytest.mark.usefixtures("no_dac")
@pytest.mark.parametrize("kind", ["file", "dir", "dir-no-x", "root-x-only"])
def test_unreadable_entries(tmp_path: Path, docker_host: str, buildx: str, kind: str) -> None:
    ctx = tmp_path / "ctx"
    target = _unreadable(kind, ctx)
    try:
        probe = ["cat", str(target)] if kind == "file" else ["ls", str(target)]
        if kind == "dir-no-x":
            probe = ["cat", str(target / "inner")]
        assert run_cmd([*DROP_DAC, *probe]).returncode != 0, "the child can still read it"
        df = _dockerfile(tmp_path)
        bx, ours = _both(docker_host, buildx, "-f", str(df), str(ctx), drop_dac=True)
    finally:
        target.chmod(0o755)
    if kind == "file":
        # fsutil's sender ignores an open error on a requested file and sends it empty
        assert bx.returncode == ours.returncode == 0, ours.stderr
        listing = _listing(ours.stderr)
        assert listing == _listing(bx.stderr)
        assert listing[b"f000"] == "regular empty file ---------- 0"
        return
    assert ours.returncode == 1
    err = _error(ours)
    assert err is not None and str(target) in err, ours.stderr
    if kind == "root-x-only":
        # Deliberate difference: fsutil ignores every error on the root directory, so buildx
        # uploads an empty context and the build goes on; we refuse with the path.
        assert err == f"failed to solve: error from sender: open {ctx}: permission denied"
        assert bx.returncode == 0, bx.stderr
        assert _listing(bx.stderr) == {}
        return
    op, bad = ("open", target) if kind == "dir" else ("lstat", target / "inner")
    assert err == f"failed to solve: error from sender: {op} {bad}: permission denied"
    assert bx.returncode == 1 and _error(bx) == err


@pytest.mark.daemon
@pytest.mark.usefixtures("no_dac")
def test_unreadable_context_root(tmp_path: Path, docker_host: str, buildx: str) -> None:
    """A 000 context (Dockerfile inside): one clear line naming the path, like buildx fails."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox:local\n")
    ctx.chmod(0)
    try:
        assert run_cmd([*DROP_DAC, "ls", str(ctx)]).returncode != 0
        # One after the other (at once, the two reads of the Dockerfile may share a vertex),
        # and asked again (at most three times) when BuildKit 0.13 answered the refused read
        # with "context canceled", which it does to buildx too (seen in CI).
        for _ in range(3):
            bx = _build(buildx, docker_host, str(ctx), drop_dac=True)
            ours = _build(bxtui_binary(), docker_host, str(ctx), drop_dac=True)
            if "context canceled" not in bx.stderr + ours.stderr:
                break
    finally:
        ctx.chmod(0o755)
    assert "Traceback" not in ours.stderr, ours.stderr
    assert bx.returncode == ours.returncode == 1
    assert f"lstat {ctx}/Dockerfile: permission denied" in bx.stderr
    errors = [line for line in ours.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and str(ctx / "Dockerfile") in errors[0], ours.stderr


# ---------------------------------------------------------------- 5: many files

MANY = 20_000


@pytest.mark.daemon
def test_many_small_files(tmp_path: Path, docker_host: str, buildx: str) -> None:
    """The whole tree arrives (the full 100,000 and timings: bench/bench_hostile.py)."""
    ctx = tmp_path / "ctx"
    for d in range(MANY // 1000):
        sub = ctx / f"d{d:02d}"
        sub.mkdir(parents=True)
        for i in range(1000):
            (sub / f"f{i:04d}").write_bytes(b"x" * (i % 7))
    df = _dockerfile(
        tmp_path,
        "FROM busybox:local\n"
        'RUN --mount=type=bind,target=/ctx echo "count $(find /ctx -type f | wc -l)"\n',
    )
    bx, ours = _both(docker_host, buildx, "-f", str(df), str(ctx))
    assert bx.returncode == ours.returncode == 0, ours.stderr
    counts = [[x for x in _run_lines(p.stderr, "echo") if x.startswith("count ")]
              for p in (bx, ours)]
    assert counts == [[f"count {MANY}"]] * 2


# ---------------------------------------------------------------- 6: long and non-UTF-8 names


def _deep_chain(base: Path, length: int) -> bytes:
    """Directories of 200-byte names below ``base`` (created relatively) up to ``length``
    bytes of relative path, ending in ``leaf.txt``; the relative path."""
    comp = b"c" * 200
    rel = b""
    fd = os.open(base, os.O_RDONLY | os.O_DIRECTORY)
    try:
        while len(rel) + len(comp) + 1 + len(b"leaf.txt") <= length:
            os.mkdir(comp, dir_fd=fd)
            nfd = os.open(comp, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
            os.close(fd)
            fd = nfd
            rel += comp + b"/"
        leaf = os.open(b"leaf.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
        os.write(leaf, b"deep\n")
        os.close(leaf)
    finally:
        os.close(fd)
    return rel + b"leaf.txt"


@pytest.mark.daemon
def test_long_and_non_utf8_names(tmp_path: Path, docker_host: str, buildx: str) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    names = [
        b"n" * 251 + b".txt",  # 255 bytes
        "é".encode() * 127 + b"x",  # 255 bytes of UTF-8
        b"\xff\xfe.txt",
        b"new\nline.txt",
        b"sp ace.txt",
    ]
    for name in names:
        (ctx / os.fsdecode(name)).write_bytes(name)
    (ctx / os.fsdecode(b"dir-\xe9")).mkdir()
    (ctx / os.fsdecode(b"dir-\xe9/caf\xc3\xa9.txt")).write_text("x")
    os.symlink(b"\xff\xfe.txt", os.fsencode(ctx) + b"/link-\xff")
    (ctx / "deep").mkdir()
    # as deep as the daemon's own snapshot paths (~70 bytes of prefix) still allow
    deep = b"deep/" + _deep_chain(ctx / "deep", 3900)
    df = _dockerfile(tmp_path)
    bx, ours = _both(docker_host, buildx, "-f", str(df), str(ctx))
    if _refused_utf8(bx, ours):
        return
    assert bx.returncode == 0, bx.stderr
    assert ours.returncode == 0, ours.stderr
    listing = _listing(ours.stderr)
    assert listing == _listing(bx.stderr)
    assert set(names) | {b"dir-\xe9/caf\xc3\xa9.txt", b"link-\xff", deep} <= set(listing)
    assert listing[b"link-\xff"].endswith(" -> " + repr(b"\xff\xfe.txt"))


@pytest.mark.daemon
def test_path_beyond_path_max_fails_like_buildx(
    tmp_path: Path, docker_host: str, buildx: str
) -> None:
    """A path longer than PATH_MAX (made relatively): the same one-line error as buildx."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    _deep_chain(ctx, 4400)
    df = _dockerfile(tmp_path)
    bx, ours = _both(docker_host, buildx, "-f", str(df), str(ctx))
    assert bx.returncode == ours.returncode == 1
    err = _error(ours)
    assert err is not None and err.endswith(": file name too long"), ours.stderr
    assert err.startswith(f"failed to solve: error from sender: lstat {ctx}/cccc")
    assert err == _error(bx)


# ---------------------------------------------------------------- 7: changes during the upload


async def _packets(q: asyncio.Queue[Packet | None]) -> AsyncIterator[Packet]:
    while (pkt := await q.get()) is not None:
        yield pkt


async def _put(q: asyncio.Queue[Packet | None], pkt: Packet) -> None:
    await q.put(Packet.FromString(pkt.SerializeToString()))


async def _transfer(
    src: Path, dst: Path, hooks: dict[str, Callable[[], object]], monkeypatch: pytest.MonkeyPatch
) -> tuple[BaseException | None, BaseException | None]:
    """send_tree -> receive_tree in memory; ``hooks[path]`` runs right before that file is
    opened for its DATA (after the listing). The (sender, receiver) exceptions."""
    real_open = FileOpener.open

    def open_after_hook(self: FileOpener, entry: Entry) -> int:
        hook = hooks.pop(entry.path, None)
        if hook is not None:
            hook()
        return real_open(self, entry)

    monkeypatch.setattr(FileOpener, "open", open_after_hook)
    down: asyncio.Queue[Packet | None] = asyncio.Queue()
    up: asyncio.Queue[Packet | None] = asyncio.Queue()
    sent, received = await asyncio.wait_for(
        asyncio.gather(
            send_tree(_packets(up), partial(_put, down), str(src)),
            receive_tree(_packets(down), partial(_put, up), str(dst)),
            return_exceptions=True,
        ),
        20,
    )
    assert not hooks, f"hooks never ran: {sorted(hooks)}"
    return (
        sent if isinstance(sent, BaseException) else None,
        received if isinstance(received, BaseException) else None,
    )


async def test_files_rewritten_or_vanishing_during_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As fsutil: a file is read as it is when its data is sent; a vanished one arrives empty."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    for name in ("grow", "shrink", "rewrite", "vanish", "steady"):
        (src / name).write_bytes(name.encode() * 100)

    def rewrite() -> None:
        with open(src / "rewrite", "r+b") as f:  # same inode, new content
            f.write(b"REWRITTEN")

    hooks: dict[str, Callable[[], object]] = {
        "grow": lambda: (src / "grow").write_bytes(b"grow" * 100 + b"+more"),
        "shrink": lambda: os.truncate(src / "shrink", 3),
        "rewrite": rewrite,
        "vanish": lambda: (src / "vanish").unlink(),
    }
    assert await _transfer(src, dst, hooks, monkeypatch) == (None, None)
    assert (dst / "grow").read_bytes() == b"grow" * 100 + b"+more"
    assert (dst / "shrink").read_bytes() == b"shr"
    assert (dst / "rewrite").read_bytes() == b"REWRITTEN" + (b"rewrite" * 100)[9:]
    assert (dst / "vanish").read_bytes() == b""
    assert (dst / "steady").read_bytes() == b"steady" * 100


@pytest.mark.parametrize("swap", ["symlink-to-canary", "other-file", "fifo", "directory"])
async def test_file_replaced_during_upload_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, canary: tuple[Path, OpenWatch], swap: str
) -> None:
    """A path that is no longer the listed file: never read (fsutil would follow a symlink
    out of the context or block on a fifo); the transfer fails naming it."""
    canary_file, watch = canary
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    victim = src / "victim"
    victim.write_text("original")

    def replace() -> None:
        if swap == "other-file":
            (src / "new").write_text("replacement")
            os.replace(src / "new", victim)
            return
        victim.unlink()
        if swap == "symlink-to-canary":
            os.symlink(canary_file, victim)
        elif swap == "fifo":
            os.mkfifo(victim)
        else:
            victim.mkdir()

    sent, received = await _transfer(src, dst, {"victim": replace}, monkeypatch)
    want = f"open {victim}: replaced during the upload, try again"
    assert isinstance(sent, DiffCopyError) and str(sent) == want
    assert isinstance(received, RemoteError) and want in str(received)
    assert watch.events() == []


@pytest.mark.daemon
def test_context_churning_during_upload_never_hangs(tmp_path: Path, docker_host: str) -> None:
    """Files replaced, rewritten and deleted all through a real upload: the build ends, with
    the tree or with one clear error naming a file; never a hang or a traceback."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    names = [f"f{i:03d}" for i in range(300)]
    for n in names:
        (ctx / n).write_bytes(b"x" * 5000)
    df = _dockerfile(tmp_path, "FROM busybox:local\nCOPY . /ctx\nRUN ls /ctx | wc -l\n")
    stop = threading.Event()

    def churn() -> None:
        i = 0
        while not stop.is_set():
            n = ctx / names[i % len(names)]
            with contextlib.suppress(FileNotFoundError):
                if i % 3 == 0:
                    (ctx / "tmp").write_bytes(b"y" * 3000)
                    os.replace(ctx / "tmp", n)
                elif i % 3 == 1:
                    n.write_bytes(b"z" * (i % 9000))
                else:
                    n.unlink()
            i += 1
            stop.wait(0.0005)  # throttle only: the build runs whatever the timing

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        ours = _build(bxtui_binary(), docker_host, "-f", str(df), str(ctx))
    finally:
        stop.set()
        worker.join()
    assert "Traceback" not in ours.stderr, ours.stderr
    if ours.returncode != 0:
        err = _error(ours) or ""
        assert re.search(rf"open {ctx}/\S+: replaced during the upload", err), ours.stderr


# ---------------------------------------------------------------- 8: -f outside the context


@pytest.mark.daemon
def test_dockerfile_outside_context(tmp_path: Path, docker_host: str, buildx: str) -> None:
    ctx, dfdir = tmp_path / "ctx", tmp_path / "dfdir"
    (ctx / "sub").mkdir(parents=True)
    dfdir.mkdir()
    (ctx / "in.txt").write_text("in")
    (ctx / "skip.txt").write_text("skip")
    (ctx / "ctxskip.txt").write_text("ctxskip")
    (ctx / "sub" / "x").write_text("x")
    (ctx / ".dockerignore").write_text("ctxskip.txt\n")
    (dfdir / "df-only.txt").write_text("never in the context")
    (dfdir / "Dockerfile.dockerignore").write_text("skip.txt\n")
    os.symlink("../dfdir/df-only.txt", ctx / "to-df")
    df = dfdir / "Dockerfile"
    df.write_text(LIST_DOCKERFILE)
    bx = _build(buildx, docker_host, "-f", str(df), str(ctx))
    with OpenWatch([dfdir]) as watch:
        ours = _build(bxtui_binary(), docker_host, "-f", str(df), str(ctx))
        opened = {p.name for _, p in watch.events()}
    assert bx.returncode == 0, bx.stderr
    assert ours.returncode == 0, ours.stderr
    listing = _listing(ours.stderr)
    assert listing == _listing(bx.stderr)
    # the Dockerfile's own ignore file replaces the context's .dockerignore (as buildx)
    assert b"skip.txt" not in listing and b"ctxskip.txt" in listing
    assert not {b"Dockerfile", b"df-only.txt", b"Dockerfile.dockerignore"} & set(listing)
    assert "df-only.txt" not in opened  # only the Dockerfile (and its ignore file) are read


# ---------------------------------------------------------------- 9, 11: a hostile peer


def _peer_tree(tmp_path: Path, canary_file: Path) -> Path:
    ctx = tmp_path / "ctx"
    (ctx / "a").mkdir(parents=True)
    (ctx / "a" / "in.txt").write_text("a/in")
    (ctx / "top.txt").write_text("top")
    os.symlink("../outside", ctx / "link-out")
    os.symlink(str(canary_file), ctx / "abs-canary")
    os.symlink("..", ctx / "up")
    os.symlink("loop2", ctx / "loop1")
    os.symlink("loop1", ctx / "loop2")
    os.mkfifo(ctx / "fifo")
    return ctx


UNKNOWN_DIRS = [
    [("dir-name", "nope")],
    [("dir-name", "../context")],
    [("dir-name", "context/..")],
    [("dir-name", "/")],
    [("dir-name", "")],
    [],
    [("dir-name", "%2E%2E%2Fcontext"), ("dir-name-encoded", "1")],
]


@pytest.mark.parametrize("md", UNKNOWN_DIRS, ids=lambda md: repr(md)[:40])
async def test_peer_unknown_dir_refused(
    tmp_path: Path, canary: tuple[Path, OpenWatch], md: list[tuple[str, str]]
) -> None:
    import grpc

    ctx = _peer_tree(tmp_path, canary[0])
    async with FileSyncPeer(SessionServer(dirs={"context": str(ctx)})) as peer:
        res = await peer.diffcopy(md)
    assert res.code == grpc.StatusCode.NOT_FOUND
    assert "no access allowed to dir" in res.details
    assert res.stats == [] and res.data == {}
    assert canary[1].events() == []


BAD_PATTERNS = {
    "exclude !": ([("exclude-patterns", "*.log"), ("exclude-patterns", "!")],
                  'invalid excludepatterns: [*.log !]: illegal exclusion pattern: "!"'),
    "include !": ([("include-patterns", "!")],
                  'invalid includepatterns: [!]: illegal exclusion pattern: "!"'),
    "exclude [": ([("exclude-patterns", "a[")],
                  "invalid excludepatterns: [a[]: syntax error in pattern"),
    "include \\": ([("include-patterns", "a\\")],
                   "invalid includepatterns: [a\\]: syntax error in pattern"),
    # followpaths' targets join the include patterns (Go prints the whole list)
    "follow and include [": ([("followpaths", "top.txt"), ("include-patterns", "[")],
                             "invalid includepatterns: [[ top.txt]: syntax error in pattern"),
}


@pytest.mark.parametrize("case", sorted(BAD_PATTERNS))
async def test_peer_bad_patterns_fail_the_call_before_any_packet(
    tmp_path: Path, canary: tuple[Path, OpenWatch], case: str
) -> None:
    """As fsutil's NewFilterFS: the DiffCopy call itself fails (``code = Unknown``)."""
    import grpc

    ctx = _peer_tree(tmp_path, canary[0])
    options, details = BAD_PATTERNS[case]
    async with FileSyncPeer(SessionServer(dirs={"context": str(ctx)})) as peer:
        res = await peer.diffcopy([("dir-name", "context"), *options])
    assert (res.code, res.details) == (grpc.StatusCode.UNKNOWN, details)
    assert res.stats == [] and res.err is None and not res.fin


ESCAPES: dict[str, tuple[list[tuple[str, str]], list[str] | None]] = {
    "include ../outside": ([("include-patterns", "../outside")], []),
    "include /../..": ([("include-patterns", "/../..")], None),
    "include a/../../x": ([("include-patterns", "a/../../x")], []),
    "include ../*": ([("include-patterns", "../*")], []),
    "include ../outside/** and top": (
        [("include-patterns", "../outside/**"), ("include-patterns", "top.txt")], ["top.txt"]
    ),
    "follow ../outside/canary.txt": ([("followpaths", "../outside/canary.txt")], []),
    "follow /../../outside": ([("followpaths", "/../../outside")], []),
    "follow a/../../x": ([("followpaths", "a/../../x")], []),
    "follow link-out/canary.txt": ([("followpaths", "link-out/canary.txt")], ["link-out"]),
    "follow abs-canary": ([("followpaths", "abs-canary")], ["abs-canary"]),
    "follow up/up/outside": ([("followpaths", "up/up/outside/canary.txt")], ["up"]),
    "follow loop1": ([("followpaths", "loop1")], ["loop1", "loop2"]),
    "exclude !../outside": (
        [("exclude-patterns", "*"), ("exclude-patterns", "!../outside")], []
    ),
    "encoded include": (
        [("include-patterns", "..%2Foutside"), ("include-patterns-encoded", "1")], []
    ),
}


def _assert_inside(ctx: Path, paths: list[str]) -> None:
    """Each listed path is clean, relative, and an entry under ``ctx``."""
    real = str(ctx.resolve())
    for p in paths:
        assert not p.startswith("/") and ".." not in p.split("/"), p
        assert os.path.lexists(ctx / p)
        assert os.path.realpath((ctx / p).parent).startswith(real)


@pytest.mark.parametrize("case", sorted(ESCAPES))
async def test_peer_patterns_never_escape_the_root(
    tmp_path: Path, canary: tuple[Path, OpenWatch], case: str
) -> None:
    canary_file, watch = canary
    ctx = _peer_tree(tmp_path, canary_file)
    options, want = ESCAPES[case]
    async with FileSyncPeer(SessionServer(dirs={"context": str(ctx)})) as peer:
        res = await peer.diffcopy([("dir-name", "context"), *options])
    assert res.err is None and res.fin, (res.err, res.details)
    if want is not None:
        assert res.paths == want
    _assert_inside(ctx, res.paths)
    assert all(CANARY not in d for d in res.data.values())
    assert watch.events() == []


@pytest.mark.parametrize("target", ["abs-canary", "link-out", "fifo", "a", "past-the-end"])
async def test_peer_requests_outside_the_listing_refused(
    tmp_path: Path, canary: tuple[Path, OpenWatch], target: str
) -> None:
    """REQ for a link, a fifo, a directory or an id never listed: refused, nothing opened."""
    canary_file, watch = canary
    ctx = _peer_tree(tmp_path, canary_file)

    def choose(stats: list[Stat]) -> list[int]:
        paths = [s.path for s in stats]
        bad = len(stats) + 5 if target == "past-the-end" else paths.index(target)
        return [*regular_ids(stats)[:1], bad]

    with OpenWatch([ctx]) as ctx_watch:
        async with FileSyncPeer(SessionServer(dirs={"context": str(ctx)})) as peer:
            res = await peer.diffcopy([("dir-name", "context")], choose)
        ctx_opens = {p for _, p in ctx_watch.events()}
    assert res.err is not None and re.fullmatch(r"invalid file id \d+", res.err), res.err
    assert not res.fin
    assert watch.events() == []
    assert ctx / "fifo" not in ctx_opens
    assert all(CANARY not in d for d in res.data.values())


async def test_peer_duplicate_request_refused(
    tmp_path: Path, canary: tuple[Path, OpenWatch]
) -> None:
    ctx = _peer_tree(tmp_path, canary[0])
    async with FileSyncPeer(SessionServer(dirs={"context": str(ctx)})) as peer:
        res = await peer.diffcopy(
            [("dir-name", "context")], lambda stats: regular_ids(stats)[:1] * 2
        )
    assert res.err is not None and res.err.startswith("invalid file id"), res
    assert canary[1].events() == []


# ---------------------------------------------------------------- raw names on the wire


def test_non_utf8_stat_is_encoded_raw(tmp_path: Path) -> None:
    """The hand-encoded STAT of a non-UTF-8 name is the normal one with the raw bytes."""
    (tmp_path / os.fsdecode(b"\xff\xfe")).write_text("x")
    os.symlink(b"\xfa\xfb", os.fsencode(tmp_path) + b"/ab")
    entries = list(walk(str(tmp_path)))
    assert len(entries) == 2
    for entry in entries:
        raw = stat_packet(entry, True).SerializeToString()
        assert b"\xff\xfe" in raw or b"\xfa\xfb" in raw
        # the same bytes with valid UTF-8 in their place parse into the normal packet
        fixed = Packet.FromString(raw.replace(b"\xff\xfe", b"zz").replace(b"\xfa\xfb", b"yy"))
        clean = dataclasses.replace(
            entry,
            path=entry.path.replace("\udcff\udcfe", "zz"),
            linkname=entry.linkname.replace("\udcfa\udcfb", "yy"),
        )
        assert fixed == Packet(type=Packet.PACKET_STAT, stat=clean.to_stat(reset_owner=True))


async def _raw_put(q: asyncio.Queue[Packet | None], pkt: Packet) -> None:
    await q.put(parse_packet(pkt.SerializeToString()))


def _tree_bytes(root: bytes) -> dict[bytes, bytes]:
    """Relative path -> content, or link target for symlinks (``b"->" + target``)."""
    out: dict[bytes, bytes] = {}
    for top, dirs, files in os.walk(root):
        for name in dirs + files:
            full = os.path.join(top, name)
            rel = os.path.relpath(full, root)
            if os.path.islink(full):
                out[rel] = b"->" + os.readlink(full)
            elif not os.path.isdir(full):
                out[rel] = Path(os.fsdecode(full)).read_bytes()
    return out


def _raw_name_tree(src: bytes) -> None:
    os.makedirs(src + b"/d\xe9")
    Path(os.fsdecode(src + b"/\xff\xfe.txt")).write_bytes(b"raw name")
    Path(os.fsdecode(src + b"/d\xe9/caf\xc3\xa9")).write_bytes(b"utf-8 inside")
    os.symlink(b"\xfa-target", src + b"/l\xff")
    os.link(src + b"/\xff\xfe.txt", src + b"/h\xfe")
    with contextlib.suppress(OSError):  # if the file system takes user xattrs
        os.setxattr(src + b"/\xff\xfe.txt", b"user.\xf0x", b"v")


async def test_non_utf8_names_round_trip(tmp_path: Path) -> None:
    """Our sender to our receiver (the ``local`` exporter's side) with names of any bytes."""
    src, dst = os.fsencode(tmp_path / "src"), os.fsencode(tmp_path / "dst")
    _raw_name_tree(src)
    down: asyncio.Queue[Packet | None] = asyncio.Queue()
    up: asyncio.Queue[Packet | None] = asyncio.Queue()
    await asyncio.wait_for(
        asyncio.gather(
            send_tree(_packets(up), partial(_raw_put, down), os.fsdecode(src), reset_owner=False),
            receive_tree(_packets(down), partial(_put, up), os.fsdecode(dst)),
        ),
        20,
    )
    tree = _tree_bytes(dst)
    assert tree == _tree_bytes(src)
    assert tree[b"\xff\xfe.txt"] == b"raw name" and tree[b"l\xff"] == b"->\xfa-target"
    assert os.stat(dst + b"/h\xfe").st_ino == os.stat(dst + b"/\xff\xfe.txt").st_ino
    assert os.listxattr(dst + b"/\xff\xfe.txt") == os.listxattr(src + b"/\xff\xfe.txt")


@pytest.mark.daemon
def test_local_export_of_non_utf8_names(tmp_path: Path, docker_host: str, buildx: str) -> None:
    """``-o type=local``: the daemon sends the names back as raw bytes, as to buildx."""
    ctx = os.fsencode(tmp_path / "ctx")
    os.mkdir(ctx)
    for name in (b"\xff\xfe.txt", b"ok.txt"):
        Path(os.fsdecode(ctx + b"/" + name)).write_bytes(name)
    os.symlink(b"\xfa", ctx + b"/l\xff")
    df = _dockerfile(tmp_path, "FROM scratch\nCOPY . /\n")
    outs = [tmp_path / "out-buildx", tmp_path / "out-bxtui"]
    # one after the other: on BuildKit 0.25 the first to be refused cancels the context
    # transfer the daemon shares between two concurrent builds of the same directory
    bx, ours = (_build(tool, docker_host, "-f", str(df), "-o", f"type=local,dest={out}",
                       os.fsdecode(ctx))
                for tool, out in zip((buildx, bxtui_binary()), outs, strict=True))
    if _refused_utf8(bx, ours):
        return
    assert bx.returncode == 0, bx.stderr
    assert ours.returncode == 0, ours.stderr
    want = {b"\xff\xfe.txt": b"\xff\xfe.txt", b"ok.txt": b"ok.txt", b"l\xff": b"->\xfa"}
    assert _tree_bytes(os.fsencode(outs[0])) == _tree_bytes(os.fsencode(outs[1])) == want
