"""The failing-step pane: what failed and where, or what the build produced.

One fixed set of ``Static`` children is updated in place by the ``show_*`` methods, so
switching views never mounts or removes widgets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from rich.console import Group, RenderableType
from rich.style import Style
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.content import Content
from textual.events import Resize
from textual.widgets import Static

from tui.debug.model.failure import FailureInfo, SourceSnippet, SuccessInfo
from tui.debug.model.reload import DockerfileChanges

__all__ = [
    "FailurePane",
    "context_lines",
    "display_command",
    "format_duration",
    "mask_env",
    "render_snippet",
    "short_image_id",
]

#: Pygments theme of the Dockerfile snippet; its own background is dropped.
SYNTAX_THEME = "monokai"
#: Background of the failing lines inside the snippet (rich Syntax needs a concrete colour).
FAILING_LINE_STYLE = Style(bgcolor="#4a1f24", bold=True)
#: Dockerfile lines edited since the previous build (after a reload).
CHANGED_LINE_STYLE = Style(underline=True, italic=True)
MIN_CONTEXT = 3
MAX_CONTEXT = 12
#: Rows the failure view uses besides the snippets (header, message, details, hint).
_OTHER_ROWS = 16
_SECRET_KEY = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|KEY|CREDENTIAL", re.I)
_SAFE_ARG = re.compile(r"^[\w@%+=:,./-]+$")
_LABEL_WIDTH = 11
_KEY = "bold $accent"
HINT_FAILED = (
    ("f", ": shell in the final state (after it failed) · "),
    ("i", ": initial state (before it ran) · "),
    ("d", ": diff · "),
    ("b", ": files"),
)
HINT_FILE_OP = (
    ("f", ": toolbox shell with /dest (where it writes) and /src (its source) · "),
    ("b", ": files"),
)
HINT_SUCCESS = (("f", ": shell in the result"),)


def mask_env(entry: str) -> str:
    """``KEY=value`` with the value replaced by ``***`` when the key names a secret."""
    key, sep, _ = entry.partition("=")
    return f"{key}=***" if sep and _SECRET_KEY.search(key) else entry


def display_command(args: Sequence[str]) -> str:
    r"""Arguments joined for display: ``/bin/sh -c "echo \\"hi\\""``."""
    out = []
    for arg in args:
        if _SAFE_ARG.match(arg):
            out.append(arg)
        else:
            escaped = arg.replace("\\", "\\\\").replace('"', '\\"')
            out.append(f'"{escaped}"')
    return " ".join(out)


def format_duration(seconds: float | None) -> str:
    """``1.2s``, ``2m 03s`` or ``1h 02m``; ``-`` when unknown."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m {secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


def short_image_id(image_id: str) -> str:
    """The first 12 hex digits of an image id (``sha256:`` dropped)."""
    return image_id.partition(":")[2][:12] if ":" in image_id else image_id[:12]


