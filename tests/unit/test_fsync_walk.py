"""The fsutil-compatible walker: order, filters, followpaths, stat fields, confinement."""

from __future__ import annotations

import errno
import os
import socket
import stat
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tui.buildkit.fsync import opener as opener_mod
from tui.buildkit.fsync import walk as walk_mod
from tui.buildkit.fsync.entry import (
    MODE_CHAR_DEVICE,
    MODE_DEVICE,
    MODE_DIR,
    MODE_NAMED_PIPE,
    MODE_SETGID,
    MODE_SETUID,
    MODE_STICKY,
    MODE_SYMLINK,
    Entry,
    go_file_mode,
    posix_mode,
)
from tui.buildkit.fsync.opener import FileOpener
from tui.buildkit.fsync.patterns import PatternError
from tui.buildkit.fsync.walk import WalkStopped, open_filter, walk, walk_filter


def make(root: Path, spec: list[str]) -> Path:
    """Build a tree: ``d/`` is a dir, ``l -> t`` a symlink, anything else a file."""
    root.mkdir(parents=True, exist_ok=True)
    for item in spec:
        if " -> " in item:
            name, target = item.split(" -> ")
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            os.symlink(target, root / name)
        elif item.endswith("/"):
            (root / item).mkdir(parents=True, exist_ok=True)
        else:
            (root / item).parent.mkdir(parents=True, exist_ok=True)
            (root / item).write_text(item)
    return root


def paths(root: Path, inc: list[str] | None = None, exc: list[str] | None = None,
          follow: list[str] | None = None) -> list[str]:
    return [e.path for e in walk(str(root), inc or [], exc or [], follow or [])]


def by_path(root: Path) -> dict[str, Entry]:
    return {e.path: e for e in walk(str(root))}


# ---------------------------------------------------------------- order


def test_order_is_per_directory_bytewise(tmp_path: Path) -> None:
    make(tmp_path, ["d/x.txt", "d.txt", "d-e", "a", "B", "d/y/z", "d/y.txt"])
    # a plain sort of full paths would put "d-e" and "d.txt" before "d/x.txt"
    assert paths(tmp_path) == ["B", "a", "d", "d/x.txt", "d/y", "d/y/z", "d/y.txt", "d-e", "d.txt"]


def test_order_uses_bytes_for_undecodable_names(tmp_path: Path) -> None:
    raw = os.fsdecode(b"\xff")  # surrogate-escaped: sorts before U+FF01 as str
    (tmp_path / raw).write_text("x")
    (tmp_path / "\uff01").write_text("x")  # bytes EF BC 81 < FF
    assert paths(tmp_path) == ["\uff01", raw]


def test_root_is_resolved_and_not_emitted(tmp_path: Path) -> None:
    make(tmp_path / "real", ["f"])
    os.symlink("real", tmp_path / "alias")
    entries = list(walk(str(tmp_path / "alias")))
    assert [e.path for e in entries] == ["f"]
    assert entries[0].os_path == str((tmp_path / "real" / "f").resolve())
    with pytest.raises(NotADirectoryError):
        walk(str(tmp_path / "real" / "f"))


# ---------------------------------------------------------------- stat fields


def test_modes_sizes_and_times(tmp_path: Path) -> None:
    make(tmp_path, ["dir/", "file", "suid", "sgid", "sticky/", "lnk -> file"])
    os.chmod(tmp_path / "dir", 0o755)
    os.chmod(tmp_path / "file", 0o644)
    os.chmod(tmp_path / "suid", 0o4755)
    os.chmod(tmp_path / "sgid", 0o2750)
    os.chmod(tmp_path / "sticky", 0o1777)
    os.mkfifo(tmp_path / "fifo", 0o600)
    os.chmod(tmp_path / "fifo", 0o640)
    os.utime(tmp_path / "file", ns=(1, 1_700_000_000_123_456_789))
    e = by_path(tmp_path)
    assert e["dir"].mode == 0x800001ED
    assert e["dir"].size == 0
    assert e["file"].mode == 0x1A4
    assert e["file"].size == 4
    assert e["file"].mod_time_ns == 1_700_000_000_123_456_789
    assert e["suid"].mode == MODE_SETUID | 0o755 == 0x8001ED
    assert e["sgid"].mode == MODE_SETGID | 0o750
    assert e["sticky"].mode == MODE_DIR | MODE_STICKY | 0o777
    assert e["lnk"].mode == MODE_SYMLINK | 0o777 == 0x080001FF
    assert (e["lnk"].size, e["lnk"].linkname) == (4, "file")
    assert e["fifo"].mode == MODE_NAMED_PIPE | 0o640
    assert not e["fifo"].is_regular
    st = os.lstat(tmp_path / "file")
    assert (e["file"].uid, e["file"].gid) == (st.st_uid, st.st_gid)
    assert e["file"].os_path == str(tmp_path.resolve() / "file")


