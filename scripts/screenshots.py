"""Take screenshots of the real bxtui app on the real daemon (run scripts/screenshots.sh).

Each run drives ``bxtui build`` in a PTY (140x40 unless said otherwise) with
``BXTUI_SCREENSHOT_DIR`` set to a temporary folder, waits for a state to show on the screen,
sends SIGUSR1 (the app saves ``shot-NN.svg``), waits for that file and moves it to
``screenshots/NAME.svg``; then ``q`` closes the run and its exit status is checked. Every wait
is bounded: a state that never shows fails the script with the screen it had.

Options: ``--only NAME[,NAME...]`` takes just the runs that make those shots; ``--png`` also
converts each SVG with rsvg-convert (the shell script passes it). ``BXTUI_BIN`` names another
bxtui binary to drive than ``.venv/bin/bxtui``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "support"))
from ptyscreen import PtyScreen  # noqa: E402

OUT = REPO / "screenshots"
#: The binary to drive; BXTUI_BIN picks another (e.g. an installed release).
BXTUI = Path(os.environ.get("BXTUI_BIN") or REPO / ".venv" / "bin" / "bxtui")
CHORD = b"\x1d"  # ctrl+]
PROMPT = r"/work # "
SHOT_TIMEOUT = 15.0

#: A build with a few quick steps, a slow step printing lines, then a failing step.
RUNNING_DOCKERFILE = """\
FROM busybox:local
WORKDIR /work
RUN echo "quick one" > one.txt
RUN echo "quick two" > two.txt && cat one.txt two.txt
ENV MODE=slow
RUN for i in $(seq 1 40); do echo "step $i of 40"; sleep 0.1; done
RUN echo "about to fail" && exit 7
"""


def quiet(run: PtyScreen, period: float = 0.6, limit: float = 5.0) -> bool:
    """Read the PTY until the app has drawn nothing for ``period`` seconds (at most ``limit``).

    The state waited for is on the screen already; this lets the frames that follow it (a
    re-layout, a scrollbar) land before the shot. False if the screen never went quiet.
    """
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = len(run.raw)
        end = time.monotonic() + period
        while time.monotonic() < end:
            if not run.pump(max(0.0, end - time.monotonic())):
                return True  # the PTY closed
        if len(run.raw) == before:
            return True
    return False


def wait_settled(run: PtyScreen, pattern: str, timeout: float = 60, gone: bool = False) -> None:
    """Wait until ``pattern`` is (``gone``: is no longer) on a screen that has stopped changing.

    pyte knows nothing of synchronized output, so a frame read half-way shows a torn screen:
    part new, part old (e.g. the old shell's prompt under the new shell's title). Checking
    again once the app has gone quiet keeps such half frames from counting.
    """
    deadline = time.monotonic() + timeout
    while True:
        left = max(deadline - time.monotonic(), 0.1)
        if gone:
            run.wait_gone(pattern, timeout=left)
        else:
            run.wait_for(pattern, timeout=left)
        quiet(run, limit=min(left, 5.0))
        if bool(re.search(pattern, run.text())) != gone:
            return
        if time.monotonic() > deadline:
            state = "still" if gone else "not"
            raise AssertionError(f"{pattern!r} {state} on screen:\n{run.text()}")


async def _active_builds() -> list[str]:
    from tui.buildkit.address import parse_address
    from tui.buildkit.client import BuildkitClient

    host = os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
    client = await BuildkitClient.open(parse_address(host, "docker", "DOCKER_HOST"))
    try:
        return await asyncio.wait_for(client.active_builds(), 10)
    finally:
        await client.close()


def wait_daemon_idle(limit: float) -> None:
    """Wait (at most ``limit`` s) until no other build runs on the daemon.

    BuildKit shares identical steps between builds running at the same time, and their
    progress shows up in every build that shares them (steps of the other build, its start
    time in the total): the screenshots are cleaner on a quiet daemon. Only a warning if it
    stays busy.
    """
    deadline = time.monotonic() + limit
    warned = False
    while True:
        busy = asyncio.run(_active_builds())
        if not busy:
            return
        if time.monotonic() >= deadline:
            print(f"  warning: {len(busy)} other build(s) still running on the daemon; "
                  "the screenshots may show their shared steps", flush=True)
            return
        if not warned:
            print(f"  waiting for {len(busy)} other build(s) on the daemon to finish "
                  f"(at most {limit:.0f}s)...", flush=True)
            warned = True
        time.sleep(1)


class Shooter:
    """Runs of the app whose screenshots land in one temporary folder."""

    def __init__(self, shot_dir: Path, png: bool) -> None:
        self.shot_dir = shot_dir
        self.png = png
        self.taken: list[Path] = []

    def spawn(self, *args: str, rows: int = 40, cols: int = 140,
              cwd: Path = REPO) -> PtyScreen:
        env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor",
                   BXTUI_SCREENSHOT_DIR=str(self.shot_dir))
        env.pop("NO_COLOR", None)
        argv = [str(BXTUI), "build", "--progress=tui", *args]
        print(f"  $ {' '.join(argv[1:])}  ({cols}x{rows})", flush=True)
        return PtyScreen(argv, env, rows=rows, cols=cols, cwd=str(cwd))

    def shoot(self, run: PtyScreen, name: str, settle: bool = True) -> Path:
        """SIGUSR1 the app, wait for its new shot file, move it to ``screenshots/NAME.svg``.

        With ``settle`` the screen is first given a moment to stop changing (see ``settle``).
        """
        if settle:
            quiet(run)
        before = set(self.shot_dir.glob("shot-*.svg"))
        os.kill(run.proc.pid, signal.SIGUSR1)
        deadline = time.monotonic() + SHOT_TIMEOUT
        new: Path | None = None
        while new is None:
            # keep reading the PTY meanwhile: a full PTY buffer would stall the app
            run.pump(0.05)
            fresh = sorted(set(self.shot_dir.glob("shot-*.svg")) - before)
            if fresh and fresh[-1].read_text(encoding="utf-8", errors="replace") \
                    .rstrip().endswith("</svg>"):
                new = fresh[-1]
            elif time.monotonic() > deadline:
                raise AssertionError(f"no new screenshot in {self.shot_dir} after "
                                     f"{SHOT_TIMEOUT}s (is BXTUI_SCREENSHOT_DIR honoured?)")
        dest = OUT / f"{name}.svg"
        shutil.move(str(new), dest)
        self.taken.append(dest)
        print(f"  -> {dest.relative_to(REPO)}", flush=True)
        if self.png:
            print(f"  -> {to_png(dest).relative_to(REPO)}", flush=True)
        return dest

    def close(self, run: PtyScreen, want: int) -> None:
        """``q`` from the panes, then check the exit status."""
        run.send("q")
        rc = run.wait_exit(timeout=60)
        if rc != want:
            raise AssertionError(f"bxtui exited with {rc}, expected {want}; "
                                 f"after it left:\n{run.tail()}")


def running_build(s: Shooter) -> None:
    with tempfile.TemporaryDirectory(prefix="bxtui-shots-") as tmp:
        ctx = Path(tmp) / "slow-build"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(RUNNING_DOCKERFILE)
        run = s.spawn("--no-cache", ctx.name, cwd=Path(tmp))
        try:
            run.wait_for(r"BUILDING", timeout=60)
            run.wait_for(r"step (1[2-9]|2[0-9]) of 40", timeout=60)  # the slow step's lines
            if "BUILDING" not in run.text():
                raise AssertionError(f"the build was no longer running:\n{run.text()}")
            s.shoot(run, "running-build", settle=False)  # it never stops changing
            run.wait_for(r"FAILED", timeout=60)
            run.wait_for(r"exit code 7", timeout=30)
            s.close(run, 1)
        finally:
            run.close()


def failure_and_shells(s: Shooter) -> None:
    run = s.spawn("examples/fail-run")
    try:
        run.wait_for(r"exit code 3", timeout=120)
        run.wait_for(r"FAILED")
        s.shoot(run, "failure-view")
        run.send("?")
        wait_settled(run, r"command palette", timeout=10)
        s.shoot(run, "help")
        run.send(b"\x1b")  # escape closes the help
        run.wait_gone(r"command palette", timeout=10)
        run.send("f")
        wait_settled(run, PROMPT, timeout=60)
        run.send("ls -l; cat partial.txt\r")
        run.wait_for(r"│partial output", timeout=20)  # the shell's line, not the Dockerfile's
        s.shoot(run, "shell-final")
        run.send(CHORD)
        wait_settled(run, r"i Initial", timeout=10)
        run.send("i")
        wait_settled(run, r"initial state", timeout=30)
        # the final state's shell has gone from the pane, then the new one's prompt shows; a
        # torn frame can still show the old prompt, and a command typed then goes ahead of
        # the new shell (the tty echoes it twice above the banner)
        wait_settled(run, r"cat partial\.txt", timeout=30, gone=True)
        wait_settled(run, PROMPT, timeout=60)
        run.send('ls -l; test -e partial.txt || echo "partial.txt: not there yet"\r')
        run.wait_for(r"partial\.txt: not there yet\s", timeout=20)
        run.wait_for(r"not there yet[^\n]*\n[^\n]*│/work # ", timeout=10)  # the next prompt
        run.wait_gone(r"Ended the previous shell", timeout=15)  # the notice over the pane
        s.shoot(run, "shell-initial")
        run.send(CHORD)
        wait_settled(run, r"q Quit", timeout=10)  # a q for the shell would not close
        s.close(run, 1)
    finally:
        run.close()


def success_summary(s: Shooter) -> None:
    run = s.spawn("-t", "bxtui-demo:latest", "examples/success", cwd=REPO)
    try:
        run.wait_for(r"Build succeeded", timeout=120)
        run.wait_for(r"SUCCEEDED")
        s.shoot(run, "success-summary")
        s.close(run, 0)
    finally:
        run.close()


def small_terminal(s: Shooter) -> None:
    run = s.spawn("examples/fail-run", rows=24, cols=80)
    try:
        run.wait_for(r"FAILED", timeout=120)
        wait_settled(run, r"tab:", timeout=10)  # the narrow layout names its panes
        wait_settled(run, r"exit code 3|ERROR", timeout=10)  # the failure shows
        s.shoot(run, "small-terminal")
        s.close(run, 1)
    finally:
        run.close()


def explore(s: Shooter) -> None:
    """The diff of a failed RUN, the file browser, a shell in another step's state."""
    run = s.spawn("examples/fail-changes")
    try:
        run.wait_for(r"exit code 7", timeout=120)
        run.send("d")
        wait_settled(run, r"4 added, 3 removed, 3 changed", timeout=30)
        run.send(b"\x1b[B" * 8 + b"\r")  # edit.txt's unified diff
        wait_settled(run, r"\+new", timeout=30)
        run.send(b"\x1b")
        wait_settled(run, r"run\.sh +mode", timeout=10)
        s.shoot(run, "diff")
        run.send(b"\x1b")  # the failing step again, then the graph's previous step
        wait_settled(run, r"Failing step", timeout=10)
        run.send(b"\x1b[A")
        wait_settled(run, r"↓out", timeout=10)
        run.send("b")
        wait_settled(run, r"1/3 output of \[3/4\]", timeout=30)
        run.send(b"\x1b[B\r")  # into data/: modes, owners, sizes, link targets
        wait_settled(run, r"link -> keep\.txt", timeout=10)
        s.shoot(run, "files")
        run.send(b"\x1b")
        wait_settled(run, r"Failing step", timeout=10)
        run.send("s")
        wait_settled(run, r"/data # ", timeout=30)
        run.send("ls -l; cat edit.txt\r")
        run.wait_for(r"│old", timeout=20)
        s.shoot(run, "shell-step")
        run.send(CHORD)
        wait_settled(run, r"q Quit", timeout=10)
        s.close(run, 1)
    finally:
        run.close()


