"""Writing an edited RUN back: a table of tricky Dockerfiles, every other byte kept."""

from __future__ import annotations

import pytest

from tui.debug.model.writeback import (
    CommandForm,
    WriteBackError,
    command_form,
    exec_args,
    patch_run,
    read_run,
)

# (name, dockerfile, (first, last), new command, expected dockerfile)
CASES = [
    ("one line", b"FROM b\nRUN false\nRUN echo next\n", (2, 2), "true",
     b"FROM b\nRUN true\nRUN echo next\n"),
    ("crlf kept", b"FROM b\r\nRUN make  test\r\n# note\r\n", (2, 2), "make  check",
     b"FROM b\r\nRUN make  check\r\n# note\r\n"),
    ("no final newline", b"FROM b\nRUN false", (2, 2), "true", b"FROM b\nRUN true"),
    ("flags kept", b"RUN --mount=type=cache,target=/c --network=none make -j4\n", (1, 1),
     "make -j1", b"RUN --mount=type=cache,target=/c --network=none make -j1\n"),
    ("lowercase keyword, indentation, trailing blanks",
     b"  run   echo hi   \nCMD x\n", (1, 1), "echo bye", b"  run   echo bye   \nCMD x\n"),
    ("continuation and comment kept",
     b"RUN apt-get update && \\\n    # why\n    apt-get install -y foo \\\n      bar\n",
     (1, 4), "apt-get update &&     apt-get install -y foo       baz",
     b"RUN apt-get update && \\\n    # why\n    apt-get install -y foo \\\n      baz\n"),
    ("flags on their own line",
     b"RUN --mount=type=secret,id=t \\\n    cat /run/secrets/t | grep ok\n", (1, 2),
     "cat /run/secrets/t | grep -q ok",
     b"RUN --mount=type=secret,id=t \\\n    cat /run/secrets/t | grep -q ok\n"),
    ("edit across lines folds them",
     b"RUN a && \\\n  b && \\\n  c\n", (1, 3), "a && x",
     b"RUN a && \\\n  x\n"),
    ("indentation at a join kept", b"RUN a && \\\n    b && \\\n    c\n", (1, 3),
     "a && b && d", b"RUN a && \\\n    b && \\\n    d\n"),
    ("suffix across a join", b"RUN x && \\\n    b\n", (1, 2), "y && b",
     b"RUN y && \\\n    b\n"),
    ("quoted join is not soft", b'RUN echo "a \\\n   b"\n', (1, 2), 'echo "a b"',
     b'RUN echo "a \\\nb"\n'),
    ("crlf continuation", b"RUN a \\\r\n  b\r\nENV X=1\r\n", (1, 2), "a   c",
     b"RUN a \\\r\n  c\r\nENV X=1\r\n"),
    ("escape directive", b"# escape=`\nFROM b\nRUN dir `\n  C:\\x\n", (3, 4), "dir   C:\\y",
     b"# escape=`\nFROM b\nRUN dir `\n  C:\\y\n"),
    ("exec form", b'RUN ["sh", "-c", "exit 1"]\n', (1, 1), '["sh", "-c", "exit 0"]',
     b'RUN ["sh", "-c", "exit 0"]\n'),
    ("exec to shell form", b'RUN ["false"]\n', (1, 1), "true", b"RUN true\n"),
    ("two identical steps", b"FROM a\nRUN false\nFROM b\nRUN false\n", (2, 2), "true",
     b"FROM a\nRUN true\nFROM b\nRUN true\n"),
    ("bytes that are not utf-8 kept", b"LABEL x=\xff\nRUN false # \xe9\n", (2, 2),
     "true # \udce9", b"LABEL x=\xff\nRUN true # \xe9\n"),
]


@pytest.mark.parametrize(("name", "data", "lines", "new", "want"), CASES,
                         ids=[c[0] for c in CASES])
def test_patch(name: str, data: bytes, lines: tuple[int, int], new: str, want: bytes) -> None:
    ranges = [lines] if name != "two identical steps" else [(2, 2), (4, 4)]
    patch = patch_run(data, ranges, new)
    assert patch.data == want
    assert patch.changed and patch.diff.startswith("--- a/Dockerfile\n+++ b/Dockerfile\n")


def test_read_joins_as_the_parser() -> None:
    run = read_run(b"RUN --mount=type=bind,target=/s \\\n  # c\n\n  echo a \\\n  b  \n", 1, 5)
    assert run.command == "echo a   b"
    assert run.form is CommandForm.SHELL


def test_unchanged_command_has_no_diff() -> None:
    patch = patch_run(b"RUN x\n", [(1, 1)], "x")
    assert patch.data == b"RUN x\n" and not patch.changed and patch.diff == ""


def test_diff_shows_the_change() -> None:
    patch = patch_run(b"FROM b\r\nRUN false\r\n", [(2, 2)], "true")
    assert "-RUN false\n+RUN true\n" in patch.diff and "\r" not in patch.diff


REFUSED = [
    ("heredoc", b"RUN <<EOF\nfalse\nEOF\n", (1, 3), "true", "heredoc"),
    ("heredoc dash quoted", b"RUN cat <<-'X' > f\n\tx\n\tX\n", (1, 3), "true", "heredoc"),
    ("new heredoc", b"RUN false\n", (1, 1), "cat <<EOF", "heredoc"),
    ("not a run", b"FROM b\nCOPY a b\n", (2, 2), "true", "not a RUN"),
    ("file changed", b"RUN false\n", (3, 3), "true", "changed since the build"),
    ("range too short", b"RUN a \\\n  b\n", (1, 1), "true", "does not end"),
    ("two lines", b"RUN a\n", (1, 1), "a\nb", "one line"),
    ("empty", b"RUN a\n", (1, 1), "  ", "empty"),
    ("ends with escape", b"RUN echo a\nRUN b\n", (1, 1), "echo a \\", "escape"),
    ("continuation would be a comment", b"RUN echo a \\\nb\n", (1, 2), "echo a #b",
     "comment"),
]


@pytest.mark.parametrize(("name", "data", "lines", "new", "why"), REFUSED,
                         ids=[c[0] for c in REFUSED])
def test_refused(name: str, data: bytes, lines: tuple[int, int], new: str, why: str) -> None:
    with pytest.raises(WriteBackError, match=why):
        patch_run(data, [lines], new)


def test_forms() -> None:
    assert command_form('["a", "b"]') is CommandForm.EXEC
    assert exec_args(' ["a", "b"] ') == ["a", "b"]
    assert command_form("['a']") is CommandForm.SHELL  # not JSON: shell form, as the parser
    assert command_form("[1]") is CommandForm.SHELL
    assert command_form("[ -f x ] && y") is CommandForm.SHELL
