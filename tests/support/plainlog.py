"""Parse `--progress=plain` output (buildx's or bxtui's) into comparable facts."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HEADER = re.compile(r"^#(\d+) (\[.*)$")
_FROM = re.compile(r"^\[[^\]]*\] FROM (.*)$")
_END = re.compile(r"^#(\d+) (DONE [0-9.]+s|CACHED|ERROR: (.*)|CANCELED)$")


@dataclass
class PlainRun:
    """What a plain progress output says about a build."""

    names: dict[int, str] = field(default_factory=dict)
    ends: dict[int, str] = field(default_factory=dict)
    errors: dict[int, str] = field(default_factory=dict)
    marked_lines: list[str] = field(default_factory=list)
    snippet_file: str | None = None
    final_error: str | None = None

    def steps(self) -> dict[str, str]:
        """Vertex name -> OK or ERROR.

        DONE and CACHED are both OK; so is CANCELED: a step running beside the failing one is
        cancelled or not depending on timing inside the daemon (seen with buildx too).  A base
        image shared by several stages is one vertex whose name is whichever stage the daemon
        named it after first, so FROM steps are compared without their stage prefix.
        """
        out: dict[str, str] = {}
        for n, name in self.names.items():
            end = self.ends.get(n, "")
            word = end.split(" ")[0].rstrip(":")
            out[_FROM.sub(r"FROM \1", name)] = "ERROR" if word == "ERROR" else "OK"
        return out

    def failed(self) -> list[str]:
        return [self.names[n] for n in self.errors if n in self.names]


def parse_plain(text: str) -> PlainRun:
    run = PlainRun()
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = _HEADER.match(line)
        if m:
            run.names.setdefault(int(m.group(1)), m.group(2))
            continue
        m = _END.match(line)
        if m:
            run.ends[int(m.group(1))] = m.group(2)
            if m.group(3) is not None:
                run.errors[int(m.group(1))] = m.group(3)
            continue
        if " | >>> " in line or re.match(r"^\s*\d+ \| >>>", line):
            run.marked_lines.append(line.split(">>>", 1)[1].strip())
        if line.startswith("ERROR: "):
            run.final_error = line[len("ERROR: "):]
        if (
            re.match(r"^\S+:\d+$", line)
            and i + 1 < len(lines)
            and lines[i + 1].startswith("-----")
        ):
            run.snippet_file = line
    return run
