"""Terminal robustness (issue 8, item 5): resize storms, a 100 MB flood, a paste nobody reads.

The pilot tests drive a ``TerminalPane`` attached to a real local PTY; the daemon tests drive
the real binary in a PTY on the real daemon, as ``test_app_pty.py`` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import select
import shlex
import termios
import time
from pathlib import Path

import ptyprocess
import pytest
from conftest import EXAMPLES, active_builds, bxtui_binary, wait_until
from pilotwait import wait_for
from ptyscreen import PtyScreen
from textual import events
from textual.app import App, ComposeResult
from textual.events import Resize
from textual.geometry import Size
from textual.pilot import Pilot

from tui.ui.widgets.terminal import CHORD_KEY, PASTE_WINDOW, TerminalPane

BACKLOG_LIMIT = 8 << 20  # what the app holds a process's output at (tui/ui/features/shells.py)


class PaneApp(App[None]):
    """One terminal pane filling the screen; counts ctrl+] and timer ticks."""

    CSS = "TerminalPane { height: 1fr; }"

    def __init__(self) -> None:
        super().__init__()
        self.released = 0
        self.ticks = 0

    def compose(self) -> ComposeResult:
        yield TerminalPane()

    def on_mount(self) -> None:
        self.set_interval(0.02, self._tick)

    def _tick(self) -> None:
        self.ticks += 1

    def on_terminal_pane_release_focus(self) -> None:
        self.released += 1


class LocalPty:
    """A local process in a PTY behind the pane: output fed with the app's flow control,
    input written without ever blocking (``short_writes`` counts when the PTY was full)."""

    def __init__(self, pane: TerminalPane, argv: list[str], rows: int = 24,
                 cols: int = 80) -> None:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PS1": "$ ", "TERM": "xterm",
               "HOME": "/tmp"}
        self.pane = pane
        self.proc = ptyprocess.PtyProcess.spawn(argv, env=env, dimensions=(rows, cols))
        self.fd = self.proc.fd
        os.set_blocking(self.fd, False)
        self.loop = asyncio.get_running_loop()
        self.sent = 0
        self.sizes: list[tuple[int, int]] = []
        self.short_writes = 0
        self.max_backlog = 0
        self._out = bytearray()
        self._reading = True
        self.loop.add_reader(self.fd, self._readable)

    # PtyLink
    def send(self, data: bytes) -> None:
        self.sent += len(data)
        if self._out:
            self._out += data
            return
        self._out += data
        self._write()

    def resize(self, rows: int, cols: int) -> None:
        self.sizes.append((rows, cols))
        self.proc.setwinsize(rows, cols)

    def _write(self) -> None:
        try:
            n = os.write(self.fd, self._out)
        except BlockingIOError:
            n = 0
        except OSError:  # the process is gone
            self._out.clear()
            return
        if n < len(self._out):
            self.short_writes += 1
            del self._out[:n]
            self.loop.add_writer(self.fd, self._writable)
        else:
            self._out.clear()

    def _writable(self) -> None:
        self.loop.remove_writer(self.fd)
        self._write()

    def _readable(self) -> None:
        try:
            data = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._stop_reading()
            return
        self.pane.feed(data)
        self.max_backlog = max(self.max_backlog, self.pane.backlog)
        if self.pane.backlog > BACKLOG_LIMIT:  # flow control, as the app's drain()
            self._stop_reading()
            self.loop.create_task(self._resume())

    async def _resume(self) -> None:
        await self.pane.wait_backlog(BACKLOG_LIMIT)
        if self.proc.isalive() or select.select([self.fd], [], [], 0)[0]:
            self._reading = True
            self.loop.add_reader(self.fd, self._readable)

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            self.loop.remove_reader(self.fd)

    def close(self) -> None:
        self._stop_reading()
        self.loop.remove_writer(self.fd)
        self.proc.terminate(force=True)


def screen_rows(pane: TerminalPane) -> list[str]:
    return [pane.render_line(y).text.rstrip() for y in range(pane.content_size.height)]


def on_screen(pane: TerminalPane, pattern: str) -> bool:
    return re.search(pattern, "\n".join(screen_rows(pane)), re.M) is not None


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def key(app: App[None], name: str, char: str | None = None) -> None:
    """A key as the driver delivers it (no wait for the app to be idle)."""
    app.post_message(events.Key(name, char))


async def type_line(pilot: Pilot[None], text: str) -> None:
    for ch in text:
        key(pilot.app, "space" if ch == " " else ch, ch)
    key(pilot.app, "enter", "\r")
    await pilot.pause()


async def shell_pane(pilot: Pilot[None]) -> tuple[TerminalPane, LocalPty]:
    """The pane attached to a local interactive /bin/sh, at its prompt."""
    pane = pilot.app.query_one(TerminalPane)
    rows, cols = pane.pty_size
    link = LocalPty(pane, ["/bin/sh"], rows, cols)
    pane.attach(link, "sh")
    pane.focus()
    await wait_for(pilot, lambda: on_screen(pane, r"^\$ ?$"), 10)
    return pane, link


def laid_out(pane: TerminalPane, width: int, height: int) -> bool:
    """The pane fills a ``width`` x ``height`` screen: at least its border's 2 x 2, less a
    scrollbar's 2 columns when that border is taller than a one-row screen."""
    want = {(max(width, 2), max(height, 2))}
    if height == 1:
        want.add((width - 2, 2))
    return pane.app.size == (width, height) and tuple(pane.outer_size) in want


