"""Writing an edited RUN command back into the Dockerfile, every other byte kept.

Pure: Dockerfile bytes and the failed instruction's line range in, patched bytes and a
unified diff out.  The instruction is read as BuildKit's parser reads it (escape directive,
continuation lines joined without a separator, comment lines inside them skipped, the
first line left-trimmed, ``--flag`` words after the keyword), so the command text is the
one the failed step ran.  Only the changed part of the command is rewritten: the common
prefix and suffix of the old and new commands stay where they are, with the continuation
lines, comments, indentation and line endings (LF or CRLF) around them.  A RUN with a
heredoc is refused.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

__all__ = [
    "CommandForm",
    "Patch",
    "RunCommand",
    "WriteBackError",
    "command_form",
    "exec_args",
    "patch_run",
    "read_run",
    "unified_diff",
]

_DIRECTIVE = re.compile(r"^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.*?)[ \t]*$")
_HEREDOC = re.compile(r"<<-?[ \t]*['\"]?[A-Za-z_][A-Za-z0-9_]*")
_ENCODING = "utf-8"
_ERRORS = "surrogateescape"  # any byte round-trips


class WriteBackError(ValueError):
    """The command cannot be written back (one line saying why)."""


class CommandForm(Enum):
    """How a RUN's command is written."""

    SHELL = "shell"
    EXEC = "exec"


def command_form(text: str) -> CommandForm:
    """EXEC for a JSON array of strings (``["a", "b"]``), else SHELL (as the parser decides)."""
    return CommandForm.EXEC if exec_args(text) is not None else CommandForm.SHELL


def exec_args(text: str) -> list[str] | None:
    """The arguments of an exec-form command, None for a shell-form one."""
    stripped = text.strip()
    if not stripped.startswith("["):
        return None
    try:
        value = json.loads(stripped)
    except ValueError:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


@dataclass(frozen=True)
class _Segment:
    """A piece of the logical command: ``line`` (0-based) columns ``start``..``end``."""

    line: int
    start: int
    end: int


@dataclass(frozen=True)
class RunCommand:
    """A RUN instruction as read from its lines: its command text and where each part is."""

    first: int
    last: int
    command: str
    segments: tuple[_Segment, ...]
    escape: str

    @property
    def form(self) -> CommandForm:
        """Shell or exec form."""
        return command_form(self.command)


@dataclass(frozen=True)
class Patch:
    """The patched Dockerfile and the unified diff from the old one."""

    data: bytes
    diff: str

    @property
    def changed(self) -> bool:
        """Whether anything changed."""
        return bool(self.diff)


def _lines(data: bytes) -> list[tuple[str, str]]:
    """(text, line ending) per physical line: split at LF as the parser (a CR before it too)."""
    text = data.decode(_ENCODING, _ERRORS)
    out: list[tuple[str, str]] = []
    for raw in text.split("\n"):
        out.append((raw, "\n"))
    last, _ = out[-1]
    out[-1] = (last, "")
    if out[-1] == ("", "") and len(out) > 1:
        out.pop()
    for i, (raw, end) in enumerate(out):
        if raw.endswith("\r") and end:
            out[i] = (raw[:-1], "\r\n")
    return out


def _escape_token(lines: Sequence[tuple[str, str]]) -> str:
    """The escape character from a leading ``# escape=`` directive (default backslash)."""
    seen: set[str] = set()
    for i, (raw, _) in enumerate(lines):
        text = raw.removeprefix("\ufeff") if i == 0 else raw
        m = _DIRECTIVE.match(text)
        if m is None:
            break
        key = m.group(1).lower()
        if key in seen:
            break
        seen.add(key)
        if key == "escape" and m.group(2) in ("\\", "`"):
            return m.group(2)
    return "\\"


def _continued(text: str, escape: str) -> int | None:
    """Where the continuation marker starts when ``text`` ends with one (else None)."""
    body = text.rstrip(" \t")
    if body.endswith(escape):
        return len(body) - 1
    return None


def _skip_flags(text: str, pos: int) -> int:
    """Past the ``--name=value`` words after the keyword (a bare ``--`` ends them)."""
    n = len(text)
    while True:
        while pos < n and text[pos] in " \t":
            pos += 1
        if not text.startswith("--", pos):
            return pos
        end = pos
        while end < n and text[end] not in " \t":
            end += 1
        word = text[pos:end]
        pos = end
        if word == "--":
            while pos < n and text[pos] in " \t":
                pos += 1
            return pos


