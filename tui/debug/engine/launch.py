"""What the command line hands the engine: where to build, secrets, the debug log.

The command line only parses arguments and picks a front-end; the wire (addresses, TLS,
clients, secret specs, the log's handlers) is set up here, once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

from tui.buildkit import debuglog
from tui.buildkit.address import AddressError, TLSFiles, resolve_builder
from tui.debug.engine.options import BuildOptions
from tui.debug.model.usage import OptionsError

if TYPE_CHECKING:
    from tui.buildkit.address import Endpoint
    from tui.buildkit.session.secrets import SecretSource
    from tui.buildkit.session.sshforward import AgentSource
    from tui.debug.engine.build import StatusCallback
    from tui.debug.engine.session import DebugSession
    from tui.debug.model.invoke import InvokeConfig

__all__ = ["BuilderAddress", "enable_debug_log", "flush_debug_log", "parse_secrets",
           "parse_ssh_specs", "resolve_endpoint"]


@dataclass(frozen=True)
class BuilderAddress:
    """Where to build, as ``--builder`` / ``--addr`` / ``--tls*`` say (all optional)."""

    addr: str | None = None
    builder: str | None = None
    tlscacert: str | None = None
    tlscert: str | None = None
    tlskey: str | None = None
    tlsservername: str | None = None

    def session(self, opts: BuildOptions, invoke: InvokeConfig | None = None, *,
                toolbox: str | None = None, keep: bool = True, log_cap: int | None = None,
                on_status: StatusCallback | None = None,
                on_connected: Callable[[str], None] | None = None) -> DebugSession:
        """A session building ``opts`` there (not started; see :class:`DebugSession`).

        Raises OptionsError (one line) when the address cannot be resolved; whether the
        daemon answers is the session's outcome.  ``on_connected`` gets the builder's
        description once the daemon has answered.
        """
        from tui.buildkit.client import BuildkitClient
        from tui.debug.engine.session import APP_LOG_CAP, DebugSession

        endpoint = resolve_endpoint(self)
        where = endpoint.describe()
        connected = (lambda: on_connected(where)) if on_connected is not None else None
        return DebugSession(opts, lambda: BuildkitClient.open(endpoint), invoke,
                            builder=where, toolbox=toolbox, keep=keep,
                            log_cap=APP_LOG_CAP if log_cap is None else log_cap,
                            on_status=on_status, on_connected=connected)


def resolve_endpoint(address: BuilderAddress) -> Endpoint:
    """The endpoint ``address`` names (OptionsError, one line, when it cannot be resolved)."""
    tls = None
    if address.tlscacert or address.tlscert or address.tlskey:
        tls = TLSFiles(address.tlscacert, address.tlscert, address.tlskey,
                       address.tlsservername)
    try:
        return resolve_builder(addr=address.addr, builder=address.builder, tls=tls)
    except AddressError as exc:
        raise OptionsError(str(exc)) from None


def parse_secrets(specs: Sequence[str]) -> list[SecretSource]:
    """``--secret`` values (OptionsError for a bad one)."""
    if not specs:
        return []
    from tui.buildkit.session.secrets import SecretSpecError, parse_secret

    try:
        return [parse_secret(s) for s in specs]
    except SecretSpecError as exc:
        raise OptionsError(str(exc)) from None


def parse_ssh_specs(specs: Sequence[str], environ: Mapping[str, str]) -> dict[str, AgentSource]:
    """``--ssh`` values resolved to agent sockets by ID (OptionsError for a bad one)."""
    if not specs:
        return {}
    from tui.buildkit.session.sshforward import SSHSpecError, parse_ssh

    try:
        return parse_ssh(specs, environ)
    except SSHSpecError as exc:
        raise OptionsError(str(exc)) from None


def enable_debug_log(stream: TextIO | None = None, path: str | None = None) -> None:
    """Write the debug log (secrets redacted) to ``stream`` or the file ``path``."""
    debuglog.enable(stream=stream, path=path)


def flush_debug_log() -> None:
    """Flush the debug log's handlers."""
    debuglog.flush()