def debug_loop(s: Shooter) -> None:
    """A build paused at a breakpoint; a retry that passes and its write-back; a copy out."""
    run = s.spawn("--break", "4", "examples/fail-run")
    try:
        run.wait_for(r"paused before \[4/6\]", timeout=120)
        wait_settled(run, r"PAUSED", timeout=10)
        s.shoot(run, "paused")
        run.send("c")
        run.wait_for(r"exit code 3", timeout=60)
        run.send("e")
        wait_settled(run, r"retry in the failed step's initial state", timeout=10)
        run.send(b"\x15")  # ctrl+u: the pre-filled command goes
        # (Textual runs it after keys that follow it at once: wait for the empty line)
        wait_settled(run, r"esc closes\s*\Z", timeout=10)
        run.send('echo "partial output" > /work/partial.txt && sh app.sh prepare && cat prep*')
        wait_settled(run, r"&& cat prep\*", timeout=10)
        run.send("\r")
        wait_settled(run, r"try #1 exited with status 0", timeout=60)
        s.shoot(run, "retry")
        run.send(b"\x1b")
        wait_settled(run, r"q Quit", timeout=10)
        run.send("w")
        wait_settled(run, r"y writes", timeout=10)
        s.shoot(run, "write-back")
        run.send("n")  # nothing is written: the example stays as it is
        wait_settled(run, r"y writes", timeout=10, gone=True)
        run.send("b")
        wait_settled(run, r"1/2 final state of \[5/6\]", timeout=30)
        run.send(b"\x1b[B" * 10)  # work/
        wait_settled(run, r"work/", timeout=10)
        run.send("o")
        wait_settled(run, r"Copy to the host", timeout=10)
        s.shoot(run, "copy-out")
        run.send(b"\x1b")
        wait_settled(run, r"Copy to the host", timeout=10, gone=True)
        s.close(run, 1)
    finally:
        run.close()


