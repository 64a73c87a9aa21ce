"""``--call`` parsing and rendering as buildx's ``printResult`` (no daemon)."""

from __future__ import annotations

import base64
import json

import pytest

from tui.debug.engine.subrequest import CallResult, call_frontend_opts, parse_call
from tui.debug.headless.call import exit_status, render_call
from tui.debug.model.usage import OptionsError

SRC = b"FROM busybox:local as base\nCMD echo hi\n"


def _lint(n: int) -> dict[str, bytes]:
    ws = [{"ruleName": f"R{i}", "url": f"https://x/{i}", "detail": f"d{i}",
           "location": {"ranges": [{"start": {"line": 1}, "end": {"line": 1}}]}}
          for i in range(n)]
    doc = {"warnings": ws, "sources": [{"filename": "Dockerfile",
                                         "data": base64.b64encode(SRC).decode()}]}
    return {"result.json": json.dumps(doc).encode(), "result.statuscode": b"1" if n else b"0"}


def test_parse_call() -> None:
    assert parse_call("build") is None
    call = parse_call("check,ignorestatus=true,format=json")
    assert call is not None and (call.request_id, call.format, call.ignore_status) == \
        ("frontend.lint", "json", True)
    bogus = parse_call("bogus")
    assert bogus is not None and bogus.request_id == "frontend.bogus" and not bogus.known
    for bad in ("check,foo=bar", "check,format=yaml", "outline,x"):
        with pytest.raises(OptionsError):
            parse_call(bad)


def test_forward_capability_added_once() -> None:
    call = parse_call("targets")
    assert call is not None
    opts = call_frontend_opts({"frontend.caps": "a"}, call)
    assert opts["requestid"] == "frontend.targets"
    assert opts["frontend.caps"] == "a,moby.buildkit.frontend.subrequests+forward"


@pytest.mark.parametrize(("n", "head"), [
    (0, "Check complete, no warnings found.\n"),
    (1, "Check complete, 1 warning has been found!\n"),
    (2, "Check complete, 2 warnings have been found!\n"),
])
def test_check_rendering(n: int, head: str) -> None:
    call = parse_call("check")
    assert call is not None
    res = CallResult(call, _lint(n))
    text = render_call(res, "sub/Dockerfile")
    assert text.startswith(head)
    assert text.count("\nWARNING: R") == n
    if n:
        assert "\nWARNING: R0 - https://x/0\nd0\nsub/Dockerfile:1\n" in text
        assert " >>> FROM busybox:local as base\n" in text
    assert exit_status(res) == (1 if n else 0)
    ignoring = parse_call("check,ignorestatus=true")
    assert ignoring is not None and exit_status(CallResult(ignoring, _lint(n))) == 0


def test_outline_text_and_json() -> None:
    meta = {"result.txt": b"TARGET: x\n", "result.json": b'{"name": "x"}'}
    text, js = parse_call("outline"), parse_call("outline,format=json")
    assert text is not None and js is not None
    assert render_call(CallResult(text, meta)) == "TARGET: x\n"
    assert render_call(CallResult(js, meta)) == '{"name": "x"}\n'
