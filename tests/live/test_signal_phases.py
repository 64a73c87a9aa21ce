"""Signals in every phase of a build, headless and in the app: the real binary, the real daemon.

Each case drives bxtui (in a PTY, under tests/support/phaserun.py's wrapper) to a phase, sends
SIGINT, SIGTERM or SIGHUP (or types ^C), then checks that it exits with 128+N, says why in
one line or with its summary (never a traceback), restores the terminal, leaves no build
running on the daemon (within 5 s, like buildx), no local process and no private directory.

Phases: ``sending`` the context, ``building`` (a RUN sleeping), ``failure`` shown (headless:
the error is printed and the ``--invoke`` shell is being started), ``shell`` open,
``closing`` (headless: the shell exited, the build being released; the app: ``q`` pressed,
``done()`` under way) and ``second``: ``closing`` with a second SIGINT once the first is
handled, which must change nothing (the exit status stays 128+first, the release completes).

Headless closing lasts ~25 ms: a signal that comes after it is ignored (bxtui is exiting with
the build's status).  Such a miss is checked for a clean exit too, then the case is retried.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import EXAMPLES, active_builds, bxtui_binary, wait_until
from phaserun import PhaseRun, still_alive

pytestmark = pytest.mark.daemon

PHASES = ("sending", "building", "failure", "shell", "closing", "second")
SIGNALS = {"INT": signal.SIGINT, "TERM": signal.SIGTERM, "HUP": signal.SIGHUP}
SPIN = "[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]"
PROMPT = r"/work # "
CHORD = b"\x1d"  # ctrl+]
#: The context's transfer ended (a signal in the "sending" phase came too late).
SENT = r"transferring context: [\d.]+MB.* done"
DEBUG_LINE = re.compile(r"\d\d:\d\d:\d\d\.\d+ DEBUG ")
#: Big enough that sending it takes a few seconds; sparse, yet sent in full.
CONTEXT_SIZE = 320 << 20


@dataclass
class Case:
    """One cell of the matrix: mode (plain/app), phase, how the signal comes."""

    mode: str
    phase: str
    how: str  # a SIGNALS key, or "typed" (^C in the cooked PTY)

    @property
    def sig(self) -> int:
        """The signal bxtui gets first."""
        return signal.SIGINT if self.how == "typed" else SIGNALS[self.how]

    def __str__(self) -> str:
        return f"{self.mode}-{self.phase}-{self.how}"


CASES = [Case(m, p, h) for m in ("plain", "app") for p in PHASES for h in SIGNALS]
CASES.insert(CASES.index(Case("plain", "building", "HUP")) + 1, Case("plain", "building", "typed"))


@pytest.fixture(scope="module")
def big_context(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A context with one big sparse file (one per module: the daemon caches it per path)."""
    ctx = tmp_path_factory.mktemp("bigctx")
    (ctx / "Dockerfile").write_text("FROM busybox:local\nCOPY big /big\n")
    with (ctx / "big").open("wb") as f:
        f.truncate(CONTEXT_SIZE)
    return ctx


def _context(case: Case, tmp_path: Path, big: Path) -> tuple[list[str], str]:
    """bxtui's arguments for the case's build, and a token its output will show."""
    token = f"{os.getpid()}-{time.time_ns()}"
    if case.phase == "sending":
        os.utime(big / "big", ns=(time.time_ns(), time.time_ns()))  # changed: sent again
        return [str(big)], token
    if case.phase == "building":
        ctx = tmp_path / "ctx"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(
            f"FROM busybox:local\nRUN echo started-{token} && sleep 120\n")
        return ["--no-cache", str(ctx)], token
    return [str(EXAMPLES / "fail-run")], token


def _spawn(case: Case, args: list[str], where: Path, docker_host: str) -> PhaseRun:
    private = where / "tmp"
    private.mkdir(parents=True)
    if case.mode == "plain":
        # the debug log on the PTY: waits on it are as prompt as on the output
        log = None
        flags = ["--progress=plain", "-D"]
        if case.phase not in ("sending", "building"):
            flags += ["--invoke", "/bin/sh"]
    else:
        log = where / "debug.log"
        flags = ["--progress=tui", "--debug-file", str(log)]
    argv = [bxtui_binary(), "build", *flags, *args]
    env = dict(os.environ, DOCKER_HOST=docker_host, TMPDIR=str(private), TERM="xterm-256color",
               COLORTERM="truecolor")
    return PhaseRun(argv, env, log)