RUNS: dict[str, tuple[Callable[[Shooter], None], tuple[str, ...]]] = {
    "running": (running_build, ("running-build",)),
    "failure": (failure_and_shells,
                ("failure-view", "help", "shell-final", "shell-initial")),
    "success": (success_summary, ("success-summary",)),
    "small": (small_terminal, ("small-terminal",)),
    "explore": (explore, ("diff", "files", "shell-step")),
    "loop": (debug_loop, ("paused", "retry", "write-back", "copy-out")),
}


def to_png(svg: Path) -> Path:
    """``NAME.png`` next to ``svg``, for reviewers.

    Rich writes each run of same-styled cells as one ``<text>`` whose spaces are no-break
    spaces; without ``xml:space="preserve"`` librsvg strips them at the start and end of a run,
    which glues words together in the PNG (e.g. "fail-run8/10 done"). The SVG itself is left
    as it is; a copy with the attribute is converted.
    """
    png = svg.with_suffix(".png")
    text = svg.read_text(encoding="utf-8").replace("<svg ", '<svg xml:space="preserve" ', 1)
    with tempfile.NamedTemporaryFile("w", suffix=".svg", encoding="utf-8") as tmp:
        tmp.write(text)
        tmp.flush()
        subprocess.run(["rsvg-convert", "-o", str(png), tmp.name], check=True, timeout=60)
    return png


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="",
                    help="comma-separated shot names, e.g. help,small-terminal")
    ap.add_argument("--png", action="store_true", help="also write NAME.png (rsvg-convert)")
    ap.add_argument("--idle-timeout", type=float, default=120, metavar="SECONDS",
                    help="before each run, wait this long at most for other builds on the "
                    "daemon to finish (0: do not wait)")
    args = ap.parse_args(argv)
    wanted = {n for n in args.only.split(",") if n}
    known = {n for _, names in RUNS.values() for n in names}
    if wanted - known:
        ap.error(f"unknown shot(s) {sorted(wanted - known)}; known: {sorted(known)}")
    if not BXTUI.exists():
        ap.error(f"{BXTUI} is missing: run scripts/bootstrap.sh first")
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bxtui-shotdir-") as shot_dir:
        s = Shooter(Path(shot_dir), args.png)
        for key, (fn, names) in RUNS.items():
            if wanted and not wanted & set(names):
                continue
            print(f"{key}:", flush=True)
            if args.idle_timeout > 0:
                wait_daemon_idle(args.idle_timeout)
            fn(s)
    print(f"{len(s.taken)} screenshot(s) in {OUT.relative_to(REPO)}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
