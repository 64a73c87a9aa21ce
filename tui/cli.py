"""The ``bxtui`` command line."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, NoReturn

from tui.cli_help import group_build_help
from tui.debug.engine.cache import local_import_missing, parse_cache
from tui.debug.engine.launch import (
    BuilderAddress,
    enable_debug_log,
    flush_debug_log,
    parse_secrets,
    parse_ssh_specs,
)
from tui.debug.engine.options import (
    BuildOptions,
    OutputSpec,
    dockerfile_from_stdin,
    parse_key_values,
    parse_output,
    with_push,
)
from tui.debug.headless.frontend import HeadlessRequest, run_headless
from tui.debug.model.buildflags import (
    annotation_attrs,
    attest_attrs,
    parse_mem_bytes,
    parse_ulimit,
)
from tui.debug.model.copyspec import CopyRequest, parse_copy_out
from tui.debug.model.outcome import StateKind, Succeeded
from tui.debug.model.usage import OptionsError

if TYPE_CHECKING:
    from tui.debug.engine.session import DebugSession

#: The debug log (``-D``), by name: the command line does not import the wire's modules.
LOG = logging.getLogger("bxtui")


class Interrupted(Exception):
    """The process was asked to stop by a signal; cleanup has run."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


#: Signals that stop bxtui: the first cancels the work so every cleanup path runs; later ones
#: (a second Ctrl-C while closing) are ignored so the cleanup is never cut short.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

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
            LOG.debug("signal %s: stopping", name)
            task.cancel()
        else:
            LOG.debug("signal %s while stopping: ignored", name)

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