def test_to_stat(tmp_path: Path) -> None:
    make(tmp_path, ["lnk -> target/x"])
    entry = by_path(tmp_path)["lnk"]
    st = entry.to_stat()
    assert (st.path, st.mode, st.linkname, st.size) == ("lnk", 0x080001FF, "target/x", 8)
    assert st.modTime == entry.mod_time_ns
    assert (st.uid, st.gid) == (entry.uid, entry.gid)
    reset = entry.to_stat(reset_owner=True)
    assert (reset.uid, reset.gid) == (0, 0)


def test_socket_travels_as_regular_file(tmp_path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(tmp_path / "s"))
        os.chmod(tmp_path / "s", 0o755)
        entry = by_path(tmp_path)["s"]
    finally:
        sock.close()
    assert entry.mode == 0o755  # fsutil clears ModeSocket
    assert entry.is_regular


@pytest.mark.skipif(os.geteuid() != 0, reason="mknod needs root")
def test_char_device(tmp_path: Path) -> None:
    os.mknod(tmp_path / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.chmod(tmp_path / "null", 0o666)
    entry = by_path(tmp_path)["null"]
    assert entry.mode == MODE_DEVICE | MODE_CHAR_DEVICE | 0o666
    assert (entry.devmajor, entry.devminor) == (1, 3)


def test_xattrs_are_reported(tmp_path: Path) -> None:
    make(tmp_path, ["f"])
    try:
        os.setxattr(tmp_path / "f", "user.bxtui", b"v1")
    except OSError:
        pytest.skip("no user xattrs on this filesystem")
    entry = by_path(tmp_path)["f"]
    assert dict(entry.xattrs) == {"user.bxtui": b"v1"}
    assert dict(entry.to_stat().xattrs) == {"user.bxtui": b"v1"}


def test_mode_conversions() -> None:
    assert go_file_mode(stat.S_IFDIR | 0o1755) == MODE_DIR | MODE_STICKY | 0o755
    assert go_file_mode(stat.S_IFBLK | 0o600) == MODE_DEVICE | 0o600
    assert posix_mode(MODE_DIR | MODE_SETUID | MODE_SETGID | MODE_STICKY | 0o751) == 0o7751


# ---------------------------------------------------------------- hardlinks


def test_hardlinks(tmp_path: Path) -> None:
    make(tmp_path, ["a", "sub/"])
    os.link(tmp_path / "a", tmp_path / "sub" / "b")
    os.link(tmp_path / "a", tmp_path / "z")
    e = by_path(tmp_path)
    assert e["a"].linkname == "" and e["a"].size == 1
    for name in ("sub/b", "z"):
        assert e[name].linkname == "a"
        assert e[name].is_hardlink and e[name].mode == e["a"].mode
        assert e[name].size == 1  # fsutil keeps the size (mkstat overwrites the 0)
    # the first *emitted* occurrence is the link source (newer fsutil's hardlink reset)
    first = {x.path: x for x in walk(str(tmp_path), [], ["a"], [])}
    assert first["sub/b"].linkname == ""
    assert first["z"].linkname == "sub/b"


# ---------------------------------------------------------------- include / exclude


INCLUDE_TREE = ["bar/foo", "foo2"]


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        (["bar"], ["bar", "bar/foo"]),
        (["bar/foo"], ["bar", "bar/foo"]),
        (["b*"], ["bar", "bar/foo"]),
        (["bar/f*"], ["bar", "bar/foo"]),
        (["bar/g*"], []),
        (["f*"], ["foo2"]),
        (["b*/f*"], ["bar", "bar/foo"]),
        (["b*/foo"], ["bar", "bar/foo"]),
        (["b*/"], ["bar", "bar/foo"]),
    ],
)
def test_includes(tmp_path: Path, patterns: list[str], expected: list[str]) -> None:
    make(tmp_path, INCLUDE_TREE)
    assert paths(tmp_path, inc=patterns) == expected


