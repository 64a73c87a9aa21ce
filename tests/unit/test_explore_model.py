"""Pure logic of exploring: lister parsing, diffs, step selectors, LLB sub-graphs, toolbox."""

from __future__ import annotations

from pathlib import Path

import pytest

from tui.buildkit.proto import ops_pb2
from tui.debug.engine.handle import StartSniffer, command_not_found
from tui.debug.engine.helper import image_identifier
from tui.debug.engine.stepshell import toolbox_spec
from tui.debug.model.fsmodel import (
    Entry,
    Snapshot,
    content_candidates,
    diff_snapshots,
    format_stat,
    parse_line,
    parse_mtime,
    unified_diff,
)
from tui.debug.model.ignored import excluded_paths
from tui.debug.model.invoke import ProcessSpec
from tui.debug.model.llbdef import LLBDefinition, op_digest
from tui.debug.model.stepsel import StepError, StepRef, resolve_step


def test_lister_lines() -> None:
    e = parse_line("81ed\t1000\t100\t27\t2026-12-03 10:36:05.123456789 +0000\t./etc/run.sh\t"
                   "'./etc/run.sh'")
    assert e == Entry("etc/run.sh", "file", 0o755, 1000, 100, 27,
                      parse_mtime("2026-12-03 10:36:05.123456789 +0000"))
    assert e.mtime_ns % 1_000_000_000 == 123456789 and e.mode_string() == "-rwxr-xr-x"
    link = parse_line("a1ff\t0\t0\t4\t2023-01-05 13:20:48.000000000 +0000\t./bin/sh\t"
                      "'./bin/sh' -> 'dash'")
    assert link is not None and link.kind == "link" and link.link == "dash"
    root = parse_line("41ed\t0\t0\t4096\t2026-12-03 10:36:05.000000000 +0000\t.\t'.'")
    assert root is not None and root.path == "" and root.is_dir and root.name == "/"
    assert parse_line("garbage") is None
    assert parse_line("zz\t0\t0\t1\t2026-12-03 10:36:05.0 +0000\t./x\t'./x'") is None


def _file(path: str, size: int = 1, mtime: int = 1, mode: int = 0o644, uid: int = 0,
          kind: str = "file", link: str = "") -> Entry:
    return Entry(path, kind, mode, uid, 0, size, mtime, link)


def test_snapshot_children_sorted_dirs_first() -> None:
    snap = Snapshot([_file("b"), _file("a", kind="dir", mode=0o755), _file("a/x"), _file("c")])
    assert [e.path for e in snap.children("")] == ["a", "b", "c"]
    assert [e.path for e in snap.children("/a/")] == ["a/x"]
    assert snap.total_bytes == 3 and len(snap) == 4


def test_diff_aspects_and_content_check() -> None:
    before = Snapshot([_file("keep", 3, 1), _file("touched", 3, 1), _file("rewritten", 3, 1),
                       _file("gone"), _file("mode"), _file("own"),
                       _file("ln", kind="link", link="a"), _file("d", kind="dir")])
    after = Snapshot([_file("keep", 3, 1), _file("touched", 3, 2), _file("rewritten", 3, 2),
                      _file("mode", mode=0o755), _file("own", uid=7),
                      _file("ln", kind="link", link="b"), _file("d", kind="file"),
                      _file("new", 9)])
    assert sorted(content_candidates(before, after)) == ["rewritten", "touched"]
    d = diff_snapshots(before, after, "/", {"touched": True, "rewritten": False})
    got = {c.path: (c.status, c.what) for c in d.changes}
    assert got == {
        "rewritten": ("changed", ("content",)), "gone": ("removed", ()),
        "mode": ("changed", ("mode",)), "own": ("changed", ("owner",)),
        "ln": ("changed", ("link",)), "d": ("changed", ("type",)), "new": ("added", ()),
    }
    assert d.counts() == {"added": 1, "removed": 1, "changed": 5}
    text = format_stat([d])
    assert text.splitlines()[0] == "--- /: 1 added, 1 removed, 5 changed"
    assert " M /own  (owner 0:0 -> 7:0)" in text and " A /new  (9 bytes)" in text


def test_unified_diff_text_and_binary() -> None:
    lines = unified_diff("etc/a", b"one\ntwo\n", b"one\nthree\n")
    assert lines is not None and "-two" in lines and "+three" in lines
    assert lines[0] == "--- a/etc/a"
    assert unified_diff("x", None, b"new\n")[0] == "--- /dev/null"  # type: ignore[index]
    assert unified_diff("bin", b"\0\1", b"\0\2") is None


