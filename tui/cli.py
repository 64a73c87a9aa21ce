"""The ``bxtui`` command line."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import signal
import sys
from collections.abc import Awaitable, Coroutine, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from tui.buildkit import debuglog
from tui.buildkit.address import AddressError, TLSFiles, resolve_builder
from tui.buildkit.client import BuildkitClient
from tui.buildkit.errors import BuildError
from tui.buildkit.relay import DaemonUnreachable
from tui.debug.engine.build import run_dockerfile_build
from tui.debug.engine.options import (
    BuildOptions,
    OptionsError,
    dockerfile_from_stdin,
    parse_key_values,
    parse_output,
)
from tui.debug.headless.plain import PlainPrinter

# Only what a plain build needs is imported up front (start-up time counts): debugging,
# the app and error reports load their modules when they are used.
if TYPE_CHECKING:
    from tui.buildkit.proto import control_pb2
    from tui.debug.engine.container import OutputFn, Process
    from tui.debug.engine.explore import Explorer
    from tui.debug.model.invoke import InvokeConfig
    from tui.debug.model.llbdef import LLBDefinition


class Interrupted(Exception):
    """The process was asked to stop by a signal; cleanup has run."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


#: Signals that stop bxtui: the first cancels the work so every cleanup path runs; later ones
#: (a second Ctrl-C while closing) are ignored so the cleanup is never cut short.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

#: How long a release interrupted by a signal may still take (the app's DONE_TIMEOUT alike).
CLEANUP_TIMEOUT = 20.0


async def _interruptible(coro: Coroutine[Any, Any, int]) -> int:
    """Run ``coro``; SIGINT, SIGTERM and SIGHUP cancel it once, so every cleanup path runs.

    For the process's entry point: once this returns, those signals stay ignored (the work
    and its cleanup are over; nothing is left but exiting).
    """
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(coro)
    got: list[int] = []

    def stop(signum: int) -> None:
        got.append(signum)
        name = signal.Signals(signum).name
        if len(got) == 1:
            debuglog.LOG.debug("signal %s: stopping", name)
            task.cancel()
        else:
            debuglog.LOG.debug("signal %s while stopping: ignored", name)

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop, sig)
    try:
        code = await task
    except asyncio.CancelledError:
        if got:
            raise Interrupted(got[0]) from None
        raise
    finally:
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)
            signal.signal(sig, signal.SIG_IGN)
    if got:  # it came while the work was finishing anyway
        raise Interrupted(got[0])
    return code


async def _release(cleanup: Awaitable[None]) -> None:
    """Await ``cleanup`` to its end even if a signal cancels the caller meanwhile.

    The cancellation is raised again afterwards; the wait is bounded by CLEANUP_TIMEOUT.
    """
    task = asyncio.ensure_future(cleanup)
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        if not task.done():
            debuglog.LOG.debug("cancelled while releasing: the release goes on")
            finished, _ = await asyncio.wait({task}, timeout=CLEANUP_TIMEOUT)
            if not finished:
                task.cancel()
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: the cancellation is what the caller sees
        raise


