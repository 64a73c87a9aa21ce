"""``bxtui build --call=...`` headless: progress on stderr, the frontend's answer on stdout.

The answer is printed as buildx's ``printResult`` does (``commands/build.go``): ``check``
heads the frontend's pre-rendered ``result.txt`` with ``Check complete, ...``; ``outline`` and
``targets`` print ``result.txt``; ``format=json`` prints ``result.json``.  The exit status
is ``result.statuscode`` (1 when the check found warnings) unless ``ignorestatus=true``.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, TextIO

from tui.buildkit.errors import BuildError, error_message
from tui.debug.engine.subrequest import CallResult, CallUnsupported, run_call
from tui.debug.headless.plain import PlainPrinter

if TYPE_CHECKING:
    from tui.debug.engine.launch import BuilderAddress
    from tui.debug.engine.options import BuildOptions
    from tui.debug.engine.subrequest import CallRequest

__all__ = ["render_call", "run_call_headless"]


def _check_heading(result: CallResult) -> str:
    """``Check complete, ...``: buildx counts the warnings of ``result.json``."""
    import json

    try:
        doc = json.loads(result.metadata.get("result.json", b"{}"))
    except ValueError:
        doc = {}
    count = len(doc.get("warnings") or []) if isinstance(doc, dict) else 0
    if count == 0:
        return "Check complete, no warnings found.\n"
    if count == 1:
        return "Check complete, 1 warning has been found!\n"
    return f"Check complete, {count} warnings have been found!\n"


def _lint_text(result: CallResult, dockerfile: str) -> str:
    """The warnings with their source excerpts, the Dockerfile named as the user gave it."""
    import base64
    import json

    from tui.debug.model.snippet import format_source

    try:
        doc = json.loads(result.metadata.get("result.json", b"{}"))
        sources = [base64.b64decode(s.get("data") or "") for s in doc.get("sources") or []]
    except (ValueError, AttributeError):
        return result.metadata.get("result.txt", b"").decode("utf-8", "replace")
    out = []
    for w in doc.get("warnings") or []:
        url = f" - {w['url']}" if w.get("url") else ""
        out.append(f"\nWARNING: {w.get('ruleName', '')}{url}\n{w.get('detail', '')}\n")
        loc = w.get("location") or {}
        idx = int(loc.get("sourceIndex") or 0)
        ranges = [(int(r.get("start", {}).get("line") or 0),
                   int(r.get("end", {}).get("line") or 0)) for r in loc.get("ranges") or []]
        if 0 <= idx < len(sources):
            out.append(format_source(dockerfile, sources[idx], ranges))
    return "".join(out)


def render_call(result: CallResult, dockerfile: str = "Dockerfile") -> str:
    """What buildx prints on stdout for the frontend's answer (``dockerfile``: its path)."""
    meta = result.metadata
    if result.call.format == "json":
        text = meta.get("result.json", b"").decode("utf-8", "replace")
        return text if text.endswith("\n") or not text else text + "\n"
    if result.call.name == "check":
        return _check_heading(result) + _lint_text(result, dockerfile)
    return meta.get("result.txt", b"").decode("utf-8", "replace")


def exit_status(result: CallResult) -> int:
    """``result.statuscode`` unless ``ignorestatus=true`` (then 0)."""
    return 0 if result.call.ignore_status else result.status_code


async def run_call_headless(address: BuilderAddress, opts: BuildOptions, call: CallRequest,
                            out: TextIO, err: TextIO, *, progress: bool = True) -> int:
    """Ask the sub-request; progress and errors on ``err``, the answer on ``out``."""
    from tui.buildkit.client import BuildkitClient
    from tui.buildkit.relay import DaemonUnreachable
    from tui.debug.engine.launch import resolve_endpoint

    endpoint = resolve_endpoint(address)
    printer = PlainPrinter(err) if progress else None
    try:
        client = await BuildkitClient.open(endpoint)
    except DaemonUnreachable as exc:
        err.write(f"ERROR: {exc}\n")
        return 1
    try:
        if printer is not None:
            err.write(f"#0 building with {endpoint.describe()}\n\n")
        result = await run_call(client, opts, call, printer.feed if printer else None)
    except CallUnsupported as exc:
        _finish(printer)
        err.write(f"ERROR: {exc}\n")
        return 1
    except BuildError as exc:
        _finish(printer)
        err.write(f"ERROR: {error_message(exc)}\n")
        return 1
    finally:
        await asyncio.shield(client.close())
    _finish(printer)
    out.write(render_call(result, shown_dockerfile(opts)))
    out.flush()
    return exit_status(result)


def shown_dockerfile(opts: BuildOptions) -> str:
    """The Dockerfile's path as buildx names it in the check's excerpts."""
    import os

    return os.path.normpath(opts.dockerfile or os.path.join(opts.context, opts.dockerfile_name))


def _finish(printer: PlainPrinter | None) -> None:
    if printer is not None:
        printer.finish()