def read_run(data: bytes, first: int, last: int) -> RunCommand:
    """Read the RUN instruction on lines ``first``..``last`` (1-based, inclusive).

    Raises WriteBackError when those lines are not one RUN or it has a heredoc.
    """
    lines = _lines(data)
    if not 1 <= first <= last <= len(lines):
        raise WriteBackError(f"lines {first}-{last} are not in the Dockerfile "
                             f"({len(lines)} lines): it changed since the build")
    escape = _escape_token(lines)
    parts: list[tuple[int, int, int]] = []  # (line, start col, end col) of logical text
    idx = first - 1
    head = lines[idx][0]
    lead = len(head) - len(head.lstrip(" \t"))
    keyword = head[lead:lead + 3]
    if keyword.upper() != "RUN" or head[lead + 3:lead + 4] not in (" ", "\t", "", escape):
        raise WriteBackError(f"line {first} is not a RUN instruction")
    while True:
        text = lines[idx][0]
        is_first = idx == first - 1
        stripped = text.lstrip(" \t")
        if not is_first and (stripped.startswith("#") or not stripped):
            pass  # comment or empty line inside the continuation: not part of the command
        else:
            start = lead if is_first else 0
            cut = _continued(text, escape)
            parts.append((idx, start, len(text) if cut is None else cut))
            if cut is None:
                break
        idx += 1
        if idx > last - 1:
            raise WriteBackError(f"the RUN on line {first} does not end by line {last}")
    logical = "".join(lines[i][0][s:e] for i, s, e in parts)
    if _HEREDOC.search(logical):
        raise WriteBackError(f"the RUN on line {first} uses a heredoc: edit it in the "
                             "Dockerfile (writing heredocs back is not supported)")
    if idx != last - 1:
        raise WriteBackError(f"the RUN on line {first} ends on line {idx + 1}, not {last}")
    # the command begins after the keyword and the flags
    cmd_at = _skip_flags(logical, 3)
    segments: list[_Segment] = []
    offset = 0
    for i, s, e in parts:
        length = e - s
        lo = max(cmd_at - offset, 0)
        if lo < length:
            segments.append(_Segment(i, s + lo, e))
        offset += length
    command = logical[cmd_at:]
    # trailing blanks of the last line are not part of the command
    trimmed = command.rstrip(" \t")
    if segments and trimmed != command:
        cut = len(command) - len(trimmed)
        tail = segments[-1]
        segments[-1] = _Segment(tail.line, tail.start, max(tail.start, tail.end - cut))
    return RunCommand(first, last, trimmed, tuple(segments), escape)


def _locate(segments: Sequence[_Segment], pos: int, *, at_end: bool) -> tuple[int, int]:
    """(segment index, column) of command offset ``pos``.

    At a boundary between two segments, ``at_end`` picks the end of the earlier one.
    """
    offset = 0
    for k, seg in enumerate(segments):
        length = seg.end - seg.start
        if pos < offset + length or (at_end and pos == offset + length) \
                or k == len(segments) - 1:
            return k, seg.start + (pos - offset)
        offset += length
    raise AssertionError("no segments")


def patch_run(data: bytes, ranges: Sequence[tuple[int, int]], new_command: str,
              filename: str = "Dockerfile") -> Patch:
    """Replace the command of each RUN at ``ranges`` by ``new_command``.

    Identical instructions share one step, so several ranges can be given; each must hold
    the same command.  Raises WriteBackError with one line saying why it cannot.
    """
    if "\n" in new_command or "\r" in new_command:
        raise WriteBackError("the new command must be one line")
    new_command = new_command.strip(" \t")
    if not new_command:
        raise WriteBackError("the new command is empty")
    if _HEREDOC.search(new_command):
        raise WriteBackError("the new command uses a heredoc: write it in the Dockerfile")
    if not ranges:
        raise WriteBackError("the failed step has no Dockerfile location")
    runs = [read_run(data, a, b) for a, b in sorted(set(ranges), reverse=True)]
    if len({r.command for r in runs}) > 1:
        raise WriteBackError("the step's Dockerfile locations hold different commands")
    lines = [list(pair) for pair in _lines(data)]
    removed: dict[int, int] = {}
    for run in runs:  # from the last: earlier line numbers stay valid
        removed[run.first] = _replace(lines, run, new_command)
    new_data = "".join(t + e for t, e in lines).encode(_ENCODING, _ERRORS)
    for run in runs:
        shift = sum(n for first, n in removed.items() if first < run.first)
        try:
            again = read_run(new_data, run.first - shift, run.last - shift - removed[run.first])
        except WriteBackError:
            again = None
        if again is None or not _same_words(again.command, new_command):
            raise WriteBackError("the edit cannot be written there without changing the "
                                 "command (a comment or escape character in the way)")
    return Patch(new_data, unified_diff(data, new_data, filename))