class UsageError(Exception):
    """Bad command-line usage; printed as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bxtui", description="Debug Docker BuildKit builds.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    b = sub.add_parser("build", help="build a Dockerfile (buildx flags)")
    b.add_argument("context", metavar="PATH", help="build context directory")
    b.add_argument("-f", "--file", dest="dockerfile", help="Dockerfile (default PATH/Dockerfile)")
    b.add_argument("-t", "--tag", action="append", default=[], help="image name and tag")
    b.add_argument("--target", help="stage to build")
    b.add_argument("--build-arg", action="append", default=[], metavar="KEY=VALUE")
    b.add_argument("--build-context", action="append", default=[], metavar="NAME=PATH")
    b.add_argument("--platform", action="append", default=[], help="os/arch[/variant]")
    b.add_argument("--no-cache", action="store_true", help="do not use the cache")
    b.add_argument("--no-cache-filter", action="append", default=[], metavar="STAGE")
    b.add_argument("--pull", action="store_true", help="always look for newer base images")
    b.add_argument("--network", help="RUN network mode: default, host or none")
    b.add_argument("--add-host", action="append", default=[], metavar="HOST:IP")
    b.add_argument("--label", action="append", default=[], metavar="KEY=VALUE")
    b.add_argument("-o", "--output", action="append", default=[], metavar="SPEC")
    b.add_argument("--load", action="store_true", help="load into the engine (the default)")
    b.add_argument("--secret", action="append", default=[], metavar="id=ID,src=PATH|env=VAR")
    b.add_argument("--allow", action="append", default=[], metavar="ENTITLEMENT")
    b.add_argument("--progress", default="auto", choices=["auto", "tui", "plain", "tty", "quiet"],
                   help="auto (the app on a terminal, else plain), tui (the app), plain, quiet")
    b.add_argument("--invoke", metavar="CMD",
                   help="run CMD in a debug container after the build (e.g. /bin/sh)")
    b.add_argument("--on", choices=["error", "always"], default="error",
                   help="with --invoke: debug only failed builds (default) or always")
    b.add_argument("--initial", action="store_true",
                   help="with --invoke: the failed step's state before it ran")
    b.add_argument("--step", metavar="N",
                   help="open the shell (or --invoke CMD) in the state step N produced: N as in "
                        "[N/M], STAGE:N, #N (plain output's number) or a digest prefix")
    b.add_argument("--diff", action="store_true",
                   help="after a failed RUN, print what it changed (initial vs final state)")
    b.add_argument("--toolbox", metavar="IMAGE",
                   help="static toolbox image put on PATH in shells "
                        "(default: busybox:local, used when a state has no shell)")
    b.add_argument("-D", "--debug", action="store_true",
                   help="debug log (addresses, RPCs, timings, errors; secrets redacted) on "
                        "stderr, or with the app in a private file whose path is printed")
    b.add_argument("--debug-file", metavar="FILE", help="write the debug log to FILE")
    b.add_argument("--builder", help="docker context to build on")
    b.add_argument("--addr", help="buildkitd address: unix:///path or tcp://host:port")
    b.add_argument("--tlscacert", help="CA certificate for --addr")
    b.add_argument("--tlscert", help="client certificate for --addr")
    b.add_argument("--tlskey", help="client key for --addr")
    b.add_argument("--tlsservername", help="server name expected in the TLS certificate")
    return parser


def _options(args: argparse.Namespace) -> BuildOptions:
    env = os.environ
    contexts = parse_key_values(args.build_context, "--build-context", {})
    filters = [f for item in args.no_cache_filter for f in item.split(",") if f]
    secrets = []
    if args.secret:
        from tui.buildkit.session.secrets import SecretSpecError, parse_secret

        try:
            secrets = [parse_secret(s) for s in args.secret]
        except SecretSpecError as exc:
            raise OptionsError(str(exc)) from None
    opts = BuildOptions(
        context=args.context,
        dockerfile=args.dockerfile,
        target=args.target,
        build_args=parse_key_values(args.build_arg, "--build-arg", env),
        build_contexts=contexts,
        platforms=[p for item in args.platform for p in item.split(",") if p],
        no_cache=args.no_cache,
        no_cache_filter=filters,
        pull=args.pull,
        network=args.network,
        add_hosts=list(args.add_host),
        labels=parse_key_values(args.label, "--label", {}),
        tags=list(args.tag),
        outputs=[parse_output(o) for o in args.output],
        secrets=secrets,
        allow=[a for item in args.allow for a in item.split(",") if a],
    )
    opts.validate()
    return opts


async def _build(args: argparse.Namespace, opts: BuildOptions, out: TextIO) -> int:
    tls = None
    if args.tlscacert or args.tlscert or args.tlskey:
        tls = TLSFiles(args.tlscacert, args.tlscert, args.tlskey, args.tlsservername)
    endpoint = resolve_builder(addr=args.addr, builder=args.builder, tls=tls)
    client = await BuildkitClient.open(endpoint)
    printer = PlainPrinter(out) if args.progress != "quiet" else None
    if printer is not None:
        out.write(f"#0 building with {endpoint.describe()}\n\n")
    ticker = asyncio.create_task(_tick(printer)) if printer is not None else None
    if args.invoke is not None or args.step is not None or args.diff:
        try:
            return await _debug(client, args, opts, printer, ticker, out)
        finally:
            _finish(printer, ticker)
            await _release(client.close())
    try:
        await run_dockerfile_build(client, opts, printer.feed if printer else None)
    except BuildError as err:
        from tui.debug.headless.report import print_build_error

        _finish(printer, ticker)
        print_build_error(err, out)
        return 1
    finally:
        _finish(printer, ticker)
        await _release(client.close())
    return 0


async def _debug(
    client: BuildkitClient,
    args: argparse.Namespace,
    opts: BuildOptions,
    printer: PlainPrinter | None,
    ticker: asyncio.Task[None] | None,
    out: TextIO,
) -> int:
    """Build, then ``--diff`` and/or run ``--invoke`` on this terminal.

    The process runs in the failed step, in the state ``--step N`` produced, or in the
    result.
    """
    from tui.debug.engine.container import ProcessError
    from tui.debug.engine.explore import ExploreError, Explorer
    from tui.debug.engine.helper import DEFAULT_TOOLBOX
    from tui.debug.engine.options import DOCKERFILE_FRONTEND
    from tui.debug.engine.result import new_result_context
    from tui.debug.engine.stepshell import Shells
    from tui.debug.headless.attach import run_attached
    from tui.debug.headless.report import error_message, print_build_error
    from tui.debug.model.graph import BuildGraph, VertexState
    from tui.debug.model.invoke import InvokeError, parse_invoke
    from tui.debug.model.stepsel import StepError, StepRef, resolve_step

    cfg = parse_invoke(args.invoke if args.invoke is not None else "/bin/sh")
    cfg.initial = args.initial
    graph = BuildGraph(1 << 16)

    def on_status(resp: control_pb2.StatusResponse) -> None:
        graph.apply(resp)
        if printer is not None:
            printer.feed(resp)

    def on_definition(definition: LLBDefinition) -> None:
        graph.adopt(definition.op_infos())

    ctx, _, err = await new_result_context(client, opts, on_status, on_definition)
    _finish(printer, ticker)
    if err is not None:
        print_build_error(err, out)
    status = 1 if err is not None else 0
    if ctx is None:
        if err is not None:
            out.write("ERROR: cannot debug: the build failed before any step ran\n")
        return status
    explorer = Explorer(ctx, DOCKERFILE_FRONTEND, opts.frontend_opts(), opts.local_dirs(),
                        args.toolbox or DEFAULT_TOOLBOX)
    shells = Shells(explorer)
    try:
        if args.diff and err is not None:
            await _print_diff(explorer, out)
        step_ref = None
        if args.step is not None:
            try:
                step_ref = resolve_step(args.step, [StepRef(v.digest, v.name, v.step)
                                                    for v in graph if v.declared])
            except StepError as exc:
                out.write(f"ERROR: {exc}\n")
                return 1
            if err is not None and step_ref.digest == err.vertex:
                step_ref = None  # the failed step itself: its final (or initial) state
        if step_ref is not None:
            ref = step_ref
            v = graph.get(ref.digest)
            if v is not None and v.state not in (VertexState.DONE, VertexState.CACHED):
                out.write(f"ERROR: {ref.name} did not complete ({v.state.value}): "
                          "it has no state to open\n")
                return 1
            label = f"the state after {ref.name}"

            async def start(c: InvokeConfig, on_output: OutputFn, rows: int,
                            cols: int) -> Process:
                _, proc, _ = await shells.step(ref.digest, c, on_output, rows, cols,
                                               toolbox=args.toolbox is not None)
                return proc
        else:
            if args.step is None and (args.invoke is None or (args.on == "error"
                                                              and err is None)):
                return status
            step = graph.get(err.vertex or "") if err is not None else None
            where = "initial" if cfg.initial else "final"
            label = f"the {where} state of {step.name}" if step is not None and step.name \
                else f"the build {where}"
            if err is None:
                label = "the build result"
            elif err.solve is not None and err.solve.op.HasField("file"):
                label = f"a toolbox with the inputs of {label.split(' of ', 1)[-1]} " \
                        "(/dest, /src)"

            async def start(c: InvokeConfig, on_output: OutputFn, rows: int,
                            cols: int) -> Process:
                _, proc, _ = await shells.failed(c, on_output, rows, cols,
                                                 toolbox=args.toolbox is not None)
                return proc
        out.flush()
        what = args.invoke if args.invoke is not None else "/bin/sh"
        banner = f"bxtui: running {what!r} in {label}; exit it to finish\n"
        try:
            code = await run_attached(start, cfg, banner=banner)
        except (InvokeError, ProcessError, ExploreError) as exc:
            out.write(f"ERROR: {exc}\n")
            return 1
        out.write(f"bxtui: debug process exited with status {code}\n")
        # 255: no exit status came; the connection to the builder may have broken
        lost = await ctx.wait_lost(1.0) if code == 255 else ctx.lost
        if lost is not None:
            out.write(f"ERROR: {error_message(lost)}\n")
            return 1
        return status
    finally:
        await _release(ctx.done())


async def _print_diff(explorer: Explorer, out: TextIO) -> None:
    """The failed RUN's changes on stdout (``git diff --stat`` style plus paths)."""
    from tui.debug.engine.explore import ExploreError
    from tui.debug.model.fsmodel import format_stat

    if not explorer.writable_mounts():
        out.write("bxtui: no diff: only a failed RUN step has initial and final states\n")
        return
    try:
        diffs = await explorer.diffs()
    except ExploreError as exc:
        out.write(f"ERROR: cannot compute the diff: {exc}\n")
        return
    sys.stdout.write(format_stat(diffs))
    sys.stdout.flush()


