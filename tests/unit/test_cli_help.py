"""``bxtui build --help`` groups its flags as ``docker buildx build --help`` does."""

from __future__ import annotations

import re

from conftest import bxtui_binary, run_cmd

_OURS = re.compile(r"^  (?:-\w[^,]*, )?(--[a-z][a-z-]*)")
_THEIRS = re.compile(r"^\s+(?:-\w, )?(--[a-z][a-z-]*)")
#: buildx flags newer than the engine-26 peer (0.13.1); bxtui may have them already.
NEWER = {"--call", "--check"}


def _sections(text: str, flag: re.Pattern[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith(":"):
            current = line.rstrip()[:-1]
            out[current] = []
        elif m := flag.match(line):
            out.setdefault(current, []).append(m.group(1))
    return out


def test_help_groups_as_buildx(buildx: str) -> None:
    ours = run_cmd([bxtui_binary(), "build", "--help"], timeout=30)
    theirs = run_cmd([buildx, "build", "--help"], timeout=30)
    assert ours.returncode == theirs.returncode == 0, ours.stderr + theirs.stderr
    assert ours.stdout.startswith("usage: bxtui build [OPTIONS] PATH\n")
    mine, bx = _sections(ours.stdout, _OURS), _sections(theirs.stdout, _THEIRS)
    assert list(mine)[-4:] == ["Flags (as docker buildx build)",
                               "Global Flags (as docker buildx)", "bxtui debugging",
                               "bxtui builder address (buildctl's flags)"]
    flags, bx_flags = mine["Flags (as docker buildx build)"], bx["Flags"]
    assert set(flags) - NEWER <= set(bx_flags), set(flags) - set(bx_flags)
    assert flags == sorted(flags)  # by long name, as cobra lists them
    assert [f for f in bx_flags if f in flags] == [f for f in flags if f in bx_flags]
    assert {"--quiet", "--iidfile", "--metadata-file", "--progress", "--file"} <= set(flags)
    assert set(bx["Global Flags"]) <= set(mine["Global Flags (as docker buildx)"])
    # bxtui's own flags are never among buildx's
    own = mine["bxtui debugging"] + mine["bxtui builder address (buildctl's flags)"]
    assert own and not set(own) & (set(bx_flags) | set(bx["Global Flags"]))