def _reach(case: Case, run: PhaseRun, token: str) -> None:
    """Drive the run to the case's phase (for closing phases: up to the closing action)."""
    plain = case.mode == "plain"
    if case.phase == "sending":
        if plain:
            # the plain output prints "transferring context" only once it is done (as buildx)
            run.expect(r"#\d+ \[internal\] load build context\n")
        else:
            run.wait_for(SPIN + r"\s+#\d+ load build context")
    elif case.phase == "building":
        if plain:
            run.expect(rf"#\d+ [\d.]+ started-{token}")
        else:
            run.wait_for(SPIN + r"\s+#\d+ 2/2 RUN echo started-")
    elif case.phase == "failure":
        if plain:
            run.expect(r"ERROR: failed to solve: .*exit code: 3\n")
        else:
            run.wait_for(r"exit code 3")
    else:  # a shell open, and the closing phases start from there
        if plain:
            run.expect(r"running '/bin/sh' in the final state")
        else:
            run.wait_for(r"exit code 3")
            run.send("f")
            run.wait_for(PROMPT, timeout=30)
        run.send("echo READY$((2+2))\r")
        run.expect(r"READY4")


def _close(case: Case, run: PhaseRun) -> None:
    """Start closing as the user does: ``exit`` in the headless shell, ``q`` in the app."""
    if case.mode == "plain":
        run.send("exit\r")
        run.expect(r"DEBUG bxtui: process \S+ exited: 0")  # just before the release starts
    else:
        run.send(CHORD)
        run.wait_for(r"q Quit")
        run.send("q")
        run.wait_log(r"done: releasing", timeout=20)


@dataclass
class Outcome:
    """A finished run: its exit status, and what was ours on the daemon and locally."""

    run: PhaseRun
    rc: int
    mine: set[str]
    procs: dict[int, str]


def _attempt(case: Case, where: Path, big: Path, docker_host: str,
             runs: list[PhaseRun]) -> Outcome:
    """One run of the case: reach the phase, signal, wait for the exit."""
    where.mkdir()
    args, token = _context(case, where, big)
    before = active_builds(docker_host)
    run = _spawn(case, args, where, docker_host)
    runs.append(run)
    _reach(case, run, token)
    assert wait_until(lambda: bool(active_builds(docker_host) - before), 10), \
        "the build should be running on the daemon"
    mine = active_builds(docker_host) - before
    procs = run.descendants()
    if case.phase in ("closing", "second"):
        _close(case, run)
    if case.how == "typed":
        run.send(b"\x03")
    else:
        run.kill(case.sig)
    if case.phase == "second":
        # once the first is handled (two at once may be handled in either order); headless,
        # it may have come after the release (then bxtui exits at once: a miss)
        until = _handled(case.sig) + ("|BXTUI_RC=" if case.mode == "plain" else "")
        # the release may take only tens of milliseconds: look often
        if "BXTUI_RC=" not in run.wait_log(until, timeout=10, poll=0.002).group(0):
            run.kill(signal.SIGINT)
    return Outcome(run, run.result(), mine, procs)


def _handled(sig: int) -> str:
    """The debug log's line for a handled signal ``sig`` (as a regex)."""
    return rf"signal {signal.Signals(sig).name}(:| while)"


#: The debug log's line for the second signal, handled while closing.
SECOND = r"signal SIGINT while (closing|stopping)"


def _assert_clean(out: Outcome, where: Path, docker_host: str, phase: str) -> None:
    """Whatever the signal did: no traceback, the terminal, the daemon and /tmp as before."""
    run = out.run
    text = run.transcript + ("" if run.debug_log is None else run.log_text())
    assert "Traceback" not in text, text[-3000:]
    tty = run.tty_settings()
    assert re.search(r"(?<![-\w])icanon\b", tty) and re.search(r"(?<![-\w])echo\b", tty), tty
    if not wait_until(lambda: not (out.mine & active_builds(docker_host)), 5):
        t0 = time.monotonic()
        later = wait_until(lambda: not (out.mine & active_builds(docker_host)), 30)
        pytest.fail(f"build {out.mine} still running 5 s after the exit (then "
                    f"{f'gone after {time.monotonic() - t0 + 5:.1f} s' if later else 'for 35 s'});"
                    f" debug log:\n{run.log_text()[-4000:]}")
    assert not still_alive(out.procs), out.procs
    assert not run.session_leftovers()
    assert not list((where / "tmp").glob("bxtui-*")), "private directory left behind"
    log = run.log_text()
    created = set(re.findall(r"container (\S+) created", log))
    released = set(re.findall(r"releasing container (\S+)", log))
    assert created <= released, log
    if phase not in ("sending", "building"):
        # the kept-open build was handed back, not cut off by closing the connection
        assert "rpc LLBBridge/Return ok" in log, log