async def _tick(printer: PlainPrinter) -> None:
    """Let the printer flush paced updates while no status message arrives."""
    while True:
        await asyncio.sleep(printer.tick)
        printer.refresh()


def _finish(printer: PlainPrinter | None, ticker: asyncio.Task[None] | None) -> None:
    if ticker is not None:
        ticker.cancel()
    if printer is not None:
        printer.finish()  # idempotent


def _enable_debug(args: argparse.Namespace, app: bool,
                  argv: Sequence[str] | None) -> str | None:
    """Turn on ``-D``/``--debug-file`` logging; the log file's path, if it goes to one."""
    if not (args.debug or args.debug_file):
        return None
    path: str | None = args.debug_file
    if path is None and app:  # the app owns the terminal: a private file instead of stderr
        state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
        folder = os.path.join(state, "bxtui")
        os.makedirs(folder, mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)
        path = os.path.join(folder, f"debug-{os.getpid()}.log")
    try:
        debuglog.enable(stream=sys.stderr if path is None else None, path=path)
    except OSError as exc:
        raise OptionsError(f"cannot write the debug log: {exc}") from None
    words = list(sys.argv[1:] if argv is None else argv)
    debuglog.LOG.debug("bxtui %s, python %s: %s", _version(), sys.version.split()[0],
                       " ".join(words))
    return path


