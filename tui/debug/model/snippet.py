"""Dockerfile source snippets and the error line buildx prints for a failed build.

Reimplements buildkit's ``solver/errdefs/source.go`` ``Source.Print`` as printed by buildx's
``cmd/buildx/main.go``.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["SOLVE_ERROR_PREFIX", "format_source", "format_source_error"]

#: buildx prefixes the daemon's solve error with this (buildkit ``client/solve.go``).
SOLVE_ERROR_PREFIX = "failed to solve: "


def format_source(filename: str, data: bytes, ranges: Sequence[tuple[int, int]]) -> str:
    """Render a source snippet like buildkit's ``errdefs.Source.Print``.

    ``ranges`` are 1-based ``(start_line, end_line)`` pairs (an end before the start means
    the start line). Context is 2 lines each side for a one-line range, 1 for a multi-line
    one, shifted to the other side at the file's edges; the file's final newline yields a
    last, empty line. Returns ``""`` when nothing would be printed.
    """
    if not ranges:
        return ""
    lines = data.decode("utf-8", "replace").split("\n")
    norm = [(s, e if e >= s else s) for s, e in ranges]
    start = min(s for s, _ in norm)
    end = max(0, *(e for _, e in norm))
    if start > len(lines) or start < 1:
        return ""
    end = min(end, len(lines))
    pad = 4 if end == start else 2
    p = 0
    first = start
    while p < pad:
        if start > 1:
            start -= 1
            p += 1
        if end != len(lines):
            end += 1
            p += 1
        p += 1
    out = [f"{filename}:{first}\n--------------------\n"]
    for i in range(start, end + 1):
        pfx = ">>>" if any(s <= i <= e for s, e in norm) else "   "
        out.append(f" {i:3d} | {pfx} {lines[i - 1]}\n")
    out.append("--------------------\n")
    return "".join(out)


def format_source_error(
    filename: str, data: bytes, ranges: Sequence[tuple[int, int]], message: str
) -> str:
    """The snippet buildx prints for a failed build, then ``ERROR: <message>``.

    ``message`` is printed as is; for a solve failure buildx prints
    ``SOLVE_ERROR_PREFIX + <daemon's error message>``. The result ends with a newline.
    """
    return format_source(filename, data, ranges) + f"ERROR: {message}\n"