DOUBLESTAR_TREE = [
    "a/b/baz/", "a/b/bar/foo", "a/b/bar/fop", "bar/foo", "baz/", "foo2", "foo/bar/bee",
]


@pytest.mark.parametrize(
    ("patterns", "expected"),
    [
        (["**/bar"], ["a", "a/b", "a/b/bar", "a/b/bar/foo", "a/b/bar/fop", "bar", "bar/foo",
                      "foo", "foo/bar", "foo/bar/bee"]),
        (["**/bar/foo"], ["a", "a/b", "a/b/bar", "a/b/bar/foo", "bar", "bar/foo"]),
        (["**/bar/g*"], []),
        (["**/b*/foo"], ["a", "a/b", "a/b/bar", "a/b/bar/foo", "bar", "bar/foo"]),
    ],
)
def test_doublestar_includes(tmp_path: Path, patterns: list[str], expected: list[str]) -> None:
    make(tmp_path, DOUBLESTAR_TREE)
    assert paths(tmp_path, inc=patterns) == expected


def test_everything_when_no_patterns(tmp_path: Path) -> None:
    make(tmp_path, DOUBLESTAR_TREE)
    assert paths(tmp_path, inc=["**"]) == paths(tmp_path)
    assert "a/b/baz" in paths(tmp_path)


def test_excludes_with_exceptions(tmp_path: Path) -> None:
    make(tmp_path, ["bar", "foo/bar2", "foo/other", "foo2"])
    # "foo" is excluded but re-entered for the exception; it is emitted lazily
    assert paths(tmp_path, exc=["foo*", "!foo/bar2"]) == ["bar", "foo", "foo/bar2"]
    assert paths(tmp_path, exc=["foo"]) == ["bar", "foo2"]
    assert paths(tmp_path, exc=["*", "!foo2"]) == ["foo2"]


def test_dockerignore_like_set(tmp_path: Path) -> None:
    make(tmp_path, ["a.log", "keep.log", "sub/secret.txt", "sub/ok.txt", "src/x.py"])
    got = paths(tmp_path, exc=["*.log", "!keep.log", "sub/secret*"])
    assert got == ["keep.log", "src", "src/x.py", "sub", "sub/ok.txt"]


def test_includes_then_excludes(tmp_path: Path) -> None:
    make(tmp_path, ["src/a.py", "src/a.pyc", "src/deep/b.py", "doc/x.md"])
    got = paths(tmp_path, inc=["src"], exc=["**/*.pyc"])
    assert got == ["src", "src/a.py", "src/deep", "src/deep/b.py"]
    got = paths(tmp_path, inc=["**/*.py"], exc=["src/deep"])
    assert got == ["src", "src/a.py"]


def test_bad_pattern_raises_before_walking(tmp_path: Path) -> None:
    # worded as fsutil's NewFilterFS: the patterns as Go prints a []string, then the error
    with pytest.raises(PatternError, match=r'^invalid excludepatterns: \[a !\]: illegal excl'):
        walk(str(tmp_path), [], ["a", "!"], [])
    with pytest.raises(PatternError, match=r"^invalid includepatterns: \[a\[\]: syntax error in"):
        walk(str(tmp_path), ["a["], [], [])


def test_regexp_go_refuses_fails_the_walk_where_evaluated(tmp_path: Path) -> None:
    make(tmp_path, ["a", "x/y"])
    it = walk(str(tmp_path), [], ["x", "![z-a]"], [])  # compiled when first evaluated (on x)
    with pytest.raises(PatternError, match=r"^failed to match excludepatterns: syntax"):
        list(it)
    assert [e.path for e in walk(str(tmp_path), [], ["nothing", "![z-a]"], [])] == paths(tmp_path)
    with pytest.raises(PatternError, match=r"^failed to match includepatterns: syntax"):
        list(walk(str(tmp_path), ["a\\Z"], [], []))


