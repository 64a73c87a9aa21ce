"""``--call=check|outline|targets``: a frontend sub-request instead of a build.

The Dockerfile frontend answers ``requestid=frontend.<name>`` with a result that has no ref,
only metadata (``result.json``, ``result.txt``, ``result.statuscode``); nothing is exported.
BuildKit's ``frontend/subrequests`` and buildx's ``build/build.go`` define the exchange.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from tui.buildkit.errors import BuildError
from tui.buildkit.proto import gateway_pb2
from tui.debug.engine.build import OwnNames, gateway_build, setup_for
from tui.debug.model.usage import OptionsError

if TYPE_CHECKING:
    from tui.buildkit.client import BuildkitClient
    from tui.buildkit.gateway import Gateway
    from tui.debug.engine.build import StatusCallback
    from tui.debug.engine.options import BuildOptions

__all__ = ["CallRequest", "CallResult", "CallUnsupported", "parse_call", "run_call"]

#: The capability that lets a ``# syntax=`` frontend forward sub-requests (buildx sets it).
FORWARD_CAP = "moby.buildkit.frontend.subrequests+forward"


#: The names buildx knows, and the request id each is sent as (``check`` is the lint request).
KNOWN_CALLS = {"check": "frontend.lint", "outline": "frontend.outline",
               "targets": "frontend.targets"}


@dataclass(frozen=True)
class CallRequest:
    """A parsed ``--call`` value: the sub-request's name, ``format=`` and ``ignorestatus=``."""

    name: str
    format: str = ""
    ignore_status: bool = False

    @property
    def request_id(self) -> str:
        """The ``requestid`` frontend option (an unknown name is the frontend's to refuse)."""
        return KNOWN_CALLS.get(self.name, f"frontend.{self.name}")

    @property
    def known(self) -> bool:
        """Whether buildx knows the name (check, outline, targets)."""
        return self.name in KNOWN_CALLS


def parse_call(spec: str) -> CallRequest | None:
    """``NAME[,format=json|text][,ignorestatus=true]``; None for ``build`` (a plain build).

    An unknown NAME is the frontend's to refuse (as with buildx); bad keys raise OptionsError.
    """
    name, *rest = spec.split(",")
    fmt, ignore = "", False
    for part in rest:
        key, sep, value = part.partition("=")
        if not sep:
            raise OptionsError(f"invalid --call {spec!r}: expected key=value, got {part!r}")
        if key == "format":
            if value not in ("json", "text", ""):
                raise OptionsError(f"invalid --call format {value!r} (json or text)")
            fmt = value
        elif key == "ignorestatus":
            if value.lower() not in ("true", "false", "1", "0"):
                raise OptionsError(f"invalid --call ignorestatus {value!r}")
            ignore = value.lower() in ("true", "1")
        else:
            raise OptionsError(f"invalid --call {spec!r}: unknown key {key!r}")
    if name in ("", "build"):
        return None
    return CallRequest(name, fmt, ignore)


class CallUnsupported(Exception):
    """The daemon's frontend does not know the sub-request (one line)."""


@dataclass(frozen=True)
class CallResult:
    """The frontend's answer: its metadata (``result.json``, ``result.txt``, ...)."""

    call: CallRequest
    metadata: Mapping[str, bytes]

    @property
    def status_code(self) -> int:
        """``result.statuscode`` (lint: 1 with warnings), 0 when absent."""
        raw = self.metadata.get("result.statuscode", b"0").decode("ascii", "replace").strip()
        return int(raw) if raw.lstrip("-").isdigit() else 0


def call_frontend_opts(attrs: Mapping[str, str], call: CallRequest) -> dict[str, str]:
    """The frontend options of a build plus the sub-request and the forwarding capability."""
    out = dict(attrs)
    out["requestid"] = call.request_id
    caps = [c for c in out.get("frontend.caps", "").split(",") if c]
    if FORWARD_CAP not in caps:
        caps.append(FORWARD_CAP)
    out["frontend.caps"] = ",".join(caps)
    return out


async def run_call(client: BuildkitClient, opts: BuildOptions, call: CallRequest,
                   on_status: StatusCallback | None = None) -> CallResult:
    """Ask the Dockerfile frontend ``call``'s sub-request; no exporters, nothing built.

    Raises CallUnsupported when the frontend does not know it, BuildError otherwise.
    """
    from tui.debug.engine.options import DOCKERFILE_FRONTEND

    setup = setup_for(opts, engine=client.endpoint.kind == "docker")
    setup = replace(setup, exporters=[], export_targets=[],
                    frontend_attrs=call_frontend_opts(setup.frontend_attrs, call))
    answer: dict[str, bytes] = {}

    async def ask(gw: Gateway) -> gateway_pb2.Result:
        await gw.ping()
        res = await gw.solve(frontend=DOCKERFILE_FRONTEND, frontend_opt=setup.frontend_attrs,
                             evaluate=False)
        answer.update(res.metadata)
        return gateway_pb2.Result()

    try:
        await gateway_build(client, setup, ask, OwnNames(on_status))
    except BuildError as err:
        rid = call.request_id
        if call.known and (rid in err.subrequests or f"unsupported request {rid}" in err.message):
            raise CallUnsupported(unsupported_message(call)) from None
        raise
    return CallResult(call, answer)


def unsupported_message(call: CallRequest) -> str:
    """The one line for a sub-request the daemon's frontend does not know."""
    if call.name == "check":
        return ("the daemon's Dockerfile frontend does not support --call=check (lint needs "
                "BuildKit 0.14 / Docker Engine 27 or later)")
    return f"the daemon's Dockerfile frontend does not support --call={call.name}"