# -- 1a. resize storm on the pane ------------------------------------------------------------
async def test_resize_storm_reaches_a_real_pty_process() -> None:
    rng = random.Random(8)
    # every fourth one is sent back to back with the next; (3, 3) leaves one cell inside
    sizes = [(80, 20), (1, 1), (2, 1), (1, 2), (81, 21), (3, 3), (300, 100), (4, 3)]
    sizes += [(rng.randint(1, 300), rng.randint(1, 100)) for _ in range(220)]
    app = PaneApp()
    async with app.run_test(size=(90, 26)) as pilot:
        pane, link = await shell_pane(pilot)
        try:
            for i, (w, h) in enumerate(sizes):
                pilot.app._driver._size = Size(w, h)  # type: ignore[union-attr]
                app.post_message(Resize(Size(w, h), Size(w, h)))
                if i % 4:  # mostly laid out one by one, sometimes back to back
                    await wait_for(pilot, lambda: laid_out(pane, w, h))  # noqa: B023
            await pilot.resize_terminal(97, 31)
            assert app.is_running
            assert len(link.sizes) > 100
            assert len(link.sizes) > 100
            assert min(link.sizes) == (1, 1) and max(link.sizes) == (98, 298)
            want = (31 - 2, 97 - 2)  # the pane's border
            await wait_for(pilot, lambda: pane.pty_size == want, 10)
            await type_line(pilot, "clear; stty size")
            await wait_for(pilot, lambda: on_screen(pane, rf"^{want[0]} {want[1]}$"), 10)
            assert link.proc.getwinsize() == want
            await wait_for(pilot, lambda: pane.emulator is not None
                           and pane.emulator.size == (want[1], want[0]), 10)
        finally:
            link.close()


# -- 2. 100 MB through the pane ---------------------------------------------------------------
async def test_100_mb_flood_keeps_the_app_responsive() -> None:
    total = 100_000_000
    script = (f"head -c {total} /dev/zero | tr '\\0' x | fold -w 100; "
              "echo FLOOD$((6*7))")
    app = PaneApp()
    async with app.run_test(size=(120, 36)) as pilot:
        pane = app.query_one(TerminalPane)
        pane.focus()
        rss_before = rss_bytes()
        link = LocalPty(pane, ["/bin/sh", "-c", script], *pane.pty_size)
        pane.attach(link, "flood")
        feeder = pane._feeder
        assert feeder is not None
        try:
            await wait_for(pilot, lambda: feeder.parsed > 10_000_000, 60)
            ticks, parsed_then = app.ticks, feeder.parsed
            key(app, "z", "z")  # a key while the flood runs: handled, sent to the process
            await wait_for(pilot, lambda: link.sent == 1 and app.ticks > ticks + 2, 30)
            assert feeder.parsed < total, "the flood was over before the key was handled"
            assert parsed_then < total
            await wait_for(pilot, lambda: on_screen(pane, r"FLOOD42"), 120)
            assert feeder.parsed > total  # 100 MB plus the CRs the PTY adds
            assert link.max_backlog < BACKLOG_LIMIT + (1 << 20)
            growth = rss_bytes() - rss_before
            assert growth < 150 << 20, f"RSS grew by {growth >> 20} MiB"
        finally:
            link.close()