@pytest.fixture
def scanned(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    orig = walk_mod._Walker.scan

    def spy(self: walk_mod._Walker, os_dir: str, prefix: str, *a: object) -> object:
        seen.append(prefix)
        return orig(self, os_dir, prefix, *a)  # type: ignore[arg-type]

    monkeypatch.setattr(walk_mod._Walker, "scan", spy)
    return seen


def test_excluded_dirs_are_pruned(tmp_path: Path, scanned: list[str]) -> None:
    make(tmp_path, ["node_modules/x/y", "node_modules/keep", "src/a"])
    assert paths(tmp_path, exc=["node_modules"]) == ["src", "src/a"]
    assert "node_modules/" not in scanned
    scanned.clear()
    got = paths(tmp_path, exc=["node_modules", "!node_modules/keep"])
    assert got == ["node_modules", "node_modules/keep", "src", "src/a"]
    assert "node_modules/x/" not in scanned  # matched by "node_modules", no exception below
    scanned.clear()
    # an exception with a glob may match anywhere: nothing can be pruned
    got = paths(tmp_path, exc=["node_modules", "!**/keep"])
    assert got == ["node_modules", "node_modules/keep", "src", "src/a"]
    assert "node_modules/x/" in scanned


def test_non_included_dirs_are_pruned(tmp_path: Path, scanned: list[str]) -> None:
    make(tmp_path, ["src/a", "other/deep/b"])
    assert paths(tmp_path, inc=["src"]) == ["src", "src/a"]
    assert "other/" not in scanned
    scanned.clear()
    assert paths(tmp_path, inc=["**/b"]) == ["other", "other/deep", "other/deep/b"]
    assert "other/deep/" in scanned


# ---------------------------------------------------------------- followpaths


def test_followpaths_resolve_symlinks(tmp_path: Path) -> None:
    make(tmp_path, ["bar", "foo/l1 -> /baz/one", "foo/l2 -> /baz/two", "baz/one",
                    "baz/two -> ../bax", "bax", "bay"])
    assert paths(tmp_path, follow=["foo/l*", "bar"]) == [
        "bar", "bax", "baz", "baz/one", "baz/two", "foo", "foo/l1", "foo/l2",
    ]


def test_followpath_to_root_includes_everything(tmp_path: Path) -> None:
    make(tmp_path, ["foo -> .", "bar", "bay/baz"])
    assert paths(tmp_path, follow=["foo"]) == ["bar", "bay", "bay/baz", "foo"]


def test_followpaths_through_directory_link(tmp_path: Path) -> None:
    make(tmp_path, ["real/Dockerfile", "real/other", "ctx -> real", "unrelated"])
    got = paths(tmp_path, follow=["ctx/Dockerfile", "missing.dockerignore"])
    assert got == ["ctx", "real", "real/Dockerfile"]


def test_followpaths_combined_with_includes_and_excludes(tmp_path: Path) -> None:
    make(tmp_path, ["Dockerfile", "a.txt", "d/x.txt", "d.txt", "e.txt"])
    assert paths(tmp_path, follow=["a.txt", "d", "d.txt"]) == ["a.txt", "d", "d/x.txt", "d.txt"]
    # exclusions apply after includes; "d/*" drops the children, not "d"
    got = paths(tmp_path, inc=["e.txt"], exc=["d/*"], follow=["d"])
    assert got == ["d", "e.txt"]


# ---------------------------------------------------------------- confinement


@pytest.fixture
def escape_tree(tmp_path: Path) -> tuple[Path, Path]:
    outside = make(tmp_path / "outside", ["secret", "sub/secret2"])
    root = make(tmp_path / "root", ["inside"])
    os.symlink("../outside", root / "up")
    os.symlink(str(outside), root / "abs")
    os.symlink("../../../../../../outside/secret", root / "deep")
    return root, outside


@pytest.fixture
def file_access() -> Iterator[list[str]]:
    """Every path opened/listed/xattr-read while active (audit hooks, resolved)."""
    log: list[str] = []
    active = True

    def hook(event: str, args: tuple[object, ...]) -> None:
        if not active or event not in (
            "open", "os.listdir", "os.scandir", "os.listxattr", "os.getxattr"
        ):
            return
        path = args[0] if args else None
        if not isinstance(path, str | bytes):
            return  # file descriptors: opened earlier, already checked
        text = os.fsdecode(path)
        if text.startswith("/proc/self/fd/"):
            fd, _, rest = text[len("/proc/self/fd/"):].partition("/")
            text = os.path.join(os.readlink(f"/proc/self/fd/{fd}"), rest)
        if os.path.isabs(text):
            log.append(text)

    _AUDIT_HOOKS.append(hook)
    try:
        yield log
    finally:
        active = False
        _AUDIT_HOOKS.remove(hook)


_AUDIT_HOOKS: list[object] = []


def _dispatch(event: str, args: tuple[object, ...]) -> None:
    for hook in list(_AUDIT_HOOKS):
        hook(event, args)  # type: ignore[operator]


sys.addaudithook(_dispatch)


def test_nothing_outside_root_is_touched(
    escape_tree: tuple[Path, Path], file_access: list[str]
) -> None:
    root, outside = escape_tree
    follow = ["up/secret", "abs/secret", "deep", "../outside/secret", "/outside/secret",
              "up/*", "abs/sub/*"]
    entries = list(walk(str(root), ["../outside", "up/**"], [], follow))
    real_root = str(root.resolve())
    assert sorted(e.path for e in entries) == ["abs", "deep", "up"]
    assert all(e.is_symlink for e in entries)
    assert all(e.os_path.startswith(real_root + "/") for e in entries)
    # an escaping followpath alone selects nothing (like upstream), it does not disable filtering
    assert paths(root, follow=["../outside/secret"]) == []
    # full walk: symlinked dirs are links, never descended
    assert paths(root) == ["abs", "deep", "inside", "up"]
    assert file_access, "audit hook saw nothing"
    outside_real = str(outside.resolve())
    assert not [p for p in file_access if p.startswith(outside_real)]


@pytest.mark.parametrize("openat2", [True, False])
def test_file_opener_refuses_swapped_paths(
    escape_tree: tuple[Path, Path], file_access: list[str], openat2: bool
) -> None:
    root, outside = escape_tree
    make(root, ["sub/f", "sub2/f", "sub3/f"])
    entries = {e.path: e for e in walk(str(root))}
    # after the walk: a file replaced by a symlink to a secret ...
    os.unlink(root / "inside")
    os.symlink(str(outside / "secret"), root / "inside")
    # ... a directory replaced by a symlink to a directory holding the same name ...
    os.rename(root / "sub", root / "sub.old")
    make(outside, ["f"])
    os.symlink(str(outside), root / "sub")
    # ... and a file replaced by another inode (created while the old one still exists)
    (root / "sub2" / "f.new").write_text("new")
    os.replace(root / "sub2" / "f.new", root / "sub2" / "f")
    file_access.clear()
    with FileOpener(str(root)) as opener:
        opener.root.beneath = openat2 and opener.root.beneath
        beneath = opener.root.beneath
        fd = opener.open(entries["sub3/f"])
        assert os.read(fd, 100) == b"sub3/f"
        os.close(fd)
        errnos = {}
        for name in ("inside", "sub/f", "sub2/f"):
            with pytest.raises(OSError) as info:
                opener.open(entries[name])
            errnos[name] = info.value.errno
    assert errnos["inside"] == errno.ELOOP
    assert errnos["sub2/f"] == errno.ESTALE
    escaped = [p for p in file_access if p.startswith(str(outside.resolve()))]
    if beneath:
        # openat2 refuses to resolve the symlinked directory at all
        assert errnos["sub/f"] == errno.ELOOP
        assert not escaped
    else:
        # fallback: the kernel follows the swapped parent; the inode check rejects it
        assert errnos["sub/f"] == errno.ESTALE


@pytest.mark.parametrize("openat2", [True, False])
def test_walk_ignores_directories_swapped_mid_walk(
    escape_tree: tuple[Path, Path], openat2: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, outside = escape_tree
    if not openat2:
        monkeypatch.setattr(opener_mod, "_libc", lambda: None)
    make(root, ["z/a", "z/sub/f"])
    make(outside, ["a", "sub/f", "sub/leak"])
    it = walk(str(root))
    seen = []
    for entry in it:
        seen.append(entry.path)
        if entry.path == "z/a":  # "z/sub" is listed but not entered yet: swap "z"
            os.rename(root / "z", root / "z.old")
            os.symlink(str(outside), root / "z")
    assert "z/sub/leak" not in seen
    assert seen == ["abs", "deep", "inside", "up", "z", "z/a", "z/sub"]


def test_stop_ends_the_walk_at_its_next_entry(tmp_path: Path) -> None:
    make(tmp_path, [*(f"f{i:03d}" for i in range(300)), "sub/a", "sub/b"])
    stop = threading.Event()
    it = walk_filter(open_filter(str(tmp_path)), stop)
    assert next(it).path == "f000"  # the top directory was scanned for this one
    stop.set()
    assert [next(it).path for _ in range(300)][-1] == "sub"  # listed already: still served
    with pytest.raises(WalkStopped):
        next(it)  # scanning sub stops at its first entry