def context_lines(height: int, snippets: int) -> int:
    """Context lines each side of a failing range for a pane ``height`` rows tall."""
    if snippets <= 0:
        return MIN_CONTEXT
    spare = (height - _OTHER_ROWS) // snippets - 3  # filename line and a blank line
    return max(MIN_CONTEXT, min(MAX_CONTEXT, spare // 2))


def _location(snippet: SourceSnippet) -> str:
    ranges = [(s, e if e >= s else s) for s, e in snippet.ranges]
    if not ranges:
        return snippet.filename
    start, end = min(s for s, _ in ranges), max(e for _, e in ranges)
    where = f"{start}" if start == end else f"{start}-{end}"
    return f"{snippet.filename}:{where}"


def render_snippet(snippet: SourceSnippet, context: int,
                   changed: frozenset[int] = frozenset()) -> RenderableType:
    """The snippet's marked lines and ``context`` lines each side, highlighted.

    ``changed``: lines edited since the previous build (after a reload), underlined.
    """
    code = snippet.text.rstrip("\n")
    total = code.count("\n") + 1
    ranges = [(s, e if e >= s else s) for s, e in snippet.ranges if 1 <= s <= total]
    marked = {i for s, e in ranges for i in range(s, min(e, total) + 1)}
    first = min(marked, default=1)
    last = max(marked, default=min(total, 1 + 2 * context))
    lexer = "docker" if snippet.language.lower() in ("dockerfile", "docker", "") else "text"
    syntax = Syntax(
        code,
        lexer,
        theme=SYNTAX_THEME,
        background_color="default",
        line_numbers=True,
        line_range=(max(1, first - context), min(total, last + context)),
        highlight_lines=marked,
        word_wrap=True,
    )
    lines = code.split("\n")
    for line in marked:
        syntax.stylize_range(FAILING_LINE_STYLE, (line, 0), (line, len(lines[line - 1])))
    for line in sorted(changed):
        if 1 <= line <= total:
            syntax.stylize_range(CHANGED_LINE_STYLE, (line, 0), (line, len(lines[line - 1])))
    return Group(Text(_location(snippet), style="bold"), syntax)


Field = tuple[str, str]


def _field(label: str, value: str) -> Field:
    return (label, value)


def _fields(label: str, values: Iterable[str], empty: str = "(none)") -> list[Field]:
    items = list(values) or [empty]
    return [_field(label if i == 0 else "", v) for i, v in enumerate(items)]


def _grid(rows: Sequence[Field]) -> Table:
    """Labels in one column, values wrapping in the other (long ids and env stay aligned)."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=_LABEL_WIDTH - 1, no_wrap=True, style="bold")
    grid.add_column(overflow="fold")
    for label, value in rows:
        grid.add_row(label, value)
    return grid


def _hint(parts: Sequence[tuple[str, str]]) -> Content:
    return Content.assemble(*[p for key, text in parts for p in ((key, _KEY), text)])


class FailurePane(VerticalScroll):
    """The failed step (error, Dockerfile lines, command) or the successful result."""

    DEFAULT_CSS = """
    FailurePane {
        padding: 0 1;
    }
    FailurePane > Static {
        width: 1fr;
        height: auto;
    }
    FailurePane > .fp--title {
        text-style: bold;
    }
    FailurePane > .fp--status {
        text-style: bold;
        color: $error;
    }
    FailurePane > .fp--changes {
        color: $text-accent;
    }
    FailurePane.-success > .fp--status {
        color: $success;
    }
    FailurePane.-running > .fp--title {
        color: $text-muted;
        text-style: italic;
    }
    FailurePane.-message > .fp--title {
        color: $warning;
    }
    FailurePane > .fp--message {
        margin-top: 1;
    }
    FailurePane > .fp--source {
        margin-top: 1;
    }
    FailurePane > .fp--details {
        margin-top: 1;
    }
    FailurePane > .fp--hint {
        margin-top: 1;
    }
    FailurePane > .fp--hint.-unavailable {
        color: $warning;
    }
    """

    def __init__(
        self, *, name: str | None = None, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.title_line = Static(classes="fp--title", markup=False)
        self.status_line = Static(classes="fp--status", markup=False)
        #: After a reload: what changed in the Dockerfile since the previous build.
        self.changes_line = Static(classes="fp--changes", markup=False)
        self.changes: DockerfileChanges | None = None
        self.message_text = Static(classes="fp--message", markup=False)
        self.source_view = Static(classes="fp--source")
        self.details_view = Static(classes="fp--details")
        self.hint_line = Static(classes="fp--hint")
        for child in self._children_views():
            child.display = False
        self._failure: FailureInfo | None = None
        self._context_rows = MIN_CONTEXT
        self._view = "running"
        self._shown = False

    @property
    def view(self) -> str:
        """What is shown: ``running``, ``failure``, ``success`` or ``message``."""
        return self._view

    def compose(self) -> ComposeResult:
        """The pane's fixed children."""
        yield from self._children_views()

    def on_mount(self) -> None:
        """Start in the running view unless something else was shown already."""
        if not self._shown:
            self.show_running()

    # -- views ---------------------------------------------------------------------------
    def show_running(self, text: str = "Building…") -> None:
        """The build is still running: one muted line."""
        self._set_view("running")
        self._show(self.title_line, text)

    def show_message(self, title: str, text: str) -> None:
        """A titled notice (e.g. the daemon is unreachable)."""
        self._set_view("message")
        self._show(self.title_line, title)
        self._show(self.message_text, text)

    def show_failure(self, info: FailureInfo) -> None:
        """The failed step: header, error, Dockerfile lines, what it ran, what can be opened."""
        self._set_view("failure")
        self._failure = info
        self._show(self.title_line, info.step_name or "Build failed")
        code = f"exit code {info.exit_code}" if info.exit_code is not None else "failed"
        self._show(self.status_line, f"✗ {code}")
        self._show_changes()
        self._show(self.message_text, info.message)
        self._context_rows = context_lines(self.size.height, len(info.sources))
        self._render_sources(info)
        self._show(self.details_view, _failure_details(info))
        if info.can_open:
            self._show(self.hint_line, _hint(HINT_FILE_OP if info.file_op else HINT_FAILED))
        else:
            self._show(self.hint_line, _cannot_open(info))
            self.hint_line.add_class("-unavailable")

    def show_success(self, info: SuccessInfo) -> None:
        """The successful build's image, timing, cache figures and config."""
        self._set_view("success")
        self._show(self.title_line, "Build succeeded")
        self._show(self.status_line, f"✓ {short_image_id(info.image_id) or 'no image id'}")
        self._show_changes()
        self._show(self.details_view, _success_details(info))
        self._show(self.hint_line, _hint(HINT_SUCCESS))

    # -- internals -----------------------------------------------------------------------
    def _set_view(self, view: str) -> None:
        self._view = view
        self._shown = True
        self._failure = None
        for cls in ("running", "failure", "success", "message"):
            self.set_class(cls == view, f"-{cls}")
        self.hint_line.remove_class("-unavailable")
        for child in self._children_views():
            child.update("")
            child.display = False
        if self.is_mounted:
            self.scroll_home(animate=False)

    def _show_changes(self) -> None:
        if self.changes is not None:
            self._show(self.changes_line, "↻ " + self.changes.describe())

    def _children_views(self) -> tuple[Static, ...]:
        return (self.title_line, self.status_line, self.changes_line, self.message_text,
                self.source_view, self.details_view, self.hint_line)

    @staticmethod
    def _show(widget: Static, content: str | Content | RenderableType) -> None:
        widget.update(content)
        widget.display = True

    def _render_sources(self, info: FailureInfo) -> None:
        if not info.sources:
            self.source_view.update("")
            self.source_view.display = False
            return
        changed = frozenset(self.changes.changed) if self.changes is not None else frozenset()
        parts = [render_snippet(s, self._context_rows, changed) for s in info.sources]
        self._show(self.source_view, Group(*parts))

    def on_resize(self, event: Resize) -> None:
        """Show more Dockerfile context when the pane grows taller."""
        info = self._failure
        if info is None:
            return
        wanted = context_lines(event.size.height, len(info.sources))
        if wanted != self._context_rows:
            self._context_rows = wanted
            # after this layout pass, so the new height is laid out
            self.call_after_refresh(self._rerender_sources)

    def _rerender_sources(self) -> None:
        if self._failure is not None:
            self._render_sources(self._failure)


def _failure_details(info: FailureInfo) -> Table:
    rows: list[Field] = []
    if info.command:
        rows.append(_field("command", display_command(info.command)))
        rows.append(_field("user", info.user or "root"))
        rows.append(_field("workdir", info.cwd or "/"))
        rows.extend(_fields("env", [mask_env(e) for e in info.env]))
    elif info.op_description:
        rows.append(_field("step", info.op_description))
    if info.warnings:
        rows.extend(_fields("warnings", info.warnings))
    return _grid(rows)


def _cannot_open(info: FailureInfo) -> str:
    reason = info.cannot_open
    if not reason:
        if info.op_description:
            reason = f"the failed step is {info.op_description}, not a RUN"
        elif info.vertex is None:
            reason = "the build failed before any step ran"
        else:
            reason = "this step has no state to open"
    return f"No shell (f/i): {reason}"


def _success_details(info: SuccessInfo) -> Table:
    rows = [
        _field("image", short_image_id(info.image_id) or "-"),
        _field("", info.image_id or "(no image id)"),
        *_fields("tags", info.tags, "(untagged)"),
        *(_fields("pushed to", info.pushed) if info.pushed else ()),
        _field("duration", format_duration(info.duration)),
        _field("cache", f"cached {info.cached_steps} / total {info.total_steps} steps"),
        *(_fields("warnings", info.warnings) if info.warnings else ()),
        _field("user", info.user or "root"),
        _field("workdir", info.workdir or "/"),
        _field("entrypoint", display_command(info.entrypoint) or "(none)"),
        _field("cmd", display_command(info.cmd) or "(none)"),
        *_fields("env", [mask_env(e) for e in info.env]),
    ]
    return _grid(rows)