# -- 3. a paste the process never reads -------------------------------------------------------
async def test_paste_to_a_process_that_never_reads() -> None:
    """10 MB pasted into ``sleep``: sent only as fast as it is echoed, ctrl+] and ctrl+c work.

    The lines fill the terminal's line buffer; what the pane sends beyond that stays within
    what the PTY takes at once (no short write), the rest is held back and dropped by ctrl+c.
    """
    text = "".join(f"line {i:07d} " + "p" * 86 + "\n" for i in range(100_000))  # 10 MB
    app = PaneApp()
    async with app.run_test(size=(100, 30)) as pilot:
        pane, link = await shell_pane(pilot)
        try:
            await type_line(pilot, "sleep 1000")
            await wait_for(pilot, lambda: on_screen(pane, r"\$ sleep 1000"), 10)
            rss_before = rss_bytes()
            sent_before = link.sent
            app.post_message(events.Paste(text))
            await wait_for(pilot, lambda: 0 < pane.held_input < len(text), 10)
            await wait_for(pilot, lambda: "pasting" in str(pane.border_subtitle), 10)
            # it stops once the terminal stops echoing: the held part stays held
            await wait_for(pilot, lambda: pane._unanswered >= PASTE_WINDOW, 10)
            sent = link.sent - sent_before
            assert sent < 3 * PASTE_WINDOW, sent
            assert link.short_writes == 0
            assert pane.held_input == len(text) - sent
            assert rss_bytes() - rss_before < 100 << 20
            # the app answers: ctrl+] goes back to the panes while the paste is held
            key(app, CHORD_KEY)
            await wait_for(pilot, lambda: app.released == 1, 10)
            pane.focus()
            # ctrl+c drops what is held and goes to the process; nothing of the paste follows
            key(app, "ctrl+c")
            await wait_for(pilot, lambda: pane.held_input == 0, 10)
            assert link.sent - sent_before == sent + 1
            assert "pasting" not in str(pane.border_subtitle or "")
            assert link.short_writes == 0
        finally:
            link.close()


async def test_ctrl_c_interrupts_a_single_line_paste() -> None:
    """5 MB without a newline into ``sleep``: ctrl+c stops the paste and interrupts it."""
    app = PaneApp()
    async with app.run_test(size=(100, 30)) as pilot:
        pane, link = await shell_pane(pilot)
        try:
            await type_line(pilot, "sleep 1000")
            await wait_for(pilot, lambda: on_screen(pane, r"\$ sleep 1000"), 10)
            app.post_message(events.Paste("q" * 5_000_000))
            await wait_for(pilot, lambda: pane.held_input > 0, 10)
            key(app, "ctrl+c")
            await wait_for(pilot, lambda: pane.held_input == 0, 10)
            await type_line(pilot, "echo BACK$((1+1))")
            await wait_for(pilot, lambda: on_screen(pane, r"^BACK2$"), 20)
            assert link.short_writes == 0
        finally:
            link.close()


async def test_bracketed_paste_is_not_held() -> None:
    """A program that asked for bracketed paste reads it (bash echoes it only at its end)."""
    script = r"printf '\033[?2004h'; stty -echo; echo READY; exec cat > /dev/null"
    app = PaneApp()
    async with app.run_test(size=(100, 30)) as pilot:
        pane = app.query_one(TerminalPane)
        link = LocalPty(pane, ["/bin/sh", "-c", script], *pane.pty_size)
        pane.attach(link, "cat")
        pane.focus()
        try:
            await wait_for(pilot, lambda: on_screen(pane, "READY"), 10)
            await wait_for(pilot, lambda: pane.emulator is not None
                           and pane.emulator.modes.bracketed_paste, 10)
            app.post_message(events.Paste(("z" * 99 + "\n") * 10_000))
            await wait_for(pilot, lambda: link.sent == 1_000_000 + 12, 10)
            assert pane.held_input == 0
            await wait_for(pilot, lambda: not link._out, 30)  # cat has read it all
        finally:
            link.close()