def _version() -> str:
    try:
        from importlib.metadata import version

        return str(version("bxtui"))
    except Exception:
        return "(source)"


def _use_app(args: argparse.Namespace) -> bool:
    """The app for --progress=tui/tty, and for auto when both stdin and stdout are terminals."""
    if args.progress in ("tui", "tty"):
        return True
    return args.progress == "auto" and sys.stdin.isatty() and sys.stdout.isatty()


async def _app(args: argparse.Namespace, opts: BuildOptions) -> int:
    """The Textual app (imported only here: the headless modes never load Textual)."""
    from tui.debug.engine.session import LATER_MODULES, DebugSession
    from tui.debug.model.invoke import InvokeConfig, parse_invoke

    tls = None
    if args.tlscacert or args.tlscert or args.tlskey:
        tls = TLSFiles(args.tlscacert, args.tlscert, args.tlskey, args.tlsservername)
    endpoint = resolve_builder(addr=args.addr, builder=args.builder, tls=tls)
    cfg = parse_invoke(args.invoke) if args.invoke is not None else InvokeConfig(cmd=["/bin/sh"])
    session = DebugSession(opts, lambda: BuildkitClient.open(endpoint), cfg,
                           builder=endpoint.describe(), toolbox=args.toolbox)
    auto_open = None
    if args.invoke is not None:
        auto_open = ("initial" if args.initial else "final", args.on == "always")
    # The build starts at once; Textual (~0.3 s of imports) loads in a thread meanwhile, so
    # the daemon works while Python imports.
    session.start()
    try:
        for name in LATER_MODULES:
            await asyncio.to_thread(importlib.import_module, name)
        run = await asyncio.to_thread(importlib.import_module, "tui.ui.run")
    except BaseException:
        await session.done()
        raise
    code: int = await run.run_app(session, args.context, auto_open=auto_open,
                                  open_step=args.step, show_diff=args.diff)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bxtui`` console script."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command != "build":
            parser.print_help(sys.stderr)
            return 2
        with ExitStack() as stack:
            if args.dockerfile == "-":
                args.dockerfile = stack.enter_context(dockerfile_from_stdin(sys.stdin.buffer))
            return _run(args, argv)
    except UsageError as exc:
        print(f"bxtui: {exc} (see 'bxtui build --help')", file=sys.stderr)
        return 2
    except (OptionsError, AddressError, DaemonUnreachable) as exc:  # InvokeError included
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    except (KeyboardInterrupt, Interrupted) as exc:
        print("ERROR: interrupted", file=sys.stderr)
        return 128 + (exc.signum if isinstance(exc, Interrupted) else signal.SIGINT)
    except Exception as exc:  # never a traceback for the user; cleanup has already run
        if os.environ.get("BXTUI_DEBUG"):
            raise
        print(f"ERROR: {type(exc).__name__}: {exc} (BXTUI_DEBUG=1 shows details)",
              file=sys.stderr)
        return 1


def entry() -> NoReturn:
    """The ``bxtui`` console script: :func:`main`, then exit without the interpreter's teardown.

    Everything is released by then (containers, builds, sessions, temporary files, the
    terminal); tearing down the interpreter's modules would only cost time (~8 % of a
    cached build's CPU).
    """
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed or broken pipe: nothing more can be said
            code = code or 1
    debuglog.flush()
    os._exit(code)


def _run(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """``bxtui build``: the app or the headless build, with validated options."""
    opts = _options(args)
    if args.invoke is not None:
        from tui.debug.model.invoke import parse_invoke

        parse_invoke(args.invoke)  # a bad value is a one-line error before anything runs
    app = _use_app(args)
    log_path = _enable_debug(args, app, argv)
    if app:
        # signals before the view is up (and after it closed) stop it like headless ones
        code = asyncio.run(_interruptible(_app(args, opts)))
        if log_path and not args.debug_file:
            print(f"bxtui: debug log in {log_path}", file=sys.stderr)
        return code
    return asyncio.run(_interruptible(_build(args, opts, sys.stderr)))


if __name__ == "__main__":
    entry()
