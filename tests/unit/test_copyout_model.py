"""Copy-out without a daemon: ``STATE:PATH=DEST`` parsing, in-state path resolution, and the
host writer's rules (modes, links, refusals, nothing left behind)."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest
from conftest import bxtui_binary

from tui.debug.engine.untar import ChunkPipe, UntarError, write_tree
from tui.debug.model.copyspec import (
    CopyRequest,
    Kind,
    PathError,
    default_dest,
    parse_copy_out,
    resolve_steps,
)
from tui.debug.model.usage import OptionsError


@pytest.mark.parametrize(("value", "want"), [
    ("final:/app/out=./o", CopyRequest("final", "/app/out", "./o")),
    ("initial:/=r", CopyRequest("initial", "/", "r")),
    ("build:3:/a=b=c", CopyRequest("build:3", "/a", "b=c")),
    ("#4:/x=/tmp/y", CopyRequest("#4", "/x", "/tmp/y")),
])
def test_parse(value: str, want: CopyRequest) -> None:
    assert parse_copy_out(value) == want


@pytest.mark.parametrize("value", ["final/app=x", ":/a=b", "final:/a", "final:/a="])
def test_parse_refuses(value: str) -> None:
    with pytest.raises(OptionsError, match="--copy-out"):
        parse_copy_out(value)


FS: dict[str, tuple[Kind, str]] = {
    "app": (Kind.DIR, ""), "app/f": (Kind.OTHER, ""), "app/l": (Kind.LINK, "f"),
    "lnk": (Kind.LINK, "/app"), "up": (Kind.LINK, "../.."), "app/rel": (Kind.LINK, "../app"),
    "loop": (Kind.LINK, "loop"),
}


def _resolve(path: str) -> tuple[str, Kind]:
    steps = resolve_steps(path)
    rounds = 0
    while steps.result is None:
        rounds += 1
        steps.answer([FS.get(p, (Kind.MISSING, "")) for p in steps.pending()])
    return steps.result


@pytest.mark.parametrize(("path", "want"), [
    ("/app/f", ("app/f", Kind.OTHER)),
    ("/app/l", ("app/l", Kind.LINK)),  # the last component is not followed
    ("/lnk/f", ("app/f", Kind.OTHER)),  # an absolute link starts at the state's root
    ("/app/rel/rel/f", ("app/f", Kind.OTHER)),
    ("/app/../app/f", ("app/f", Kind.OTHER)),
    ("/", ("", Kind.DIR)),
])
def test_resolve(path: str, want: tuple[str, Kind]) -> None:
    assert _resolve(path) == want


@pytest.mark.parametrize(("path", "why"), [
    ("/../etc", "outside the state"), ("/up/etc", "outside the state"),
    ("/nope", "no such file"), ("/app/f/x", "not a directory"), ("/loop/x", "too many"),
    ("app", "absolute"),
])
def test_resolve_refuses(path: str, why: str) -> None:
    with pytest.raises(PathError, match=why):
        _resolve(path)


def _tar(entries: list[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]]) -> ChunkPipe:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for e in entries:
            if isinstance(e, tuple):
                tar.addfile(e[0], io.BytesIO(e[1]))
            else:
                tar.addfile(e)
    pipe = ChunkPipe()
    data = buf.getvalue()
    for i in range(0, len(data), 1000):
        pipe.feed(data[i:i + 1000])
    pipe.end()
    return pipe


def _info(name: str, kind: bytes = tarfile.DIRTYPE, mode: int = 0o755, link: str = "",
          size: int = 0) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.linkname, ti.size, ti.mtime = kind, mode, link, size, 1_000_000
    return ti


def test_tree_keeps_modes_links_and_makes_private_parents(tmp_path: Path) -> None:
    dest = tmp_path / "new" / "deeper" / "out"
    pipe = _tar([_info("./d", mode=0o750),
                 (_info("./d/x", tarfile.REGTYPE, 0o4751, size=3), b"abc"),
                 _info("./d/l", tarfile.SYMTYPE, 0o777, "/etc/passwd"),
                 _info("./d/h", tarfile.LNKTYPE, 0o644, "./d/x"),
                 _info("./d/ro", mode=0o555),
                 (_info("./d/ro/y", tarfile.REGTYPE, 0o600, size=1), b"y"),
                 _info("./d/fifo", tarfile.FIFOTYPE, 0o644)])
    report = write_tree(pipe, "d", str(dest), overwrite=False)
    assert (report.files, report.dirs, report.links, report.bytes) == (3, 2, 1, 4)
    assert report.skipped == ["/fifo"]
    assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(tmp_path / "new" / "deeper").st_mode) == 0o700
    assert stat.S_IMODE(dest.stat().st_mode) == 0o750
    assert stat.S_IMODE((dest / "x").stat().st_mode) == 0o751  # set-uid dropped
    assert (dest / "x").read_bytes() == b"abc" and (dest / "x").stat().st_mtime == 1_000_000
    assert os.readlink(dest / "l") == "/etc/passwd"
    assert (dest / "h").stat().st_ino == (dest / "x").stat().st_ino
    assert stat.S_IMODE((dest / "ro").stat().st_mode) == 0o555
    assert (dest / "ro" / "y").read_bytes() == b"y"
    assert sorted(os.listdir(dest.parent)) == ["out"]  # no work directory left


@pytest.mark.parametrize(("entries", "why"), [
    ([_info("./d"), _info("./d/../../x", tarfile.REGTYPE)], "outside the copy"),
    ([_info("/d")], "outside the copy"),
    ([_info("./d"), _info("./e/x", tarfile.REGTYPE)], "outside the copy"),
    ([_info("./d"), _info("./d/l", tarfile.SYMTYPE, link="/tmp"),
      _info("./d/l/x", tarfile.REGTYPE)], "not part of the copy"),  # never through a link
    ([_info("./d"), _info("./d/h", tarfile.LNKTYPE, link="/etc/passwd")], "hard link"),
    ([], "nothing to copy"),
])
def test_tree_refuses_and_leaves_nothing(tmp_path: Path,
                                         entries: list[tarfile.TarInfo], why: str) -> None:
    with pytest.raises(UntarError, match=why):
        write_tree(_tar(list(entries)), "d", str(tmp_path / "out"), overwrite=False)
    assert os.listdir(tmp_path) == []


def test_existing_dest_needs_overwrite(tmp_path: Path) -> None:
    dest = tmp_path / "out"
    dest.mkdir()
    (dest / "old").write_text("old")
    one = [(_info("./f", tarfile.REGTYPE, 0o640, size=3), b"new")]
    with pytest.raises(UntarError, match="already exists"):
        write_tree(_tar(list(one)), "f", str(dest), overwrite=False)
    assert (dest / "old").read_text() == "old"
    write_tree(_tar(list(one)), "f", str(dest), overwrite=True)
    assert dest.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["out"]


def test_abandoned_copy_leaves_nothing(tmp_path: Path) -> None:
    pipe = _tar([(_info("./f", tarfile.REGTYPE, size=1), b"x")])
    with pytest.raises(UntarError, match="abandoned"):
        write_tree(pipe, "f", str(tmp_path / "out"), overwrite=False, commit=lambda: False)
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize(("label", "path", "want"), [
    ("final state of [4/4] RUN echo x", "/data/edit.txt", "./bxtui-out/final-4/data/edit.txt"),
    ("initial state of [build 2/3] RUN make", "/", "./bxtui-out/initial-build-2/root"),
    ("output of [stage-1 3/5] COPY a b", "/a", "./bxtui-out/output-stage-1-3/a"),
    ("build result", "/etc/x", "./bxtui-out/build/etc/x"),
    ("src: the context as the daemon received it", "/a b", "./bxtui-out/src/a b"),
])
def test_default_dest(label: str, path: str, want: str) -> None:
    assert default_dest(label, path) == want


@pytest.mark.parametrize(("args", "line"), [
    (["--progress=plain", "--copy-out", "final:x=/tmp/y"],
     "ERROR: --copy-out 'final:x=/tmp/y': expected STATE:/PATH=DEST (STATE: final, initial or "
     "a --step selector; PATH absolute)"),
    (["--progress=tui", "--copy-out", "final:/x=/nonexistent-bxtui-dest"],
     "ERROR: --copy-out is for --progress=plain or quiet (in the app, o in the file browser "
     "copies)"),
])
def test_bad_flags_one_line_before_building(args: list[str], line: str, tmp_path: Path) -> None:
    res = subprocess.run([bxtui_binary(), "build", *args, str(tmp_path)], capture_output=True,
                         text=True, timeout=60, env=dict(os.environ, DOCKER_HOST="unix:///nonexistent"))
    assert res.returncode == 1
    assert res.stderr.strip() == line