# -- the real binary on the real daemon -------------------------------------------------------
PROMPT = r"/work # "
CHORD = b"\x1d"


def _spawn(docker_host: str, *args: str, rows: int = 40, cols: int = 140) -> PtyScreen:
    argv = [bxtui_binary(), "build", *args, str(EXAMPLES / "fail-run")]
    script = " ".join(shlex.quote(a) for a in argv) + "; echo BXTUI_RC=$?; stty -a"
    env = dict(os.environ, DOCKER_HOST=docker_host, TERM="xterm-256color")
    return PtyScreen(["/bin/sh", "-c", script], env, rows=rows, cols=cols)


def _write_all(run: PtyScreen, data: bytes, timeout: float = 60) -> None:
    """Write ``data`` to the app's terminal while reading what it draws (no deadlock)."""
    fd = run.proc.fd
    view = memoryview(data)
    deadline = time.monotonic() + timeout
    os.set_blocking(fd, False)
    try:
        while view:
            assert time.monotonic() < deadline, "the app stopped reading its input"
            readable, writable, _ = select.select([fd], [fd], [], 0.2)
            if readable:
                run.pump(0)
            if writable:
                with contextlib.suppress(BlockingIOError):
                    view = view[os.write(fd, view[:1 << 16]):]
    finally:
        os.set_blocking(fd, True)


def _dockerd_pid(docker_host: str) -> int | None:
    """dockerd's pid from the pid file next to its socket (``scripts/daemon.sh``), if readable."""
    sock = Path(docker_host.removeprefix("unix://"))
    with contextlib.suppress(OSError, ValueError):
        return int((sock.parent / "dockerd.pid").read_text())
    return None


def _ptys(pid: int) -> dict[int, int]:
    """The masters ``pid`` holds: fd -> tty index."""
    found = {}
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == "/dev/ptmx":
                    info = Path(f"/proc/{pid}/fdinfo/{fd}").read_text()
                    found[int(fd)] = int(info.split("tty-index:")[1].split()[0])
    return found


def _blocked_tty_writes(pid: int, skip: dict[int, int]) -> set[int]:
    """Terminals (tty indexes) a thread of ``pid`` is blocked writing to, not in ``skip``."""
    masters = {fd: i for fd, i in _ptys(pid).items() if skip.get(fd) != i}
    found = set()
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                call = (task / "syscall").read_text().split()
                if call[0] == "1" and int(call[1], 16) in masters:  # write(2) on x86-64
                    found.add(masters[int(call[1], 16)])
    return found


def _stuck_tty_writes(docker_host: str, before: dict[int, int]) -> set[int]:
    """Writes of dockerd to terminals opened since ``before`` that stay blocked (~5 s)."""
    pid = _dockerd_pid(docker_host)
    if pid is None or not _blocked_tty_writes(pid, before):
        return set()
    wait_until(lambda: not _blocked_tty_writes(pid, before), 5)
    return _blocked_tty_writes(pid, before)