class UsageError(Exception):
    """Bad command-line usage; printed as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="bxtui", description="Debug Docker BuildKit builds.")
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.add_parser("version", help="print the version")
    b = sub.add_parser("build", help="build a Dockerfile (buildx flags)",
                       usage="bxtui build [OPTIONS] PATH")
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
    b.add_argument("--cache-to", action="append", default=[], metavar="SPEC",
                   help="cache export (type=inline on the docker driver)")
    b.add_argument("--cache-from", action="append", default=[], metavar="SPEC",
                   help="cache import (type=registry,ref=NAME, or NAME)")
    b.add_argument("--push", action="store_true",
                   help="push the image to its registry (shorthand for --output=type=registry)")
    b.add_argument("--secret", action="append", default=[], metavar="id=ID,src=PATH|env=VAR")
    b.add_argument("--allow", action="append", default=[], metavar="ENTITLEMENT")
    b.add_argument("--ssh", action="append", default=[], metavar="default|ID=PATH",
                   help="forward an ssh agent socket (default: $SSH_AUTH_SOCK) or private "
                        "key files to RUN --mount=type=ssh steps")
    b.add_argument("--progress", default="auto",
                   choices=["auto", "tui", "plain", "tty", "quiet", "rawjson"],
                   help="auto (the app on a terminal, else plain), tui (the app), plain, "
                        "quiet, rawjson (each status update as JSON)")
    b.add_argument("--invoke", metavar="CMD",
                   help="run CMD in a debug container after the build (e.g. /bin/sh)")
    b.add_argument("--on", choices=["error", "always"], default="error",
                   help="with --invoke: debug only failed builds (default) or always")
    b.add_argument("--initial", action="store_true",
                   help="with --invoke: the failed step's state before it ran")
    b.add_argument("--step", metavar="N",
                   help="open the shell (or --invoke CMD) in the state step N produced: N as in "
                        "[N/M], STAGE:N, #N (plain output's number) or a digest prefix")
    b.add_argument("--break", dest="breaks", action="append", default=[], metavar="STEP",
                   help="pause before STEP (as --step; repeatable) and run --invoke CMD "
                        "(default /bin/sh) in its initial state, then continue the build")
    b.add_argument("--diff", action="store_true",
                   help="after a failed RUN, print what it changed (initial vs final state)")
    b.add_argument("--retry", metavar="CMD",
                   help="after a failed RUN, run CMD in its initial state (a fresh container "
                        "with its mounts); bxtui exits with CMD's status")
    b.add_argument("--write-back", action="store_true",
                   help="with --retry: when CMD succeeds, write it into the Dockerfile in "
                        "place of the failed command (the diff is printed first)")
    b.add_argument("--copy-out", action="append", default=[], metavar="STATE:PATH=DEST",
                   help="after the build, copy PATH (file or directory, modes and links kept) "
                        "of a state to the host path DEST; STATE: final, initial (the failed "
                        "step's) or a --step selector; repeatable; implies plain progress")
    b.add_argument("--overwrite", action="store_true",
                   help="with --copy-out: replace an existing DEST")
    b.add_argument("--toolbox", metavar="IMAGE",
                   help="static toolbox image put on PATH in shells "
                        "(default: busybox:local, used when a state has no shell)")
    b.add_argument("--watch", action="store_true",
                   help="rebuild when the Dockerfile or a file of the context (after "
                        ".dockerignore) changes, until ctrl-c (the app asks first while a "
                        "shell is open; headless rebuilds once --invoke's shell has ended)")
    b.add_argument("-D", "--debug", action="store_true",
                   help="debug log (addresses, RPCs, timings, errors; secrets redacted) on "
                        "stderr, or with the app in a private file whose path is printed")
    b.add_argument("--debug-file", metavar="FILE", help="write the debug log to FILE")
    b.add_argument("--builder", help="buildx builder instance or docker context to build on")
    b.add_argument("--addr", help="buildkitd address: unix:///path or tcp://host:port")
    b.add_argument("--tlscacert", help="CA certificate for --addr")
    b.add_argument("--tlscert", help="client certificate for --addr")
    b.add_argument("--tlskey", help="client key for --addr")
    b.add_argument("--tlsservername", help="server name expected in the TLS certificate")
    b.add_argument("-q", "--quiet", action="store_true",
                   help="suppress the build output and print image ID on success")
    b.add_argument("--iidfile", metavar="FILE", help="write the image ID to the file")
    b.add_argument("--metadata-file", metavar="FILE",
                   help="write build result metadata to the file")
    b.add_argument("--shm-size", metavar="BYTES",
                   help="shared memory size for RUN (e.g. 64m; binary multiples)")
    b.add_argument("--ulimit", action="append", default=[], metavar="NAME=SOFT[:HARD]",
                   help="resource limit for RUN (e.g. nofile=1024:2048)")
    b.add_argument("--cgroup-parent", metavar="PATH", help="parent cgroup of RUN containers")
    b.add_argument("--annotation", action="append", default=[],
                   metavar="[TYPE[PLATFORM]:]KEY=VALUE", help="add an annotation to the image")
    b.add_argument("--attest", action="append", default=[], metavar="type=TYPE,...",
                   help="attestation parameters")
    b.add_argument("--sbom", metavar="VALUE", help='shorthand for "--attest=type=sbom"')
    b.add_argument("--provenance", metavar="VALUE",
                   help='shorthand for "--attest=type=provenance"')
    b.add_argument("--call", default="build", metavar="METHOD",
                   help="set method for evaluating build (check, outline, targets)")
    b.add_argument("--check", action="store_const", const="check", dest="call",
                   help='shorthand for "--call=check"')
    group_build_help(b)
    return parser


def _options(args: argparse.Namespace) -> BuildOptions:
    env = os.environ
    contexts = parse_key_values(args.build_context, "--build-context", {})
    filters = [f for item in args.no_cache_filter for f in item.split(",") if f]
    secrets = parse_secrets(args.secret)
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
        outputs=_outputs(args),
        secrets=secrets,
        allow=[a for item in args.allow for a in item.split(",") if a],
        shm_size=parse_mem_bytes(args.shm_size) if args.shm_size is not None else 0,
        ulimits=[parse_ulimit(u) for u in args.ulimit],
        cgroup_parent=args.cgroup_parent or "",
        annotations=annotation_attrs(args.annotation),
        attests=attest_attrs(args.attest, args.sbom, args.provenance),
        ssh=parse_ssh_specs(args.ssh, env),
        cache_to=[parse_cache(c, "--cache-to") for c in args.cache_to],
        cache_from=[parse_cache(c, "--cache-from") for c in args.cache_from],
    )
    for spec in opts.cache_from:  # skipped, as buildx does, with its warning
        missing = local_import_missing(spec) if spec.type == "local" else None
        if missing:
            print(f"WARNING: {missing}", file=sys.stderr)
    opts.validate()
    return opts


def _outputs(args: argparse.Namespace) -> list[OutputSpec]:
    outputs = [parse_output(o) for o in args.output]
    return with_push(outputs) if args.push else outputs


def _address(args: argparse.Namespace) -> BuilderAddress:
    return BuilderAddress(addr=args.addr, builder=args.builder, tlscacert=args.tlscacert,
                          tlscert=args.tlscert, tlskey=args.tlskey,
                          tlsservername=args.tlsservername)


def _check_retry(args: argparse.Namespace) -> None:
    """``--retry``/``--write-back`` combinations that cannot work (a usage error)."""
    if args.write_back and args.retry is None:
        raise UsageError("--write-back needs --retry CMD")
    if args.retry is not None and not args.retry.strip():
        raise UsageError("--retry needs a command")
    if args.write_back and args.dockerfile == "-":
        raise UsageError("--write-back cannot patch a Dockerfile read from stdin")
    if args.retry is not None and (args.invoke is not None or args.step is not None):
        raise UsageError("--retry cannot be combined with --invoke or --step")


def _check_quiet(args: argparse.Namespace) -> None:
    """``-q`` is quiet progress; with another explicit mode it is buildx's error."""
    if args.quiet:
        if args.progress not in ("auto", "quiet"):
            raise OptionsError(f"progress={args.progress} and quiet cannot be used together")
        args.progress = "quiet"