def test_step_selectors() -> None:
    refs = [StepRef("sha256:aaaa1111", "[internal] load build definition", 1),
            StepRef("sha256:bbbb2222", "[builder 2/4] RUN make", 5),
            StepRef("sha256:cccc3333", "[stage-1 2/3] COPY --from=builder", 8),
            StepRef("sha256:dddd4444", "[builder 3/4] RUN test", 6)]
    assert resolve_step("builder:2", refs).digest == "sha256:bbbb2222"
    assert resolve_step("stage-1/2", refs).digest == "sha256:cccc3333"
    assert resolve_step("3", refs).digest == "sha256:dddd4444"
    assert resolve_step("#8", refs).digest == "sha256:cccc3333"
    assert resolve_step("sha256:dddd", refs).digest == "sha256:dddd4444"
    assert resolve_step("BBBB22", refs).digest == "sha256:bbbb2222"
    with pytest.raises(StepError, match="exists in stages builder, stage-1"):
        resolve_step("2", refs)
    with pytest.raises(StepError, match=r"no step \[9/"):
        resolve_step("9", refs)
    with pytest.raises(StepError, match="no step #99"):
        resolve_step("#99", refs)
    with pytest.raises(StepError, match="invalid --step"):
        resolve_step("x!", refs)


def _op(**kw: object) -> tuple[bytes, str]:
    data = ops_pb2.Op(**kw).SerializeToString()  # type: ignore[arg-type]
    return data, op_digest(data)


def test_llb_subgraph_keeps_only_ancestors() -> None:
    src, d_src = _op(source=ops_pb2.SourceOp(identifier="docker-image://x"))
    run1, d_run1 = _op(inputs=[ops_pb2.Input(digest=d_src)],
                       exec=ops_pb2.ExecOp(meta=ops_pb2.Meta(args=["a"], cwd="/w",
                                                             env=["K=1"])))
    cp, d_cp = _op(inputs=[ops_pb2.Input(digest=d_run1)], file=ops_pb2.FileOp())
    run2, _ = _op(inputs=[ops_pb2.Input(digest=d_cp)],
                       exec=ops_pb2.ExecOp(meta=ops_pb2.Meta(args=["b"])))
    definition = ops_pb2.Definition()
    getattr(definition, "def").extend([src, run1, cp, run2])
    definition.metadata[d_run1].ignore_cache = True
    llb = LLBDefinition(definition)
    sub = llb.subgraph(d_cp)
    body = list(getattr(sub, "def"))
    assert body[:3] == [src, run1, cp]
    terminal = ops_pb2.Op()
    terminal.ParseFromString(body[-1])
    assert terminal.inputs[0].digest == d_cp and len(body) == 4
    assert sub.metadata[d_run1].ignore_cache is False  # cache marks dropped: a cache hit
    meta = llb.exec_meta(d_cp)
    assert meta is not None and meta.cwd == "/w" and list(meta.env) == ["K=1"]
    assert llb.exec_meta(d_src) is None
    with pytest.raises(KeyError):
        llb.subgraph("sha256:nope")


def test_excluded_paths(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("k")
    (tmp_path / "conf.json").write_text("{}")
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "a.log").write_text("a")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "b.json").write_text("{}")
    got = excluded_paths(str(tmp_path), ["*.json", "logs"])
    assert got == ["conf.json", "logs"]  # the whole dir once, its contents not listed
    assert excluded_paths(str(tmp_path), ["**/*.json"]) == ["conf.json", "src/b.json"]
    assert excluded_paths(str(tmp_path / "missing"), ["*"]) == []


def test_toolbox_spec_and_image_identifier() -> None:
    spec = ProcessSpec(args=["/bin/sh"], env=["PATH=/usr/bin", "A=1"], user="", cwd="/",
                       tty=True)
    tb = toolbox_spec(spec)
    assert tb.args == ["/.bxtui/toolbox/bin/sh"]
    assert tb.env[0].startswith("PATH=/usr/bin:/.bxtui/toolbox/bin:") and tb.env[1] == "A=1"
    bare = toolbox_spec(ProcessSpec(args=["ls", "-l"], env=[], user="", cwd="/", tty=False))
    assert bare.args == ["ls", "-l"] and bare.env[0].startswith("PATH=/usr/local/sbin:")
    assert image_identifier("busybox:local") == "docker-image://docker.io/library/busybox:local"
    assert image_identifier("ghcr.io/a/b") == "docker-image://ghcr.io/a/b:latest"
    assert image_identifier("me/tools:1") == "docker-image://docker.io/me/tools:1"


def test_start_sniffer_holds_only_runc_failures() -> None:
    seen: list[bytes] = []
    sn = StartSniffer(lambda _fd, d: seen.append(d))
    sn.sink(1, b"runc run ")
    assert seen == []  # could still be runc's message
    sn.sink(1, b'failed: unable to start container process: exec: "/bin/sh": stat /bin/sh: '
               b"no such file or directory\r\n")
    assert sn.not_found() and seen == []
    ok = StartSniffer(lambda _fd, d: seen.append(d))
    ok.sink(1, b"/ # ")
    ok.sink(1, b"more")
    assert seen == [b"/ # ", b"more"] and ok.passing and not ok.not_found()
    assert command_not_found('exec: "ls": executable file not found in $PATH')
    assert not command_not_found("exit code: 1")
