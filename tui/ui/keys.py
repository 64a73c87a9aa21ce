"""The app's keys: its bindings, the help's sections and the command palette's commands.

A binding's tooltip is its line in the help screen (``?``); the help gathers every pane's.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from textual.app import SystemCommand
from textual.binding import Binding, BindingType

from tui.ui.screens.help import KeySection, key_rows
from tui.ui.widgets.diff.pane import DiffView
from tui.ui.widgets.files.pane import FileBrowser
from tui.ui.widgets.graph.pane import GraphView
from tui.ui.widgets.logs.pane import LogView
from tui.ui.widgets.terminal import TerminalPane

if TYPE_CHECKING:
    from tui.ui.app import BxtuiApp

#: What Textual names alt+1..9 as most terminals send them (ESC then the digit: Textual reads
#: them as the characters a Mac keyboard's option+digit types).
ALT_DIGIT_KEYS = ("inverted_exclamation_mark", "trade_mark_sign", "pound_sign", "cent_sign",
                  "infinity", "section_sign", "pilcrow_sign", "bullet", "ª")

#: Every key of the app; a binding's tooltip is its line in the help screen (``?``).
APP_BINDINGS: list[BindingType] = [
    Binding("f", "shell('final')", "Final",
            tooltip="shell in the failed step's final state (or the successful result)"),
    Binding("i", "shell('initial')", "Initial",
            tooltip="shell in the failed step's initial state (before it ran)"),
    Binding("s", "step_shell", "Step",
            tooltip="shell in the state the step selected in the graph produced"),
    Binding("b", "browse", "Files", tooltip="browse files: the selected step, the failed "
            "step's states, the result"),
    Binding("d", "diff", "Diff", tooltip="diff: what the failed step changed "
            "(initial vs final)"),
    Binding("escape", "close_explore", "Close", show=False,
            tooltip="close the files / diff pane (back to the failing step)"),
    Binding("tab", "focus_next", "Next pane", show=False, tooltip="move between panes"),
    Binding("shift+tab", "focus_previous", "Previous pane", show=False,
            tooltip="move between panes"),
    # short labels and no t (tab reaches the terminal too; ? lists it): the footer keeps
    # q Quit on an 80-column terminal
    Binding("t", "focus_terminal", "Terminal", show=False,
            tooltip="back to the live terminal"),
    Binding("z", "zoom", "Zoom", tooltip="zoom the terminal to the whole screen, and back"),
    Binding("question_mark,f1", "help", "Help", key_display="?", tooltip="this help"),
    Binding("q", "close_view", "Quit",
            tooltip="close: release containers and the build, then exit"),
    Binding("ctrl+c,ctrl+q", "close_view", "Quit", show=False,
            tooltip="close: release containers and the build, then exit"),
    Binding("ctrl+p", "command_palette", "Commands", show=False, tooltip="command palette"),
    Binding("e", "retry", "Retry", show=False,
            tooltip="retry the failed RUN with an edited command (fresh initial state)"),
    Binding("w", "write_back", "Write back", show=False,
            tooltip="write the last passing retry into the Dockerfile (diff, then y/n)"),
    Binding("r", "reload", "Reload", show=False, tooltip="reload: build again with the "
            "current Dockerfile and context (the shells end)"),
    Binding("space", "toggle_breakpoint", "Break", show=False,
            tooltip="set or clear a breakpoint on the graph's selected step (the build "
                    "pauses before it; set while building or paused)"),
    Binding("n", "step_next", "Next",
            tooltip="paused: run just this step (or the next) and pause after it"),
    Binding("c", "step_continue", "Continue",
            tooltip="paused: continue to the next breakpoint, a failure or the end"),
    # several shells: from the panes (inside a live terminal every key is the process's)
    Binding("left_square_bracket", "tab(-1)", "Previous shell", key_display="[",
            show=False, tooltip="previous shell tab (from the panes)"),
    Binding("right_square_bracket", "tab(1)", "Next shell", key_display="]", show=False,
            tooltip="next shell tab (from the panes)"),
    *(Binding(key, f"tab_number({n})", f"Shell {n}", key_display="alt+1..9", show=False,
              tooltip="shell tab 1..9 (from the panes)")
      for n in range(1, 10) for key in (f"alt+{n}", ALT_DIGIT_KEYS[n - 1])),
    Binding("x", "exec", "Exec", show=False,
            tooltip="exec /bin/sh into the shown shell's container, in a new tab"),
    Binding("v", "side_by_side", "Side by side", show=False,
            tooltip="the failed step's initial and final states in two terminals at once"),
    Binding("p", "processes", "Processes", show=False,
            tooltip="open shells and their containers; end one"),
]


def _retry_keys() -> list[BindingType]:
    """The retry line's keys (its module is loaded when the help needs them)."""
    from tui.ui.widgets.retry import RetryLine

    return [Binding("enter", "try", "Try", tooltip="run the command in a fresh container of "
                    "the failed step's initial state"), *RetryLine.BINDINGS]


def key_sections(app_bindings: list[BindingType]) -> list[KeySection]:
    """Every key the user can press, from the bindings, for the help screen."""
    return [
        KeySection("Everywhere", key_rows(app_bindings)),
        KeySection("Build graph", key_rows(GraphView.BINDINGS)),
        KeySection("Logs", key_rows(LogView.BINDINGS)),
        KeySection("Files (b)", key_rows(FileBrowser.BINDINGS, FileBrowser.OTHER_KEYS)),
        KeySection("Diff (d)", key_rows(DiffView.BINDINGS)),
        KeySection("Terminal", key_rows(TerminalPane.BINDINGS, TerminalPane.OTHER_KEYS)),
        KeySection("Retry line (e)", key_rows(_retry_keys())),
    ]


def palette_commands(app: BxtuiApp) -> Iterator[SystemCommand]:
    """The debugger's actions for the command palette: those that open a state if they work now."""
    opening = [
        (SystemCommand("Shell in the final state", "Open a shell where the failed step "
                       "ended (or in the result)", lambda: app.action_shell("final")),
         "shell", ("final",)),
        (SystemCommand("Shell in the initial state", "Open a shell where the failed step "
                       "started", lambda: app.action_shell("initial")),
         "shell", ("initial",)),
        (SystemCommand("Shell in the selected step", "Open a shell in the state the "
                       "selected step produced", app.action_step_shell), "step_shell", ()),
        (SystemCommand("Browse files", "Files of the selected step, the failed step's "
                       "states or the result", app.action_browse), "browse", ()),
        (SystemCommand("Diff of the failed step", "What the failed step changed",
                       app.action_diff), "diff", ()),
    ]
    yield from (command for command, action, params in opening
                if app.check_action(action, params))
    yield SystemCommand("Zoom the terminal", "Toggle the terminal over the whole screen",
                        app.action_zoom)
    yield SystemCommand("Keys", "Show every key", app.action_help)
    yield SystemCommand("Quit", "Release everything and exit", app.action_close_view)
