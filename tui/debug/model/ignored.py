"""What a ``.dockerignore`` kept out of the build context (computed on the client side)."""

from __future__ import annotations

from collections.abc import Iterable

from tui.buildkit.fsync.patterns import PatternError
from tui.buildkit.fsync.walk import walk

#: Paths listed at most (a huge ignored tree is summarised by its top directories anyway).
LIMIT = 10_000


def excluded_paths(root: str, exclude: Iterable[str], include: Iterable[str] = ()) -> list[str]:
    """Paths under ``root`` that the daemon did not receive because of ``exclude``.

    A directory left out whole is listed once, not with its contents.  Uses the same walk
    (and pattern rules) as the context upload, with and without the exclude patterns.
    """
    inc = list(include)
    try:
        everything = [e.path for e in walk(root, inc)]
        sent = {e.path for e in walk(root, inc, list(exclude))}
    except (OSError, PatternError):
        return []
    out: list[str] = []
    gone: set[str] = set()
    for path in everything:
        if path in sent:
            continue
        parent = path.rsplit("/", 1)[0] if "/" in path else ""
        if parent and parent in gone:
            gone.add(path)
            continue
        gone.add(path)
        out.append(path)
        if len(out) >= LIMIT:
            break
    return out
