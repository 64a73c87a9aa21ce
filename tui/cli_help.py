"""``bxtui build --help`` in groups: buildx's flags as buildx lists them, then bxtui's own.

``docker buildx build --help`` lists its flags in one "Flags" section sorted by long name,
then the "Global Flags" of ``docker buildx`` (``--builder``, ``-D/--debug``). bxtui keeps those
two sections and adds its own after them. The flags are declared in one list in
:mod:`tui.cli`; this module sorts them into the groups once the parser is complete, so a flag
added later lands in the buildx section unless it is named here as bxtui's own.
"""

from __future__ import annotations

import argparse

__all__ = ["BUILDX_GLOBAL", "BXTUI_ADDRESS", "BXTUI_DEBUGGING", "group_build_help"]

#: ``docker buildx``'s global flags (its help's "Global Flags" section).
BUILDX_GLOBAL = ("--builder", "--debug")
#: bxtui's debugging flags (no buildx counterpart).
BXTUI_DEBUGGING = ("--invoke", "--on", "--initial", "--step", "--break", "--diff", "--retry",
                   "--write-back", "--copy-out", "--overwrite", "--toolbox", "--watch",
                   "--debug-file")
#: bxtui's way to name a buildkitd directly (buildctl's flags).
BXTUI_ADDRESS = ("--addr", "--tlscacert", "--tlscert", "--tlskey", "--tlsservername")


def _long_name(action: argparse.Action) -> str:
    longs = [s for s in action.option_strings if s.startswith("--")]
    return longs[0] if longs else action.option_strings[0]


def group_build_help(parser: argparse.ArgumentParser) -> None:
    """Move ``parser``'s optional flags into buildx's sections and bxtui's own ones."""
    sections = [
        (parser.add_argument_group("Flags (as docker buildx build)"), None),
        (parser.add_argument_group("Global Flags (as docker buildx)"), BUILDX_GLOBAL),
        (parser.add_argument_group("bxtui debugging"), BXTUI_DEBUGGING),
        (parser.add_argument_group("bxtui builder address (buildctl's flags)"), BXTUI_ADDRESS),
    ]
    default = parser._optionals  # argparse's "options" group: -h/--help stays there
    moving = [a for a in default._group_actions if a.option_strings and a.dest != "help"]
    for action in sorted(moving, key=lambda a: _long_name(a).lstrip("-")):
        name = _long_name(action)
        group = next((g for g, names in sections if names is not None and name in names),
                     sections[0][0])
        default._group_actions.remove(action)
        group._group_actions.append(action)
    for group, names in sections[1:]:
        if names is not None:  # in the order given here, not alphabetically
            group._group_actions.sort(key=lambda a: names.index(_long_name(a)))