def _quoted(text: str) -> list[bool]:
    """Per character of a shell command: whether it is inside quotes (or escaped)."""
    out: list[bool] = []
    quote = ""
    escaped = False
    for ch in text:
        out.append(bool(quote) or escaped)
        if escaped:
            escaped = False
        elif ch == "\\" and quote != "'":
            escaped = True
        elif quote and ch == quote:
            quote = ""
        elif not quote and ch in "'\"":
            quote = ch
    return out


def _soft_joins(run: RunCommand) -> dict[int, int]:
    """Whitespace runs at continuation joins (outside quotes): start offset -> end offset.

    A new command with any whitespace there keeps the lines' indentation: the shell
    does not tell the difference.
    """
    text = run.command
    quoted = _quoted(text)
    out: dict[int, int] = {}
    offset = 0
    for k, seg in enumerate(run.segments):
        if k:
            a = b = offset
            while a > 0 and text[a - 1] in " \t":
                a -= 1
            while b < len(text) and text[b] in " \t":
                b += 1
            if b > a and not any(quoted[a:b]):
                out[a] = b
        offset += seg.end - seg.start
    return out


def _common(old: str, new: str, soft: dict[int, int], step: int) -> tuple[int, int]:
    """How much of ``old`` and ``new`` match from the start (``step`` 1) or the end (-1).

    A soft whitespace run of ``old`` matches any whitespace run of ``new``.  Returns the
    lengths matched in each.
    """
    i = j = 0
    lo, ln = len(old), len(new)

    def at(text: str, k: int) -> str:
        return text[k] if step == 1 else text[len(text) - 1 - k]

    while i < lo and j < ln:
        if i in soft and at(new, j) in " \t":
            i = soft[i]
            while j < ln and at(new, j) in " \t":
                j += 1
            continue
        if at(old, i) != at(new, j):
            break
        i += 1
        j += 1
    return i, j


def _same_words(a: str, b: str) -> bool:
    return a.split() == b.split() and _quoted(a).count(True) == _quoted(b).count(True)


def _replace(lines: list[list[str]], run: RunCommand, new: str) -> int:
    """Rewrite the part of ``run``'s lines where ``new`` differs; the lines removed."""
    old = run.command
    if old == new:
        return 0
    if not run.segments:
        raise WriteBackError(f"the RUN on line {run.first} has no command to replace")
    soft = _soft_joins(run)
    po, pn = _common(old, new, soft, 1)
    # the same runs seen from the end: reverse offsets
    tail_soft = {len(old) - b: len(old) - a for a, b in soft.items() if a >= po}
    so, sn = _common(old[po:], new[pn:], tail_soft, -1)
    pre, suf = po, so
    middle = new[pn:len(new) - sn]
    k0, c0 = _locate(run.segments, pre, at_end=pre == len(old))
    k1, c1 = _locate(run.segments, len(old) - suf, at_end=True)
    if (k1, c1) < (k0, c0):  # an insertion at a segment boundary
        k1, c1 = k0, c0
    l0, l1 = run.segments[k0].line, run.segments[k1].line
    # the lines the edit spans (their continuations, comments) are folded into the first
    lines[l0] = [lines[l0][0][:c0] + middle + lines[l1][0][c1:], lines[l1][1]]
    del lines[l0 + 1:l1 + 1]
    return l1 - l0


def unified_diff(old: bytes, new: bytes, filename: str = "Dockerfile") -> str:
    """A unified diff (``a/``, ``b/`` names; line endings not shown), "" when equal."""
    if old == new:
        return ""
    a = [t for t, _ in _lines(old)]
    b = [t for t, _ in _lines(new)]
    out = difflib.unified_diff(a, b, f"a/{filename}", f"b/{filename}", lineterm="")
    return "".join(line + "\n" for line in out)