def _unwedge(index: int) -> None:
    """Empty a terminal's input from the host, so that a write blocked on it returns."""
    deadline = time.monotonic() + 3
    with contextlib.suppress(OSError):
        fd = os.open(f"/dev/pts/{index}", os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            while time.monotonic() < deadline:
                termios.tcflush(fd, termios.TCIFLUSH)
                with contextlib.suppress(BlockingIOError):
                    os.read(fd, 1 << 16)
                time.sleep(0.01)
        finally:
            os.close(fd)


def _ask_size(run: PtyScreen, n: int, timeout: float = 60) -> tuple[int, int]:
    """The shell's terminal size, printed on one line with a marker of its own."""
    run.send(f"clear; echo \"$(stty size) S{n}$((0+1))\"\r")
    m = run.wait_for(rf"(\d+)[\s│]+(\d+)[\s│]+S{n}1\b", timeout=timeout)
    return int(m.group(1)), int(m.group(2))


@pytest.mark.daemon
def test_resize_storm_in_the_real_app(docker_host: str) -> None:
    rng = random.Random(5)
    run = _spawn(docker_host)
    try:
        run.wait_for(r"exit code 3")
        run.send("z")  # zoomed: the terminal's size is the screen's minus constant chrome
        run.send("f")
        run.wait_for(PROMPT, timeout=30)
        rows0, cols0 = _ask_size(run, 0)
        sizes = [(1, 1), (1, 2), (200, 300)] + [(rng.randint(1, 120), rng.randint(1, 300))
                                                   for _ in range(47)]
        for rows, cols in sizes:
            run.proc.setwinsize(rows, cols)
            run.pump(0)
        run.resize(36, 120)
        want = (rows0 - 4, cols0 - 20)
        deadline = time.monotonic() + 30
        n, seen = 1, (0, 0)
        while seen != want and time.monotonic() < deadline:
            # each answer shows the app still works; one asked while the last size was on its
            # way may be redrawn over by the shell (busybox's line editor, at 5 columns):
            # then ask again
            with contextlib.suppress(AssertionError):
                seen = _ask_size(run, n, timeout=5)
            n += 1
        assert seen == want, run.text()
        run.send(CHORD)
        run.wait_for(r"q Quit")
        run.send("q")
        run.wait_for(r"BXTUI_RC=1", timeout=30)
        run.wait_for(r"\bisig\b")
        assert " icanon" in run.tail() and "-icanon" not in run.tail()
        assert "Traceback" not in run.tail()
        assert run.wait_exit(timeout=30) == 0
    finally:
        run.close()


@pytest.mark.daemon
def test_paste_into_a_process_that_never_reads_in_the_real_app(docker_host: str,
                                                               tmp_path: Path) -> None:
    """1 MB bracketed pastes into ``sleep`` in the failed step's container.

    A single line: ctrl+c interrupts and the shell comes back. Lines: they fill the
    terminal's line buffer and the rest is held; ctrl+] and q work, the build is released,
    and so is the container: a daemon write blocked on its terminal would hold the release
    (and leave the daemon killing the container forever).
    """
    before = active_builds(docker_host)
    dockerd = _dockerd_pid(docker_host)
    ptys_before = _ptys(dockerd) if dockerd is not None else {}
    log = tmp_path / "debug.log"
    run = _spawn(docker_host, "-D", "--debug-file", str(log), rows=30, cols=120)
    try:
        run.wait_for(r"exit code 3")
        run.send("z")  # zoomed: the pane's notes fit on its border
        run.send("f")
        run.wait_for(PROMPT, timeout=30)
        mine = active_builds(docker_host) - before
        assert mine
        run.send("sleep 1001\r")
        run.wait_for(r"sleep 1001")
        _write_all(run, b"\x1b[200~" + b"q" * 1_000_000 + b"\x1b[201~")
        run.send(b"\x03")
        run.send("echo BACK$((1+1))\r")
        run.wait_for(r"BACK2", timeout=60)
        run.wait_gone(r"pasting")

        run.send("sleep 1002\r")
        run.wait_for(r"sleep 1002")
        lines = b"".join(b"line %07d " % i + b"p" * 86 + b"\n" for i in range(10_000))
        _write_all(run, b"\x1b[200~" + lines + b"\x1b[201~")
        run.wait_for(r"pasting, [\d.]+ [kM]B left")
        run.send(CHORD)
        run.wait_for(r"q Quit")
        run.send("q")
        run.wait_for(r"BXTUI_RC=1", timeout=30)
        assert "Traceback" not in run.tail()
        assert run.wait_exit(timeout=30) == 0
        assert wait_until(lambda: not (mine & active_builds(docker_host)), 10)
    finally:
        run.close()
        wedged = _stuck_tty_writes(docker_host, ptys_before)
        for index in wedged:  # leave the shared daemon working
            _unwedge(index)
    assert not wedged, f"the daemon's writes to terminals {wedged} were stuck"
    # the daemon answered the release (ok, or the killed shell's status), bxtui did not give up
    answers = re.findall(r"rpc LLBBridge/ReleaseContainer (ok|failed after .*)", log.read_text())
    assert answers and not [a for a in answers if "CancelledError" in a], answers
