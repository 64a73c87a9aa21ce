"""Pilot tests of the failing-step pane and the help screen, fed with recorded builds."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from recorded import failure_info, load_error, load_result
from textual.app import App, ComposeResult
from textual.color import Color
from textual.geometry import Region
from textual.pilot import Pilot
from textual.widgets import Static

from tui.debug.model.failure import FailureInfo, SourceSnippet, SuccessInfo
from tui.ui.screens.help import HelpScreen, KeySection, key_rows
from tui.ui.widgets.failure import (
    FAILING_LINE_STYLE,
    FailurePane,
    context_lines,
    display_command,
    format_duration,
    mask_env,
    short_image_id,
)


class PaneApp(App[None]):
    def compose(self) -> ComposeResult:
        yield FailurePane(id="failure")


def rendered(widget: Static) -> list[str]:
    strips = widget.render_lines(Region(0, 0, widget.size.width, widget.size.height))
    return [s.text.rstrip() for s in strips]


NUMBERED = re.compile(r"^[❱ ] *(\d+) ")


def line_numbers(src: list[str]) -> list[int]:
    return [int(m.group(1)) for line in src if (m := NUMBERED.match(line))]


def flat(text: str) -> str:
    return " ".join(text.split())


def pane_text(pane: FailurePane) -> str:
    lines: list[str] = []
    for child in pane.query_children(Static):
        if child.display:
            lines += rendered(child)
    return "\n".join(lines)


@pytest.fixture
async def pilot() -> AsyncIterator[Pilot[None]]:
    app = PaneApp()
    async with app.run_test(size=(110, 60)) as p:
        await p.pause()
        yield p


def pane_of(pilot: Pilot[None]) -> FailurePane:
    return pilot.app.query_one(FailurePane)


def fail_run_info() -> FailureInfo:
    info = failure_info("fail-run")
    env = (*info.env, "API_TOKEN=tok-123", "DB_PASSWORD=hunter2", "SSH_KEY=k", "PLAIN=visible")
    return failure_info("fail-run", env=env)


async def test_starts_running_and_failure_view_shows_the_step(pilot: Pilot[None]) -> None:
    pane = pane_of(pilot)
    assert pane.view == "running"
    assert pane_text(pane).strip() == "Building…"

    pane.show_failure(fail_run_info())
    await pilot.pause()
    text = pane_text(pane)
    lines = text.splitlines()
    assert pane.view == "failure"
    assert lines[0] == '[5/6] RUN echo "partial output" > /work/partial.txt && sh app.sh test'
    assert lines[1] == "✗ exit code 3"
    assert "did not complete successfully: exit code: 3" in flat(text)
    assert "Building…" not in text


async def test_exit_code_uses_the_error_colour(pilot: Pilot[None]) -> None:
    pane = pane_of(pilot)
    pane.show_failure(fail_run_info())
    await pilot.pause()
    error = Color.parse(pilot.app.theme_variables["error"])
    assert pane.status_line.styles.color.rgb == error.rgb
    pane.show_success(SuccessInfo(image_id="sha256:" + "ab" * 32))
    await pilot.pause()
    success = Color.parse(pilot.app.theme_variables["success"])
    assert pane.status_line.styles.color.rgb == success.rgb


async def test_dockerfile_lines_marked_with_context(pilot: Pilot[None]) -> None:
    pane = pane_of(pilot)
    pane.show_failure(fail_run_info())
    await pilot.pause()
    src = rendered(pane.source_view)
    assert src[0] == "Dockerfile:6"
    marked = [line for line in src if line.startswith("❱")]
    assert marked == ['❱ 6 RUN echo "partial output" > /work/partial.txt && sh app.sh test']
    # context: 3+ lines before the failing line (the file ends one line after it)
    numbers = line_numbers(src)
    assert numbers[0] <= 3 and numbers[-1] == 7
    assert numbers == list(range(numbers[0], 8))
    # the failing line carries the highlight background, the others do not
    strips = pane.source_view.render_lines(
        Region(0, 0, pane.source_view.size.width, pane.source_view.size.height)
    )
    bg = FAILING_LINE_STYLE.bgcolor
    assert bg is not None
    by_line = {m.group(1): s for s in strips if (m := NUMBERED.match(s.text))}

    def has_bg(strip_key: str) -> bool:
        return any(
            seg.style is not None and seg.style.bgcolor is not None
            and seg.style.bgcolor.triplet == bg.triplet
            for seg in by_line[strip_key]
        )

    assert has_bg("6")
    assert not has_bg("5")


async def test_long_dockerfile_shows_limited_context(pilot: Pilot[None]) -> None:
    pane = pane_of(pilot)
    body = "".join(f"RUN echo line{i}\n" for i in range(1, 101))
    snippet = SourceSnippet("Dockerfile", body.encode(), ((50, 50),))
    pane.show_failure(FailureInfo(message="boom", sources=(snippet,), step_name="[50/100] RUN x"))
    await pilot.pause()
    src = rendered(pane.source_view)
    numbers = line_numbers(src)
    ctx = context_lines(pane.size.height, 1)
    assert numbers == list(range(50 - ctx, 50 + ctx + 1))
    assert 3 <= ctx < 50


async def test_taller_pane_shows_more_context() -> None:
    body = "".join(f"RUN echo line{i}\n" for i in range(1, 101))
    snippet = SourceSnippet("Dockerfile", body.encode(), ((50, 50),))
    app = PaneApp()
    async with app.run_test(size=(100, 20)) as pilot:
        pane = pane_of(pilot)
        pane.show_failure(FailureInfo(message="boom", sources=(snippet,)))
        await pilot.pause()
        assert line_numbers(rendered(pane.source_view)) == list(range(47, 54))
        await pilot.resize_terminal(100, 60)
        await pilot.pause()
        await pilot.pause()
        assert line_numbers(rendered(pane.source_view)) == list(range(38, 63))


def test_context_lines_grows_with_height() -> None:
    assert context_lines(0, 1) == 3
    assert context_lines(30, 1) > 3
    assert context_lines(200, 1) == 12
    assert context_lines(40, 2) < context_lines(40, 1)


async def test_several_snippets_are_all_shown(pilot: Pilot[None]) -> None:
    pane = pane_of(pilot)
    a = SourceSnippet("Dockerfile", b"FROM a\nRUN one\n", ((2, 2),))
    b = SourceSnippet("other.Dockerfile", b"FROM b\nCOPY x y\nRUN two\n", ((2, 3),))
    pane.show_failure(FailureInfo(message="m", sources=(a, b)))
    await pilot.pause()
    src = rendered(pane.source_view)
    assert "Dockerfile:2" in src and "other.Dockerfile:2-3" in src
    assert [line for line in src if line.startswith("❱")] == [
        "❱ 2 RUN one", "❱ 2 COPY x y", "❱ 3 RUN two",
    ]


async def test_command_user_cwd_env_with_secrets_masked(pilot: Pilot[None]) -> None:
    pane = pane_of(pilot)
    pane.show_failure(fail_run_info())
    await pilot.pause()
    details = rendered(pane.details_view)
    assert details[0] == (
        'command    /bin/sh -c "echo \\"partial output\\" > /work/partial.txt && sh app.sh test"'
    )
    assert details[1] == "user       root"
    assert details[2] == "workdir    /work"
    env = [line[11:] for line in details[3:]]
    assert env == [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "MODE=debug",
        "API_TOKEN=***",
        "DB_PASSWORD=***",
        "SSH_KEY=***",
        "PLAIN=visible",
    ]
    text = pane_text(pane)
    assert "tok-123" not in text and "hunter2" not in text
    assert rendered(pane.hint_line) == [
        "f: shell in the final state (after it failed) · i: initial state (before it ran) · "
        "d: diff · b: files"
    ]


async def test_user_and_cwd_given_are_shown(pilot: Pilot[None]) -> None:
    pane = pane_of(pilot)
    pane.show_failure(failure_info("fail-stage", user="nobody", cwd="/src"))
    await pilot.pause()
    details = rendered(pane.details_view)
    assert "user       nobody" in details
    assert "workdir    /src" in details
    assert rendered(pane.status_line) == ["✗ exit code 2"]


async def test_copy_failure_says_why_it_cannot_be_opened(pilot: Pilot[None]) -> None:
    pane = pane_of(pilot)
    info = failure_info("copy-missing")
    assert not info.can_open and info.exit_code is None
    pane.show_failure(info)
    await pilot.pause()
    text = pane_text(pane)
    assert text.splitlines()[0] == "[4/5] COPY missing.txt ."
    assert text.splitlines()[1] == "✗ failed"
    assert '"/missing.txt": not found' in flat(text)
    assert "❱ 4 COPY missing.txt ." in text
    hint = flat(" ".join(rendered(pane.hint_line)))
    assert "not a RUN" in hint and 'copy "/missing.txt" -> "/app/"' in hint
    assert "f: shell" not in text
    assert "command" not in text  # no RUN details for a file operation
    assert pane.hint_line.has_class("-unavailable")

    explicit = "the failed step is a file operation, not a RUN: only RUN steps can be entered"
    pane.show_failure(failure_info("copy-missing", cannot_open=explicit))
    await pilot.pause()
    assert explicit in flat(" ".join(rendered(pane.hint_line)))


async def test_syntax_error_failed_before_any_step(pilot: Pilot[None]) -> None:
    pane = pane_of(pilot)
    info = failure_info("syntax-error")
    assert info.vertex is None and not info.can_open
    pane.show_failure(info)
    await pilot.pause()
    text = pane_text(pane)
    assert text.splitlines()[0] == "Build failed"
    assert "unknown instruction: FROBNICATE" in flat(text)
    assert "❱ 3 FROBNICATE the build" in text
    assert "the build failed before any step ran" in flat(" ".join(rendered(pane.hint_line)))


async def test_success_summary(pilot: Pilot[None]) -> None:
    pane = pane_of(pilot)
    result = load_result("success")
    image_id = result["exporter_response"]["containerimage.config.digest"]
    cfg = result["image_config"]["config"]
    info = SuccessInfo(
        image_id=image_id,
        tags=("example/success:latest", "example/success:v1"),
        duration=83.4,
        cached_steps=1,
        total_steps=4,
        workdir=cfg["WorkingDir"],
        cmd=tuple(cfg["Cmd"]),
        env=(*cfg["Env"], "GITHUB_TOKEN=ghp_x"),
    )
    pane.show_failure(fail_run_info())
    pane.show_success(info)
    await pilot.pause()
    text = pane_text(pane)
    lines = text.splitlines()
    short = image_id.removeprefix("sha256:")[:12]
    assert lines[0] == "Build succeeded"
    assert lines[1] == f"✓ {short}"
    assert f"image      {short}" in lines
    assert f"           {image_id}" in lines
    assert "tags       example/success:latest" in lines
    assert "           example/success:v1" in lines
    assert "duration   1m 23s" in lines
    assert "cache      cached 1 / total 4 steps" in lines
    assert "user       root" in lines
    assert "workdir    /app" in lines
    assert "entrypoint (none)" in lines
    assert "cmd        cat /app/status" in lines
    assert "           GREETING=hello" in lines
    assert "           GITHUB_TOKEN=***" in lines
    assert lines[-1] == "f: shell in the result"
    assert "partial output" not in text  # nothing left of the failure view


async def test_message_and_running_views(pilot: Pilot[None]) -> None:
    pane = pane_of(pilot)
    pane.show_message("Daemon unreachable", "cannot connect to unix:///nowhere.sock [errno 2]")
    await pilot.pause()
    assert pane.view == "message"
    assert pane_text(pane).splitlines() == [
        "Daemon unreachable", "cannot connect to unix:///nowhere.sock [errno 2]",
    ]
    pane.show_running("Solving…")
    await pilot.pause()
    assert pane_text(pane).splitlines() == ["Solving…"]


async def test_pane_scrolls_with_keys() -> None:
    app = PaneApp()
    async with app.run_test(size=(80, 12)) as pilot:
        pane = pane_of(pilot)
        pane.show_failure(fail_run_info())
        await pilot.pause()
        pane.focus()
        await pilot.pause()
        assert pane.has_focus
        assert pane.max_scroll_y > 0
        await pilot.press("end")
        await pilot.pause()
        assert pane.scroll_y == pane.max_scroll_y
        await pilot.press("home")
        await pilot.pause()
        assert pane.scroll_y == 0


async def test_views_set_before_mount_survive_mounting() -> None:
    pane = FailurePane()
    pane.show_failure(failure_info("fail-run"))

    class Early(App[None]):
        def compose(self) -> ComposeResult:
            yield pane

    async with Early().run_test(size=(100, 40)) as pilot:
        await pilot.pause()
        assert pane.view == "failure"
        lines = pane_text(pane).splitlines()
        assert lines[1] == "✗ exit code 3"
        assert any(line.startswith("❱ 6 RUN") for line in lines)
        assert pane.message_text.region.height > 0


def test_formatting_helpers() -> None:
    assert display_command(["/bin/sh", "-c", 'echo "hi" $X']) == '/bin/sh -c "echo \\"hi\\" $X"'
    assert display_command(["ls", ""]) == 'ls ""'
    assert mask_env("MY_SECRET=x") == "MY_SECRET=***"
    assert mask_env("npm_token=x") == "npm_token=***"
    assert mask_env("HOME=/root") == "HOME=/root"
    assert mask_env("NOVALUE") == "NOVALUE"
    assert format_duration(None) == "-"
    assert format_duration(1.25) == "1.2s"
    assert format_duration(3725) == "1h 02m"
    assert short_image_id("sha256:0123456789abcdef") == "0123456789ab"


def test_recorded_error_matches_what_the_pane_needs() -> None:
    err = load_error("fail-run")
    assert err["exit_code"] == 3
    assert err["sources"][0]["ranges"] == [[6, 6]]


# -- help screen --------------------------------------------------------------------------

KEYS = [KeySection("Keys", [("f", "shell in the final state"), ("i", "initial state"),
                            ("ctrl+q", "quit")])]


class HelpApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("main")


def screen_text(screen: HelpScreen) -> str:
    return "\n".join(
        line for w in screen.query(Static) for line in rendered(w) if line.strip()
    )


@pytest.mark.parametrize("key", ["escape", "q", "question_mark", "f1"])
async def test_help_lists_keys_and_closes(key: str) -> None:
    app = HelpApp()
    async with app.run_test(size=(100, 30)) as pilot:
        closed: list[None] = []
        app.push_screen(HelpScreen(KEYS, chord="ctrl+]"), callback=closed.append)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, HelpScreen)
        text = screen_text(screen)
        assert "f       shell in the final state" in text
        assert "i       initial state" in text
        assert "ctrl+q  quit" in text
        assert "ctrl+]" in text and "without ending the process" in flat(text)
        await pilot.press(key)
        await pilot.pause()
        assert not isinstance(app.screen, HelpScreen)
        assert closed == [None]


async def test_help_ignores_other_keys() -> None:
    app = HelpApp()
    async with app.run_test(size=(100, 30)) as pilot:
        app.push_screen(HelpScreen(KEYS, chord="ctrl+g"))
        await pilot.pause()
        await pilot.press("x", "enter")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        assert "except ctrl+g" in screen_text(app.screen)


def test_key_rows_come_from_the_bindings_once() -> None:
    """One row per help text, every key that does it, no label written twice."""
    from textual.binding import Binding

    from tui.ui.app import BxtuiApp
    from tui.ui.widgets.files.pane import FileBrowser

    rows = dict((text, keys) for keys, text in key_rows([
        Binding("up,k", "up", "Up", tooltip="move"), Binding("pageup", "page", "Page",
                                                             tooltip="move"),
        Binding("question_mark,f1", "help", "Help", key_display="?"),
        Binding("slash", "search", "Search", key_display="/")], [("double click", "open")]))
    assert rows == {"move": "↑ / k / pgup", "Help": "? / f1", "Search": "/",
                    "open": "double click"}
    files = dict((text, keys) for keys, text in key_rows(FileBrowser.BINDINGS))
    assert files["previous / next state"] == "[ / ]"
    app_rows = key_rows(BxtuiApp.BINDINGS)
    assert ("q / ctrl+c / ctrl+q", "close: release containers and the build, then exit") \
        in app_rows
    texts = [text for _, text in app_rows]
    assert len(texts) == len(set(texts))
    # the section says which pane: no row repeats it ("files: files: ..." once)
    sections = BxtuiApp.key_sections()
    assert [s.title for s in sections][-4:] == ["Files (b)", "Diff (d)", "Terminal",
                                                "Retry line (e)"]
    assert not any(text.startswith(("files:", "diff:", "terminal:"))
                   for section in sections[1:] for _, text in section.rows)


async def test_build_warnings_are_listed_in_both_views(pilot: Pilot[None]) -> None:
    pane = pane_of(pilot)
    short = "FromAsCasing: 'as' and 'FROM' keywords' casing do not match (line 1)"
    pane.show_failure(FailureInfo(message="m", command=("/bin/sh", "-c", "false"),
                                  warnings=(short, "MaintainerDeprecated: x (line 2)")))
    await pilot.pause()
    text = flat(pane_text(pane))
    assert "warnings" in text and flat(short) in text and "MaintainerDeprecated" in text
    pane.show_success(SuccessInfo(image_id="sha256:" + "ab" * 32, warnings=(short,)))
    await pilot.pause()
    assert flat(short) in flat(pane_text(pane))
    pane.show_success(SuccessInfo(image_id="sha256:" + "ab" * 32))
    await pilot.pause()
    assert "warnings" not in flat(pane_text(pane))
