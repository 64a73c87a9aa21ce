"""--watch's filter: which changed paths concern the build (.dockerignore, -f outside)."""

from __future__ import annotations

from pathlib import Path

from tui.debug.engine.options import BuildOptions
from tui.debug.engine.watch import ContextFilter, read_ignore_patterns


def test_ignore_file_is_read_as_the_frontend_reads_it() -> None:
    text = "\ufeff# comment\n  *.log \n\n/build/\n! keep.log\n #not a comment\n"
    assert read_ignore_patterns(text) == ["*.log", "build", "!keep.log", "#not a comment"]


def test_context_paths_after_dockerignore(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox:local\n")
    (tmp_path / ".dockerignore").write_text("*.log\n!keep.log\nbuild\n")
    flt = ContextFilter(BuildOptions(context=str(tmp_path)))
    assert flt.roots == [(str(tmp_path.resolve()), True)]
    root = tmp_path.resolve()
    assert flt(str(root / "Dockerfile"))
    assert flt(str(root / ".dockerignore"))  # a changed ignore file always counts
    assert flt(str(root / "src" / "a.txt"))
    assert not flt(str(root / "debug.log"))
    assert flt(str(root / "keep.log"))  # the exception
    assert not flt(str(root / "build" / "out" / "x"))  # under an ignored directory
    assert not flt(str(root.parent / "elsewhere"))
    # the rules are read again
    (tmp_path / ".dockerignore").write_text("src\n")
    flt.refresh()
    assert flt(str(root / "debug.log"))
    assert not flt(str(root / "src" / "a.txt"))


def test_dockerfile_outside_the_context(tmp_path: Path) -> None:
    ctx, other = tmp_path / "ctx", tmp_path / "files"
    ctx.mkdir()
    other.mkdir()
    (other / "app.Dockerfile").write_text("FROM busybox:local\n")
    (other / "app.Dockerfile.dockerignore").write_text("secret\n")
    (ctx / ".dockerignore").write_text("*\n")  # replaced by the Dockerfile's own
    flt = ContextFilter(BuildOptions(context=str(ctx), dockerfile=str(other / "app.Dockerfile")))
    assert flt.roots == [(str(ctx.resolve()), True), (str(other.resolve()), False)]
    assert flt(str(other.resolve() / "app.Dockerfile"))
    assert not flt(str(other.resolve() / "notes.txt"))  # its directory: only the Dockerfile
    assert flt(str(ctx.resolve() / "a.txt"))
    assert not flt(str(ctx.resolve() / "secret"))
