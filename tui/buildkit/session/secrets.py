"""Build secrets (``--secret id=..,src=..|env=..``) served to the daemon on request."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import grpc

from tui.buildkit import debuglog
from tui.buildkit.proto import secrets_pb2, secrets_pb2_grpc
from tui.buildkit.session.rpc import abort


class SecretSpecError(ValueError):
    """A malformed ``--secret`` value."""


@dataclass(frozen=True)
class SecretSource:
    """Where one secret's bytes come from: a file or an environment variable."""

    id: str
    file: str | None = None
    env: str | None = None

    def read(self, environ: Mapping[str, str]) -> bytes | None:
        """The secret's bytes, or None when its source is missing."""
        if self.env is not None:
            value = environ.get(self.env)
            return None if value is None else value.encode()
        if self.file is not None:
            try:
                return Path(self.file).read_bytes()
            except OSError:
                return None
        return None


def parse_secret(spec: str) -> SecretSource:
    """Parse buildx's ``id=ID[,type=file|env][,src=PATH|source=PATH][,env=VAR]``."""
    fields: dict[str, str] = {}
    for part in spec.split(","):
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep:
            raise SecretSpecError(f"invalid --secret {spec!r}: expected key=value, got {part!r}")
        if key not in ("id", "type", "src", "source", "env"):
            raise SecretSpecError(f"invalid --secret {spec!r}: unknown key {key!r}")
        fields[key] = value
    sid = fields.get("id")
    if not sid:
        raise SecretSpecError(f"invalid --secret {spec!r}: id is required")
    kind = fields.get("type", "")
    src = fields.get("src") or fields.get("source")
    env = fields.get("env")
    if kind not in ("", "file", "env"):
        raise SecretSpecError(f"invalid --secret {spec!r}: type must be file or env")
    if kind == "env" or (env and not src):
        return SecretSource(sid, env=env or src or sid)
    if src:
        return SecretSource(sid, file=src)
    # buildx: with only an id, an environment variable of that name, else a file of that name.
    if sid in os.environ:
        return SecretSource(sid, env=sid)
    return SecretSource(sid, file=sid)


class SecretsService(secrets_pb2_grpc.SecretsServicer):
    """Serves GetSecret from the configured sources; unknown ids are NOT_FOUND."""

    def __init__(self, sources: Mapping[str, SecretSource], environ: Mapping[str, str]) -> None:
        self._sources = dict(sources)
        self._environ = environ

    async def GetSecret(
        self, request: secrets_pb2.GetSecretRequest, context: grpc.aio.ServicerContext
    ) -> secrets_pb2.GetSecretResponse:
        """Return the secret's bytes (never logged)."""
        src = self._sources.get(request.ID)
        data = src.read(self._environ) if src else None
        debuglog.LOG.debug("session: secret %r asked for: %s", request.ID,
                           "found" if data is not None else "not found")
        if data is not None:
            debuglog.register_secret(data)
        if data is None:
            await abort(context, grpc.StatusCode.NOT_FOUND, f"secret {request.ID} not found")
        return secrets_pb2.GetSecretResponse(data=data)