@pytest.fixture
def runs(tmp_path: Path) -> Iterator[list[PhaseRun]]:
    """The case's runs: killed if a failing test left them, their output kept in tmp_path."""
    started: list[PhaseRun] = []
    yield started
    for n, run in enumerate(started):
        run.close()
        (tmp_path / f"transcript-{n}.txt").write_text(run.transcript)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_signal_in_phase(case: Case, tmp_path: Path, big_context: Path, docker_host: str,
                         runs: list[PhaseRun]) -> None:
    headless_closing = case.mode == "plain" and case.phase in ("closing", "second")
    # the app's release may be over before the second signal arrives (a miss: try again)
    app_second = case.mode == "app" and case.phase == "second"
    sending = case.phase == "sending"
    for attempt in range(5 if headless_closing or app_second else 3 if sending else 1):
        where = tmp_path / f"try{attempt}"
        out = _attempt(case, where, big_context, docker_host, runs)
        _assert_clean(out, where, docker_host, case.phase)
        log = out.run.log_text()
        handled = re.search(_handled(case.sig), log) is not None
        missed = not handled or (case.phase == "second" and not re.search(SECOND, log))
        if headless_closing and missed:  # ignored: the build's status (or the first's)
            assert out.rc == (128 + case.sig if handled else 1), out.run.transcript[-3000:]
            continue
        if app_second and missed:  # the first closed the view; the second came too late
            assert handled and out.rc == 128 + case.sig, out.run.transcript[-3000:]
            continue
        if sending and re.search(SENT, out.run.transcript):
            # the daemon took the whole context before the signal came (it reads only
            # what changed: seen on BuildKit 0.25 in CI): not this phase, try again
            assert handled and out.rc == 128 + case.sig, out.run.transcript[-3000:]
            continue
        break
    else:
        pytest.fail("the signal never came while the run was releasing")
    run = out.run
    assert out.rc == 128 + case.sig, run.transcript[-3000:]
    said = [line for line in run.transcript.rsplit("BXTUI_RC=", 1)[0].splitlines()
            if line.strip() and not DEBUG_LINE.match(line)]
    if case.mode == "plain":
        assert said[-1] == "ERROR: interrupted", said[-20:]
    else:
        expected = "stopped before it finished" if case.phase in ("sending", "building") \
            else "build failed at"
        assert expected in run.tail(), run.tail()[-2000:]
    if case.phase in ("sending", "building"):  # the build itself was stopped
        assert re.search(r"rpc Control/Solve failed after .*: CancelledError", log), log
        assert not re.search(SENT, run.transcript)
    if case.phase in ("closing", "second"):  # it came once closing had begun
        if case.mode == "app":
            assert re.search(_handled(case.sig) + " closing", log), log
        else:
            exited = re.search(r"process \S+ exited: 0", log)
            came = re.search(_handled(case.sig), log)
            assert exited and came and exited.start() < came.start(), log
    if case.phase == "second":
        assert re.search(SECOND, log), log


def _hostile_context(where: Path) -> Path:
    """600 files 26 directories deep, a .dockerignore of a dozen stacked ``**`` lines.

    Issue 13: Python's backtracking ``re`` took minutes on it, holding the GIL, so bxtui
    never answered SIGTERM; RE2 sends it in a fraction of a second.
    """
    ctx = where / "hostile"
    level = ctx / "a"
    for depth in range(25):
        level = level / f"d{depth:02d}"
        level.mkdir(parents=True)
        for i in range(24):
            (level / f"f{i:02d}.txt").write_text("x")
    lines = ["a/" + "**/" * (8 + n % 5) + "x" for n in range(12)]
    (ctx / ".dockerignore").write_text("\n".join(lines) + "\n")
    (ctx / "Dockerfile").write_text("FROM busybox:local\nCOPY . /c\nRUN sleep 120\n")
    return ctx


def test_sigterm_while_sending_a_hostile_context(tmp_path: Path, docker_host: str,
                                                 runs: list[PhaseRun]) -> None:
    case = Case("plain", "sending", "TERM")
    where = tmp_path / "run"
    where.mkdir()
    ctx = _hostile_context(where)
    before = active_builds(docker_host)
    run = _spawn(case, ["--no-cache", str(ctx)], where, docker_host)
    runs.append(run)
    _reach(case, run, "")
    assert wait_until(lambda: bool(active_builds(docker_host) - before), 10)
    mine = active_builds(docker_host) - before
    procs = run.descendants()
    run.kill(signal.SIGTERM)  # during the upload, or just after it: either way, promptly out
    out = Outcome(run, run.result(), mine, procs)
    _assert_clean(out, where, docker_host, case.phase)
    assert out.rc == 128 + signal.SIGTERM, run.transcript[-3000:]
    assert re.search(_handled(signal.SIGTERM), run.log_text())