def _headless_request(args: argparse.Namespace) -> HeadlessRequest:
    return HeadlessRequest(quiet=args.progress == "quiet", rawjson=args.progress == "rawjson",
                           invoke=args.invoke,
                           iidfile=args.iidfile, metadata_file=args.metadata_file,
                           on_always=args.on == "always", state=_state(args), step=args.step,
                           diff=args.diff, toolbox=args.toolbox, retry=args.retry,
                           write_back=args.write_back,
                           copy_out=_copy_requests(args), overwrite=args.overwrite,
                           breaks=tuple(args.breaks))


def _copy_requests(args: argparse.Namespace) -> tuple[CopyRequest, ...]:
    """``--copy-out`` values, checked before the build (an existing DEST is refused now)."""
    reqs = tuple(parse_copy_out(v) for v in args.copy_out)
    for req in reqs:
        if not args.overwrite and os.path.lexists(req.dest):
            raise OptionsError(f"--copy-out: {req.dest} already exists (--overwrite replaces it)")
    return reqs


def _state(args: argparse.Namespace) -> StateKind:
    return StateKind.INITIAL if args.initial else StateKind.FINAL


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
        enable_debug_log(stream=sys.stderr if path is None else None, path=path)
    except OSError as exc:
        raise OptionsError(f"cannot write the debug log: {exc}") from None
    words = list(sys.argv[1:] if argv is None else argv)
    LOG.debug("bxtui %s, python %s: %s", _version(), sys.version.split()[0],
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
    if args.copy_out:
        return False
    return args.progress == "auto" and sys.stdin.isatty() and sys.stdout.isatty()


async def _app(args: argparse.Namespace, opts: BuildOptions) -> int:
    """The Textual app (imported only here: the headless modes never load Textual)."""
    from tui.buildkit.aio import cancel_child
    from tui.debug.engine.session import LATER_MODULES
    from tui.debug.model.invoke import parse_invoke

    cfg = parse_invoke(args.invoke) if args.invoke is not None else None
    session = _address(args).session(opts, cfg, toolbox=args.toolbox)
    session.set_breakpoints(args.breaks, toggles=True)
    auto_open = (_state(args), args.on == "always") if args.invoke is not None else None
    # The build starts at once; Textual (~0.3 s of imports) loads in a thread meanwhile, so
    # the daemon works while Python imports.
    session.start()
    files = None
    if args.iidfile or args.metadata_file:
        files = asyncio.create_task(_result_files_when_built(session, args))
    try:
        for name in LATER_MODULES:
            await asyncio.to_thread(importlib.import_module, name)
        run = await asyncio.to_thread(importlib.import_module, "tui.ui.run")
    except BaseException:
        if files is not None:
            await cancel_child(files)
        await session.done()
        raise
    code: int = await run.run_app(session, args.context, auto_open=auto_open,
                                  open_step=args.step, show_diff=args.diff,
                                  watch=args.watch)
    if files is not None:
        if not files.done():  # the app closed before the build finished
            await cancel_child(files)
        elif error := files.result():
            raise OptionsError(error)
    return code


async def _result_files_when_built(session: DebugSession, args: argparse.Namespace) -> str:
    """Once the build has succeeded, ``--iidfile`` and ``--metadata-file``; the error or ``""``.

    Written as soon as the build has succeeded (as buildx does), while the app stays open.
    """
    outcome = await session.wait_finished()
    if not isinstance(outcome, Succeeded):
        return ""
    from tui.debug.model.buildmeta import write_result_files

    try:
        await asyncio.to_thread(write_result_files, dict(outcome.success.exporter),
                                args.iidfile, args.metadata_file)
    except OSError as exc:
        return str(exc)
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``bxtui`` console script."""
    parser = _build_parser()
    try:
        args = parser.parse_args(argv)
        if args.version or args.command == "version":
            print(f"bxtui {_version()}")
            return 0
        if args.command != "build":
            parser.print_help(sys.stderr)
            return 2
        _check_retry(args)
        if args.watch and args.dockerfile == "-":
            raise UsageError("--watch needs a Dockerfile on disk (not -f -)")
        with ExitStack() as stack:
            if args.dockerfile == "-":
                args.dockerfile = stack.enter_context(dockerfile_from_stdin(sys.stdin.buffer))
            return _run(args, argv)
    except UsageError as exc:
        print(f"bxtui: {exc} (see 'bxtui build --help')", file=sys.stderr)
        return 2
    except OptionsError as exc:  # InvokeError and a bad address included
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
    flush_debug_log()
    os._exit(code)


def _run(args: argparse.Namespace, argv: Sequence[str] | None) -> int:
    """``bxtui build``: the app or the headless build, with validated options."""
    opts = _options(args)
    _check_quiet(args)
    if args.iidfile:
        from tui.debug.model.buildmeta import remove_stale

        try:
            remove_stale(args.iidfile, "image ID file")
        except OSError as exc:
            raise OptionsError(str(exc)) from None
    if args.invoke is not None:
        from tui.debug.model.invoke import parse_invoke

        parse_invoke(args.invoke)  # a bad value is a one-line error before anything runs
    if args.call != "build":  # a sub-request is always headless
        from tui.debug.engine.subrequest import parse_call
        from tui.debug.headless.call import run_call_headless

        call = parse_call(args.call)
        if call is not None:
            _enable_debug(args, False, argv)
            return asyncio.run(_interruptible(run_call_headless(
                _address(args), opts, call, sys.stdout, sys.stderr,
                progress=args.progress not in ("quiet", "rawjson"))))
    app = _use_app(args) and args.retry is None  # --retry is headless
    if app and args.copy_out:
        raise OptionsError("--copy-out is for --progress=plain or quiet (in the app, o in the "
                           "file browser copies)")
    log_path = _enable_debug(args, app, argv)
    if app:
        # signals before the view is up (and after it closed) stop it like headless ones
        code = asyncio.run(_interruptible(_app(args, opts)))
        if log_path and not args.debug_file:
            print(f"bxtui: debug log in {log_path}", file=sys.stderr)
        return code
    if args.watch:
        from tui.debug.headless.watch import run_watching

        def build() -> Coroutine[Any, Any, int]:
            return run_headless(_address(args), opts, _headless_request(args), sys.stderr)

        return asyncio.run(_interruptible(run_watching(opts, build, sys.stderr)))
    return asyncio.run(_interruptible(run_headless(_address(args), opts,
                                                   _headless_request(args), sys.stderr)))


if __name__ == "__main__":
    entry()
